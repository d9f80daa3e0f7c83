/*
 * ct_state.c — see ct_state.h. Both files are replaced atomically
 * (util/fs), so a reader sees the old record or the new one. They are not
 * synced: a record describes processes, which a host crash ends anyway (a
 * record left empty by one reads as damaged; ct rm --force removes it).
 */
#define _GNU_SOURCE
#include "ct_state.h"

#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ct_status_name(enum ct_status s)
{
	static const char *const names[] = {"created", "running", "paused", "stopped"};
	return names[s];
}

static bool containers_dir(char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/containers", cloison_state_dir());
	return n > 0 && (size_t)n < len;
}

bool ct_dir(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/containers/%s", cloison_state_dir(), name);
	return n > 0 && (size_t)n < len;
}

static bool write_json(const char *name, const char *file, json_t *j, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	if (!ct_dir(name, dir, sizeof(dir))) {
		snprintf(err, errlen, "state directory path too long");
		json_decref(j);
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	bool ok = fs_write_file_volatile(path, 0600, text, strlen(text), err, errlen);
	free(text);
	return ok;
}

bool ct_record_create(const struct ct_spec *s, char *err, size_t errlen)
{
	char parent[PATH_MAX], dir[PATH_MAX];
	if (!containers_dir(parent, sizeof(parent)) || !ct_dir(s->name, dir, sizeof(dir))) {
		snprintf(err, errlen, "state directory path too long");
		return false;
	}
	if (!mkdir_p(parent, 0700)) {
		snprintf(err, errlen, "cannot create %.300s: %s", parent, strerror(errno));
		return false;
	}
	if (mkdir(dir, 0700)) {
		if (errno == EEXIST)
			snprintf(err, errlen, "a container named '%s' exists (cloison ct rm %s removes it)",
			         s->name, s->name);
		else
			snprintf(err, errlen, "cannot create %.300s: %s", dir, strerror(errno));
		return false;
	}
	if (!write_json(s->name, "config.json", ct_spec_to_json(s), err, errlen)) {
		rmdir(dir);
		return false;
	}
	return true;
}

static json_t *cgroup_json(const struct cg_group *g)
{
	json_t *o = json_object();
	for (int r = 0; r < CG_NRES; r++) {
		if (!g->dir[r][0]) continue;
		json_object_set_new(o, cg_res_name(r),
		                    json_pack("{s:s, s:b}", "dir", g->dir[r], "v2", g->v2[r]));
	}
	return o;
}

static bool cgroup_from_json(json_t *o, struct cg_group *g)
{
	memset(g, 0, sizeof(*g));
	for (int r = 0; r < CG_NRES; r++) {
		json_t *e = json_object_get(o, cg_res_name(r));
		if (!e) continue;
		const char *dir;
		int v2;
		if (json_unpack(e, "{s:s, s:b}", "dir", &dir, "v2", &v2) ||
		    strlen(dir) >= sizeof(g->dir[r]) || strncmp(dir, "/sys/fs/cgroup", 14) ||
		    strstr(dir, "/../"))
			return false;
		strcpy(g->dir[r], dir);
		g->v2[r] = v2;
	}
	return true;
}

bool ct_runtime_save(const char *name, const struct ct_runtime *rt, char *err, size_t errlen)
{
	json_t *j = json_pack("{s:i, s:I, s:i, s:I, s:b, s:i, s:I, s:I, s:s}", "pid", (int)rt->pid,
	                      "pid_start", (json_int_t)rt->pid_start, "supervisor", (int)rt->supervisor,
	                      "supervisor_start", (json_int_t)rt->supervisor_start, "stopped", rt->stopped,
	                      "exit_code", rt->exit_code, "started_at", (json_int_t)rt->started_at,
	                      "stopped_at", (json_int_t)rt->stopped_at, "host_if", rt->host_if);
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (rt->has_cgroup) json_object_set_new(j, "cgroup", cgroup_json(&rt->cg));
	return write_json(name, "state.json", j, err, errlen);
}

static json_t *load_json(const char *dir, const char *file, bool missing_ok, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j && !(missing_ok && access(path, F_OK) && errno == ENOENT))
		snprintf(err, errlen, "%.300s: %s", path, je.text);
	return j;
}

bool ct_record_load(const char *name, struct ct_spec *s, struct ct_runtime *rt, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	memset(rt, 0, sizeof(*rt));
	rt->exit_code = -1;
	if (!ct_name_valid(name) || !ct_dir(name, dir, sizeof(dir))) {
		snprintf(err, errlen, "invalid container name '%.80s'", name);
		return false;
	}
	if (access(dir, F_OK)) {
		snprintf(err, errlen, "no container named '%s'", name);
		return false;
	}
	err[0] = 0;
	json_t *cfg = load_json(dir, "config.json", false, err, errlen);
	if (!cfg) return false;
	bool ok = ct_spec_from_json(cfg, s, err, errlen);
	json_decref(cfg);
	if (!ok) return false;
	json_t *st = load_json(dir, "state.json", true, err, errlen);
	if (!st) {
		if (err[0]) ct_spec_free(s);
		return !err[0];
	}
	int pid = 0, sup = 0, stopped = 0, code = -1;
	json_int_t ps = 0, ss = 0, sa = 0, sto = 0;
	const char *hif = "";
	json_t *cg = NULL;
	json_error_t je;
	ok = !json_unpack_ex(st, &je, 0, "{s:i, s:I, s:i, s:I, s:b, s:i, s:I, s:I, s:s, s?o}", "pid", &pid,
	                     "pid_start", &ps, "supervisor", &sup, "supervisor_start", &ss, "stopped",
	                     &stopped, "exit_code", &code, "started_at", &sa, "stopped_at", &sto, "host_if",
	                     &hif, "cgroup", &cg) &&
	     pid >= 0 && sup >= 0 && strlen(hif) < sizeof(rt->host_if);
	if (ok && cg) ok = rt->has_cgroup = cgroup_from_json(cg, &rt->cg);
	if (ok) {
		rt->pid = pid;
		rt->pid_start = (unsigned long long)ps;
		rt->supervisor = sup;
		rt->supervisor_start = (unsigned long long)ss;
		rt->stopped = stopped;
		rt->exit_code = code;
		rt->started_at = sa;
		rt->stopped_at = sto;
		strcpy(rt->host_if, hif);
	} else {
		snprintf(err, errlen, "%.300s/state.json is damaged", dir);
		ct_spec_free(s);
	}
	json_decref(st);
	return ok;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

bool ct_record_remove(const char *name, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	if (!ct_name_valid(name) || !ct_dir(name, dir, sizeof(dir))) {
		snprintf(err, errlen, "invalid container name '%.80s'", name);
		return false;
	}
	if (nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT)) {
		snprintf(err, errlen, "removing %.300s: %s", dir, strerror(errno));
		return false;
	}
	return true;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **ct_record_list(size_t *n)
{
	*n = 0;
	char parent[PATH_MAX];
	if (!containers_dir(parent, sizeof(parent))) return NULL;
	DIR *d = opendir(parent);
	if (!d) return NULL;
	char **names = NULL;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!ct_name_valid(e->d_name)) continue;
		if (*n == cap) {
			char **g = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
			if (!g) break;
			names = g;
		}
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (names) qsort(names, *n, sizeof(*names), cmp_names);
	return names;
}

void ct_free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) free(names[i]);
	free(names);
}

unsigned long long ct_proc_start_time(pid_t pid)
{
	if (pid <= 0) return 0;
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) return 0;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p) return 0;
	unsigned long long start = 0;
	char state = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
	 * priority nice threads itrealvalue starttime */
	if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
	           &state, &start) != 2)
		return 0;
	return state == 'Z' || state == 'X' ? 0 : start; /* exited, not yet reaped: gone */
}

bool ct_init_alive(const struct ct_runtime *rt)
{
	return rt->pid > 0 && rt->pid_start && ct_proc_start_time(rt->pid) == rt->pid_start;
}

enum ct_status ct_status_of(const struct ct_runtime *rt)
{
	if (!rt->pid) return CT_CREATED;
	if (!ct_init_alive(rt)) return CT_STOPPED;
	if (rt->has_cgroup && cg_frozen(&rt->cg) == 1) return CT_PAUSED;
	return CT_RUNNING;
}
