/*
 * cgroup.c — see cgroup.h. Plain file reads and writes under the cgroup
 * mounts; nothing here moves cloison itself.
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* v1 controller names; v2 names differ only for block I/O. CPUACCT and FREEZER are v2 core files. */
static const char *const v1_names[CG_NRES] = {"cpu", "cpuacct", "memory", "pids", "freezer", "blkio"};
static const char *const v2_names[CG_NRES] = {"cpu", NULL, "memory", "pids", NULL, "io"};

const char *cg_res_name(enum cg_res r)
{
	return v1_names[r];
}

uint64_t cg_weight_to_shares(uint32_t weight)
{
	uint64_t shares = (uint64_t)weight * 1024 / 100;
	return shares < 2 ? 2 : shares > 262144 ? 262144 : shares;
}

uint32_t cg_weight_to_blkio(uint32_t weight)
{
	/* v2 1..10000 (100 default) onto v1 10..1000 (500 default), as crun maps it. */
	uint32_t w = 10 + (uint32_t)(((uint64_t)weight - 1) * 990 / 9999);
	return w < 10 ? 10 : w > 1000 ? 1000 : w;
}

static bool list_has(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !strncmp(p, word, n)) return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* The own cgroup path in the hierarchy whose /proc/self/cgroup controller field matches. */
static bool own_path(const char *self_cgroup, bool v2, const char *ctl, char *out, size_t outlen)
{
	const char *line = self_cgroup;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[PATH_MAX + 256];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = 0;
			char *c1 = strchr(buf, ':');
			char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c2) {
				*c1 = *c2 = 0;
				bool match =
				    v2 ? (!strcmp(buf, "0") && c1[1] == 0) : list_has(c1 + 1, ctl, ',');
				if (match) {
					snprintf(out, outlen, "%s", c2 + 1);
					return true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* mount point + (own path relative to the mount's root). */
static void join_dir(char *out, size_t outlen, const char *mnt, const char *root, const char *own)
{
	size_t rl = strlen(root);
	const char *rel = own;
	if (strcmp(root, "/") && !strncmp(own, root, rl) && (own[rl] == '/' || own[rl] == 0)) rel = own + rl;
	if (!strcmp(rel, "/")) rel = "";
	snprintf(out, outlen, "%s%s", mnt, rel);
}

void cg_host_parse(struct cg_host *h, const char *mountinfo, const char *self_cgroup,
                   const char *v2_controllers)
{
	memset(h, 0, sizeof(*h));
	char v2dir[PATH_MAX] = "";
	const char *line = mountinfo;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096];
		const char *start = line;
		line = nl ? nl + 1 : NULL;
		if (len >= sizeof(buf)) continue;
		memcpy(buf, start, len);
		buf[len] = 0;
		/* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
		char *fields[6] = {0};
		char *save = NULL, *tok = strtok_r(buf, " ", &save);
		int i = 0;
		for (; tok && i < 5; i++, tok = strtok_r(NULL, " ", &save)) fields[i] = tok;
		if (i < 5) continue;
		while (tok && strcmp(tok, "-")) tok = strtok_r(NULL, " ", &save);
		if (!tok) continue;
		char *fstype = strtok_r(NULL, " ", &save);
		strtok_r(NULL, " ", &save); /* source */
		char *super = strtok_r(NULL, " ", &save);
		if (!fstype || !super) continue;
		const char *root = fields[3], *mnt = fields[4];
		char own[PATH_MAX];
		if (!strcmp(fstype, "cgroup2")) {
			if (v2dir[0] || !own_path(self_cgroup, true, NULL, own, sizeof(own))) continue;
			join_dir(v2dir, sizeof(v2dir), mnt, root, own);
		} else if (!strcmp(fstype, "cgroup")) {
			for (int r = 0; r < CG_NRES; r++) {
				if (h->dir[r][0] || !list_has(super, v1_names[r], ',')) continue;
				if (!own_path(self_cgroup, false, v1_names[r], own, sizeof(own))) continue;
				join_dir(h->dir[r], sizeof(h->dir[r]), mnt, root, own);
			}
		}
	}
	if (!v2dir[0]) return;
	for (int r = 0; r < CG_NRES; r++) {
		if (h->dir[r][0]) continue;
		bool core = v2_names[r] == NULL;
		if (core || list_has(v2_controllers, v2_names[r], ' ')) {
			snprintf(h->dir[r], sizeof(h->dir[r]), "%s", v2dir);
			h->v2[r] = true;
		}
	}
}

static char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		len += (size_t)n;
	}
	close(fd);
	if (buf) buf[len] = 0;
	return buf;
}

bool cg_host_probe(struct cg_host *h, char *err, size_t errlen)
{
	char *mi = read_text("/proc/self/mountinfo"), *sc = read_text("/proc/self/cgroup");
	if (!mi || !sc) {
		snprintf(err, errlen, "cannot read /proc/self/mountinfo or /proc/self/cgroup: %s",
		         strerror(errno));
		free(mi);
		free(sc);
		return false;
	}
	/* First pass without controllers to learn the v2 directory, then read what it may delegate. */
	cg_host_parse(h, mi, sc, "");
	char *ctl = NULL;
	for (int r = 0; r < CG_NRES; r++)
		if (h->v2[r]) {
			char path[PATH_MAX + 32];
			snprintf(path, sizeof(path), "%s/cgroup.controllers", h->dir[r]);
			ctl = read_text(path);
			break;
		}
	if (ctl) {
		ctl[strcspn(ctl, "\n")] = 0;
		cg_host_parse(h, mi, sc, ctl);
	}
	free(ctl);
	free(mi);
	free(sc);
	return true;
}

static bool needs(const struct cg_limits *l, enum cg_res r)
{
	switch (r) {
	case CG_CPU: return l->cpu_weight || l->cpu_max_pct;
	case CG_MEMORY: return l->memory != 0;
	case CG_PIDS: return l->pids != 0;
	case CG_IO: return l->io_weight != 0;
	default: return false;
	}
}

bool cg_limits_supported(const struct cg_host *h, const struct cg_limits *l, char *err, size_t errlen)
{
	for (int r = 0; r < CG_NRES; r++)
		if (needs(l, r) && !h->dir[r][0]) {
			snprintf(
			    err, errlen,
			    "the '%s' cgroup controller is not available on this host (neither a cgroup v1 "
			    "hierarchy nor the cgroup v2 one offers it to cloison's cgroup)",
			    r == CG_IO ? "io/blkio" : v1_names[r]);
			return false;
		}
	return true;
}

static bool write_file(const char *dir, const char *file, const char *value, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
		return false;
	}
	ssize_t n = write(fd, value, strlen(value));
	int e = errno;
	close(fd);
	if (n != (ssize_t)strlen(value)) {
		snprintf(err, errlen, "writing '%s' to %.300s: %s", value, path,
		         n < 0 ? strerror(e) : "short write");
		return false;
	}
	return true;
}

static bool file_exists(const char *dir, const char *file)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* Is dir[r] the first resource using its directory (so it is created/removed once)? */
static bool first_user(const char dirs[CG_NRES][PATH_MAX], int r)
{
	if (!dirs[r][0]) return false;
	for (int q = 0; q < r; q++)
		if (!strcmp(dirs[q], dirs[r])) return false;
	return true;
}

/* v2: the parent must delegate the controllers the limits need to its children. */
static bool v2_enable(const struct cg_host *h, const struct cg_limits *l, char *err, size_t errlen)
{
	for (int r = 0; r < CG_NRES; r++) {
		if (!h->v2[r] || !v2_names[r]) continue;
		char val[32];
		snprintf(val, sizeof(val), "+%s", v2_names[r]);
		if (write_file(h->dir[r], "cgroup.subtree_control", val, err, errlen)) continue;
		if (!needs(l, r)) continue; /* accounting only: go on without it */
		if (strstr(err, "Device or resource busy"))
			snprintf(
			    err, errlen,
			    "cannot delegate the '%s' controller below %.300s: that cgroup holds processes "
			    "(cgroup v2 forbids it); start cloison in a cgroup of its own, e.g. "
			    "systemd-run --scope -p Delegate=yes",
			    v2_names[r], h->dir[r]);
		return false;
	}
	return true;
}

bool cg_set_limits(const struct cg_group *g, const struct cg_limits *l, char *err, size_t errlen)
{
	char val[64];
	if (l->cpu_weight) {
		if (g->v2[CG_CPU]) {
			snprintf(val, sizeof(val), "%u", l->cpu_weight);
			if (!write_file(g->dir[CG_CPU], "cpu.weight", val, err, errlen)) return false;
		} else {
			snprintf(val, sizeof(val), "%llu",
			         (unsigned long long)cg_weight_to_shares(l->cpu_weight));
			if (!write_file(g->dir[CG_CPU], "cpu.shares", val, err, errlen)) return false;
		}
	}
	if (l->cpu_max_pct) {
		const unsigned period = 100000;
		unsigned long long quota = (unsigned long long)l->cpu_max_pct * period / 100;
		if (g->v2[CG_CPU]) {
			snprintf(val, sizeof(val), "%llu %u", quota, period);
			if (!write_file(g->dir[CG_CPU], "cpu.max", val, err, errlen)) return false;
		} else {
			snprintf(val, sizeof(val), "%u", period);
			if (!write_file(g->dir[CG_CPU], "cpu.cfs_period_us", val, err, errlen)) return false;
			snprintf(val, sizeof(val), "%llu", quota);
			if (!write_file(g->dir[CG_CPU], "cpu.cfs_quota_us", val, err, errlen)) return false;
		}
	}
	if (l->memory) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)l->memory);
		if (g->v2[CG_MEMORY]) {
			if (!write_file(g->dir[CG_MEMORY], "memory.max", val, err, errlen)) return false;
			/* No swap beyond the limit either, where swap accounting exists. */
			if (file_exists(g->dir[CG_MEMORY], "memory.swap.max"))
				write_file(g->dir[CG_MEMORY], "memory.swap.max", "0", err, errlen);
		} else {
			/* memsw must stay >= limit: raise memsw first when growing, after when shrinking. */
			bool memsw = file_exists(g->dir[CG_MEMORY], "memory.memsw.limit_in_bytes");
			if (memsw)
				write_file(g->dir[CG_MEMORY], "memory.memsw.limit_in_bytes", "-1", err,
				           errlen);
			if (!write_file(g->dir[CG_MEMORY], "memory.limit_in_bytes", val, err, errlen))
				return false;
			if (memsw &&
			    !write_file(g->dir[CG_MEMORY], "memory.memsw.limit_in_bytes", val, err, errlen))
				return false;
		}
	}
	if (l->pids) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)l->pids);
		if (!write_file(g->dir[CG_PIDS], "pids.max", val, err, errlen)) return false;
	}
	if (l->io_weight) {
		if (g->v2[CG_IO]) {
			snprintf(val, sizeof(val), "default %u", l->io_weight);
			if (!write_file(g->dir[CG_IO], "io.weight", val, err, errlen)) return false;
		} else {
			const char *file = file_exists(g->dir[CG_IO], "blkio.weight") ? "blkio.weight"
			                   : file_exists(g->dir[CG_IO], "blkio.bfq.weight")
			                       ? "blkio.bfq.weight"
			                       : NULL;
			if (!file) {
				snprintf(err, errlen,
				         "block I/O weight needs the BFQ I/O scheduler under cgroup v1 (no "
				         "blkio.weight or blkio.bfq.weight in %.300s)",
				         g->dir[CG_IO]);
				return false;
			}
			snprintf(val, sizeof(val), "%u", cg_weight_to_blkio(l->io_weight));
			if (!write_file(g->dir[CG_IO], file, val, err, errlen)) return false;
		}
	}
	return true;
}

bool cg_create(const struct cg_host *h, const char *leaf, const struct cg_limits *l, struct cg_group *g,
               char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	if (!cg_limits_supported(h, l, err, errlen)) return false;
	bool any_v2 = false;
	for (int r = 0; r < CG_NRES; r++) any_v2 |= h->v2[r];
	if (any_v2 && !v2_enable(h, l, err, errlen)) return false;
	for (int r = 0; r < CG_NRES; r++) {
		if (!h->dir[r][0]) continue;
		int n = snprintf(g->dir[r], sizeof(g->dir[r]), "%s/%s", h->dir[r], leaf);
		if (n < 0 || (size_t)n >= sizeof(g->dir[r])) {
			snprintf(err, errlen, "cgroup path too long");
			goto fail;
		}
		g->v2[r] = h->v2[r];
	}
	for (int r = 0; r < CG_NRES; r++) {
		if (!first_user(g->dir, r)) continue;
		if (mkdir(g->dir[r], 0755) == 0) continue;
		/* A leftover of an instance that died uncleanly: reuse it only if it is empty. */
		if (errno == EEXIST && rmdir(g->dir[r]) == 0 && mkdir(g->dir[r], 0755) == 0) continue;
		snprintf(err, errlen, "creating cgroup %.300s: %s", g->dir[r],
		         errno == EEXIST || errno == EBUSY ? "it exists and still has processes"
		                                           : strerror(errno));
		/* Remove only what this call made. */
		for (int q = r; q < CG_NRES; q++) g->dir[q][0] = 0;
		goto fail;
	}
	if (!cg_set_limits(g, l, err, errlen)) goto fail;
	return true;
fail : {
	char ignore[64];
	cg_destroy(g, ignore, sizeof(ignore));
	memset(g, 0, sizeof(*g));
	return false;
}
}

bool cg_open(const struct cg_host *h, const char *leaf, struct cg_group *g)
{
	memset(g, 0, sizeof(*g));
	bool any = false;
	for (int r = 0; r < CG_NRES; r++) {
		struct stat st;
		if (!h->dir[r][0]) continue;
		int n = snprintf(g->dir[r], sizeof(g->dir[r]), "%s/%s", h->dir[r], leaf);
		if (n < 0 || (size_t)n >= sizeof(g->dir[r]) || stat(g->dir[r], &st)) {
			g->dir[r][0] = 0;
			continue;
		}
		g->v2[r] = h->v2[r];
		any = true;
	}
	return any;
}

bool cg_attach(const struct cg_group *g, pid_t pid, char *err, size_t errlen)
{
	char val[32];
	snprintf(val, sizeof(val), "%d", (int)pid);
	for (int r = 0; r < CG_NRES; r++)
		if (first_user(g->dir, r) && !write_file(g->dir[r], "cgroup.procs", val, err, errlen))
			return false;
	return true;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int cg_frozen(const struct cg_group *g)
{
	if (!g->dir[CG_FREEZER][0]) return -1;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", g->dir[CG_FREEZER],
	         g->v2[CG_FREEZER] ? "cgroup.events" : "freezer.state");
	char *t = read_text(path);
	if (!t) return -1;
	int r = g->v2[CG_FREEZER] ? (strstr(t, "frozen 1") != NULL) : (strncmp(t, "FROZEN", 6) == 0);
	free(t);
	return r;
}

bool cg_freeze(const struct cg_group *g, bool frozen, char *err, size_t errlen)
{
	if (!g->dir[CG_FREEZER][0]) {
		snprintf(err, errlen,
		         "no freezer: neither the v1 'freezer' controller nor cgroup v2 is available");
		return false;
	}
	bool ok =
	    g->v2[CG_FREEZER]
	        ? write_file(g->dir[CG_FREEZER], "cgroup.freeze", frozen ? "1" : "0", err, errlen)
	        : write_file(g->dir[CG_FREEZER], "freezer.state", frozen ? "FROZEN" : "THAWED", err, errlen);
	if (!ok) return false;
	for (int i = 0; i < 2000; i++) { /* up to 10 s: a task in an uninterruptible sleep delays it */
		if (cg_frozen(g) == (int)frozen) return true;
		if (!g->v2[CG_FREEZER] && frozen) /* v1 retries the freeze when written again */
			write_file(g->dir[CG_FREEZER], "freezer.state", "FROZEN", err, errlen);
		sleep_ms(5);
	}
	snprintf(err, errlen, "the cgroup did not reach the %s state within 10 s",
	         frozen ? "frozen" : "thawed");
	return false;
}

static uint64_t read_u64(const char *dir, const char *file, bool *ok)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	char *t = read_text(path);
	if (!t) {
		if (ok) *ok = false;
		return 0;
	}
	uint64_t v = strncmp(t, "max", 3) ? strtoull(t, NULL, 10) : UINT64_MAX;
	free(t);
	if (ok) *ok = true;
	return v;
}

/* The value after "key " in a "key value" per line file. */
static uint64_t keyed(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, key, kl) && p[kl] == ' ') return strtoull(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p) p++;
	}
	return 0;
}

static char *read_in(const char *dir, const char *file)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return read_text(path);
}

/* Sums the "Read" and "Write" lines of a v1 blkio file ("MAJ:MIN Op VALUE" per line). */
static void sum_blkio(const char *dir, const char *file, uint64_t *read, uint64_t *write)
{
	char *t = read_in(dir, file);
	for (const char *p = t; p && *p;) {
		char dev[32], op[16];
		unsigned long long v;
		if (sscanf(p, "%31s %15s %llu", dev, op, &v) == 3) {
			if (!strcmp(op, "Read")) *read += v;
			if (!strcmp(op, "Write")) *write += v;
		}
		p = strchr(p, '\n');
		if (p) p++;
	}
	free(t);
}

static void read_io_v1(const char *dir, struct cg_stats *s)
{
	sum_blkio(dir, "blkio.throttle.io_service_bytes_recursive", &s->io_read_bytes, &s->io_write_bytes);
	sum_blkio(dir, "blkio.throttle.io_serviced_recursive", &s->io_read_ops, &s->io_write_ops);
}

static void read_io_v2(const char *dir, struct cg_stats *s)
{
	char *t = read_in(dir, "io.stat");
	for (const char *p = t; p && *p;) {
		const char *end = strchr(p, '\n');
		for (const char *q = p; q && *q && (!end || q < end); q++) {
			unsigned long long v;
			if (sscanf(q, "rbytes=%llu", &v) == 1) s->io_read_bytes += v;
			if (sscanf(q, "wbytes=%llu", &v) == 1) s->io_write_bytes += v;
			if (sscanf(q, "rios=%llu", &v) == 1) s->io_read_ops += v;
			if (sscanf(q, "wios=%llu", &v) == 1) s->io_write_ops += v;
			q = strchr(q, ' ');
			if (!q) break;
		}
		p = end ? end + 1 : NULL;
	}
	free(t);
}

bool cg_read_stats(const struct cg_group *g, struct cg_stats *s)
{
	memset(s, 0, sizeof(*s));
	bool ok = false;
	if (g->dir[CG_CPUACCT][0]) {
		if (g->v2[CG_CPUACCT]) {
			char *t = read_in(g->dir[CG_CPUACCT], "cpu.stat");
			if (t) {
				s->cpu_usage_ns = keyed(t, "usage_usec") * 1000;
				s->cpu_user_ns = keyed(t, "user_usec") * 1000;
				s->cpu_system_ns = keyed(t, "system_usec") * 1000;
				s->throttled_periods = keyed(t, "nr_throttled");
				s->throttled_ns = keyed(t, "throttled_usec") * 1000;
				s->have[CG_CPUACCT] = ok = true;
			}
			free(t);
		} else {
			s->cpu_usage_ns = read_u64(g->dir[CG_CPUACCT], "cpuacct.usage", &s->have[CG_CPUACCT]);
			char *t = read_in(g->dir[CG_CPUACCT], "cpuacct.stat");
			if (t) {
				long hz = sysconf(_SC_CLK_TCK);
				if (hz <= 0) hz = 100;
				s->cpu_user_ns = keyed(t, "user") * (1000000000ull / (uint64_t)hz);
				s->cpu_system_ns = keyed(t, "system") * (1000000000ull / (uint64_t)hz);
			}
			free(t);
			ok |= s->have[CG_CPUACCT];
		}
	}
	if (g->dir[CG_CPU][0] && !g->v2[CG_CPU]) {
		char *t = read_in(g->dir[CG_CPU], "cpu.stat");
		if (t) {
			s->throttled_periods = keyed(t, "nr_throttled");
			s->throttled_ns = keyed(t, "throttled_time");
			s->have[CG_CPU] = true;
		}
		free(t);
	}
	if (g->dir[CG_MEMORY][0]) {
		const char *d = g->dir[CG_MEMORY];
		if (g->v2[CG_MEMORY]) {
			s->memory_bytes = read_u64(d, "memory.current", &s->have[CG_MEMORY]);
			s->memory_peak_bytes = read_u64(d, "memory.peak", NULL);
			s->memory_limit = read_u64(d, "memory.max", NULL);
			char *t = read_in(d, "memory.events");
			if (t) s->oom_kills = keyed(t, "oom_kill");
			free(t);
		} else {
			s->memory_bytes = read_u64(d, "memory.usage_in_bytes", &s->have[CG_MEMORY]);
			s->memory_peak_bytes = read_u64(d, "memory.max_usage_in_bytes", NULL);
			s->memory_limit = read_u64(d, "memory.limit_in_bytes", NULL);
			char *t = read_in(d, "memory.oom_control");
			if (t) s->oom_kills = keyed(t, "oom_kill");
			free(t);
		}
		ok |= s->have[CG_MEMORY];
	}
	if (g->dir[CG_PIDS][0]) {
		s->pids = read_u64(g->dir[CG_PIDS], "pids.current", &s->have[CG_PIDS]);
		s->pids_limit = read_u64(g->dir[CG_PIDS], "pids.max", NULL);
		ok |= s->have[CG_PIDS];
	}
	if (g->dir[CG_IO][0]) {
		if (g->v2[CG_IO])
			read_io_v2(g->dir[CG_IO], s);
		else
			read_io_v1(g->dir[CG_IO], s);
		s->have[CG_IO] = true;
	}
	return ok;
}

void cg_kill_all(const struct cg_group *g, int sig)
{
	for (int r = 0; r < CG_NRES; r++) {
		if (!g->dir[r][0]) continue;
		if (g->v2[r] && sig == SIGKILL && file_exists(g->dir[r], "cgroup.kill")) {
			char ignore[64];
			write_file(g->dir[r], "cgroup.kill", "1", ignore, sizeof(ignore));
			return;
		}
		char *t = read_in(g->dir[r], "cgroup.procs");
		if (!t) continue;
		for (char *p = t; *p;) {
			long pid = strtol(p, &p, 10);
			if (pid > 0) kill((pid_t)pid, sig);
			while (*p == '\n') p++;
			if (*p && (*p < '0' || *p > '9')) break;
		}
		free(t);
		return;
	}
}

bool cg_destroy(const struct cg_group *g, char *err, size_t errlen)
{
	bool ok = true;
	for (int r = 0; r < CG_NRES; r++) {
		if (!first_user(g->dir, r)) continue;
		int i = 0;
		while (rmdir(g->dir[r]) && errno == EBUSY && i++ < 200) sleep_ms(5);
		if (access(g->dir[r], F_OK) == 0) {
			snprintf(err, errlen, "removing cgroup %.300s: %s", g->dir[r], strerror(errno));
			ok = false;
		}
	}
	return ok;
}
