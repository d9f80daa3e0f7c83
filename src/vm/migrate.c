/*
 * migrate.c — moving a VM to another cloison process over TCP.
 *
 * Live (pre-copy): the source turns on dirty-page tracking, sends every
 * non-zero page, then in rounds the pages written meanwhile, until a round
 * is small enough; then it pauses the VM (disks flushed), sends the last
 * dirty pages and the device state, and waits. The destination loads it,
 * starts the guest and confirms; only then does the source stop. Any error
 * before the confirmation resumes the source.
 *
 * Stream (docs/formats.md): "CLMIGRAT", u32 version, u32 flags, then
 * records of {u32 type, u32 count, u64 arg} followed by their payload; the
 * destination answers "OK\n" or "ER message\n". Cold migration sends a
 * saved directory through the same stream.
 */
#define _GNU_SOURCE
#include "vm.h"

#include "ram_scan.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MIGRATE_MAGIC "CLMIGRAT"
#define MIGRATE_VERSION 1
#define PAGE 4096ULL
#define RUN_MAX_PAGES 256      /* pages per record */
#define ROUNDS_MAX 30          /* then stop and copy whatever is left */
#define FINAL_ROUND_PAGES 2048 /* 8 MiB: small enough to send with the VM paused */
#define CONFIG_MAX (64 * 1024)
#define STATE_MAX (16u << 20)
#define IO_TIMEOUT_MS 30000

enum rec_type {
	REC_CONFIG = 1,
	REC_PAGES = 2,
	REC_ZERO = 3,
	REC_STATE = 4,
	REC_END = 5,
	REC_SYNC = 6,
	REC_DISK = 7,      /* count: disk index, arg: file size; its data records follow */
	REC_DISK_DATA = 8, /* count: bytes (<= DISK_CHUNK), arg: offset; payload: the bytes */
};
#define DISK_CHUNK (1u << 20)
#define DISK_MAX_SIZE (1ULL << 42)

struct rec {
	uint32_t type, count;
	uint64_t arg;
};

struct link {
	int fd;
	uint64_t bytes;
};

static bool send_all(struct link *l, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(l->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return false;
		p += n;
		len -= (size_t)n;
		l->bytes += (uint64_t)n;
	}
	return true;
}

static bool send_rec(struct link *l, uint32_t type, uint32_t count, uint64_t arg, const void *payload,
                     size_t len)
{
	struct rec r = {type, count, arg};
	return send_all(l, &r, sizeof(r)) && (!len || send_all(l, payload, len));
}

/* Reads exactly len bytes, waiting at most IO_TIMEOUT_MS for each piece. */
static bool recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		struct pollfd pf = {fd, POLLIN, 0};
		int r = poll(&pf, 1, IO_TIMEOUT_MS);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return false;
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Sends the pages whose bits are set (all pages when bits is NULL), runs of non-zero pages as PAGES
 * records; zero pages as ZERO records unless skip_zero (the destination starts zeroed). */
static bool send_pages(struct link *l, const uint8_t *ram, uint64_t npages, const uint64_t *bits,
                       bool skip_zero, uint64_t *sent)
{
	for (uint64_t p = 0; p < npages;) {
		if (bits && !(bits[p / 64] >> (p % 64) & 1)) {
			if (!bits[p / 64] && p % 64 == 0)
				p += 64;
			else
				p++;
			continue;
		}
		bool zero = ram_page_is_zero(ram + p * PAGE);
		uint64_t q = p + 1;
		while (q < npages && q - p < RUN_MAX_PAGES && (!bits || (bits[q / 64] >> (q % 64) & 1)) &&
		       ram_page_is_zero(ram + q * PAGE) == zero)
			q++;
		uint32_t n = (uint32_t)(q - p);
		if (!zero) {
			if (!send_rec(l, REC_PAGES, n, p, ram + p * PAGE, n * PAGE)) return false;
			*sent += n;
		} else if (!skip_zero) {
			if (!send_rec(l, REC_ZERO, n, p, NULL, 0)) return false;
			*sent += n;
		}
		p = q;
	}
	return true;
}

/* Sends a disk image file: its size, then its data extents (holes stay holes). */
static bool send_disk(struct link *l, unsigned index, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		snprintf(err, errlen, "cannot read disk %s: %s", path, strerror(errno));
		if (fd >= 0) close(fd);
		return false;
	}
	static uint8_t buf[DISK_CHUNK];
	bool ok = send_rec(l, REC_DISK, index, (uint64_t)sb.st_size, NULL, 0);
	off_t off = 0;
	while (ok && off < sb.st_size) {
		off_t data = lseek(fd, off, SEEK_DATA);
		if (data < 0) break; /* only a hole is left */
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0) hole = sb.st_size;
		for (off = data; ok && off < hole;) {
			size_t n = hole - off < (off_t)DISK_CHUNK ? (size_t)(hole - off) : DISK_CHUNK;
			ssize_t got = pread(fd, buf, n, off);
			if (got <= 0) {
				snprintf(err, errlen, "cannot read disk %s: %s", path,
				         got ? strerror(errno) : "short file");
				ok = false;
				break;
			}
			ok = send_rec(l, REC_DISK_DATA, (uint32_t)got, (uint64_t)off, buf, (size_t)got);
			off += got;
		}
	}
	close(fd);
	if (!ok && !err[0]) snprintf(err, errlen, "sending disk %s failed: %s", path, strerror(errno));
	return ok;
}

static int connect_to(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s:%s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		int one = 1, buf = 4 << 20;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	}
	return fd;
}

static bool send_header(struct link *l)
{
	uint8_t h[16];
	uint32_t version = MIGRATE_VERSION, flags = 0;
	memcpy(h, MIGRATE_MAGIC, 8);
	memcpy(h + 8, &version, 4);
	memcpy(h + 12, &flags, 4);
	return send_all(l, h, sizeof(h));
}

/* Whether a VM of this configuration can be built on this host: its network interfaces resolve (a
 * network it names exists here) and, unless the source may copy them (disks_may_arrive), its disks
 * are where it says (shared storage). */
static bool config_buildable_here(const struct vm_config *cfg, bool disks_may_arrive, char *err,
                                  size_t errlen)
{
	struct machine_config mc;
	char msg[512];
	if (!vm_config_to_machine(cfg, &mc, msg, sizeof(msg))) {
		snprintf(err, errlen, "this host cannot build the VM: %.400s", msg);
		return false;
	}
	for (unsigned i = 0; i < cfg->ndisks && !disks_may_arrive; i++)
		if (access(cfg->disks[i].path, cfg->disks[i].readonly ? R_OK : R_OK | W_OK)) {
			snprintf(err, errlen,
			         "this host cannot build the VM: disk %.300s: %s (shared storage expected)",
			         cfg->disks[i].path, strerror(errno));
			return false;
		}
	return true;
}

/* Waits for the destination's verdict. */
static bool await_confirmation(int fd, char *err, size_t errlen)
{
	char line[512];
	size_t n = 0;
	while (n < sizeof(line) - 1) {
		if (!recv_all(fd, line + n, 1)) break;
		if (line[n++] == '\n') break;
	}
	line[n] = 0;
	if (n >= 3 && !strncmp(line, "OK\n", 3)) return true;
	if (n > 3 && !strncmp(line, "ER ", 3)) {
		line[n - 1] = 0;
		snprintf(err, errlen, "the destination refused the VM: %s", line + 3);
	} else {
		snprintf(err, errlen, "the destination closed the connection without confirming");
	}
	return false;
}

bool vm_migrate(struct vm *v, const char *host, const char *port, bool copy_storage,
                struct vm_migrate_stats *st, char *err, size_t errlen)
{
	struct machine *m = v->m;
	*st = (struct vm_migrate_stats){0};
	uint64_t t0 = monotonic_ns();
	if (machine_is_paused(m)) {
		snprintf(err, errlen,
		         "the VM is paused: resume it, or save it and migrate the saved directory");
		return false;
	}
	struct link l = {.fd = connect_to(host, port, err, errlen)};
	if (l.fd < 0) return false;
	uint64_t npages = m->ram_size / PAGE;
	uint64_t *bits = calloc((npages + 63) / 64, sizeof(uint64_t));
	char *json = vm_config_to_json(&v->cfg);
	bool ok =
	    bits && json && send_header(&l) && send_rec(&l, REC_CONFIG, 0, strlen(json), json, strlen(json));
	free(json);
	if (!ok) snprintf(err, errlen, "cannot send to %s:%s: %s", host, port, strerror(errno));
	machine_dirty_start(m);
	uint64_t dirty = 0;
	for (unsigned round = 0; ok; round++) {
		dirty = machine_dirty_harvest(m, bits);
		if (round == 0 && !m->ram_file_backed) ram_skip_untouched(m->ram, npages, bits);
		if (round > 0 && (dirty <= FINAL_ROUND_PAGES || round >= ROUNDS_MAX)) break;
		st->rounds++;
		ok = send_pages(&l, m->ram, npages, bits, round == 0, &st->pages_sent);
		if (!ok) snprintf(err, errlen, "sending memory failed: %s", strerror(errno));
	}
	/* The last small round goes out with the guest still running; then the destination confirms it has
	 * consumed everything, so the pause below does not wait behind megabytes still in flight. */
	if (ok) {
		st->rounds++;
		ok = send_pages(&l, m->ram, npages, bits, false, &st->pages_sent) &&
		     send_rec(&l, REC_SYNC, 0, 0, NULL, 0);
		char reply[3];
		if (ok && (!recv_all(l.fd, reply, 3) || memcmp(reply, "SY\n", 3))) {
			ok = false;
			snprintf(err, errlen, "the destination stopped answering");
		} else if (!ok) {
			snprintf(err, errlen, "sending memory failed: %s", strerror(errno));
		}
		memset(bits, 0, (npages + 63) / 64 * sizeof(uint64_t));
	}
	/* Stop and copy: what was written since the last harvest. */
	uint64_t t_down = monotonic_ns();
	log_debug("migrate: %u rounds, %llu pages dirty in the last: stopping the VM", st->rounds,
	          (unsigned long long)dirty);
	if (ok && !machine_pause(m, true)) {
		ok = false;
		snprintf(err, errlen, "the VM stopped, or a disk flush failed, before the last round");
	}
	if (ok) {
		uint64_t *more = calloc((npages + 63) / 64, sizeof(uint64_t));
		if (more) {
			machine_dirty_harvest(m, more);
			for (uint64_t w = 0; w < (npages + 63) / 64; w++) bits[w] |= more[w];
			free(more);
		}
		st->rounds++;
		struct state_writer w;
		ok = more && send_pages(&l, m->ram, npages, bits, false, &st->pages_sent);
		err[0] = 0;
		for (unsigned i = 0; ok && copy_storage && i < v->cfg.ndisks;
		     i++) /* flushed: the files are whole */
			ok = send_disk(&l, i, v->cfg.disks[i].path, err, errlen);
		ok = ok && vm_state_blob(v, &w, err, errlen);
		if (ok) {
			machine_set_disks_locked(
			    m, false); /* the destination opens them when the state arrives */
			ok = send_rec(&l, REC_STATE, 0, w.len, w.buf, w.len) &&
			     send_rec(&l, REC_END, 0, 0, NULL, 0);
			state_writer_free(&w);
			if (!ok)
				snprintf(err, errlen, "sending the device state failed: %s", strerror(errno));
		}
		st->downtime_sent_ms = (double)(monotonic_ns() - t_down) / 1e6;
		log_debug("migrate: paused; last pages and state sent after %.1f ms", st->downtime_sent_ms);
		if (ok) ok = await_confirmation(l.fd, err, errlen);
	}
	machine_dirty_stop(m);
	uint64_t t1 = monotonic_ns();
	close(l.fd);
	free(bits);
	st->bytes_sent = l.bytes;
	st->total_ms = (double)(t1 - t0) / 1e6;
	st->downtime_ms = (double)(t1 - t_down) / 1e6;
	if (ok) {
		v->migrated = true; /* stays paused: the destination runs the guest now */
	} else if (machine_is_paused(m)) {
		if (!machine_set_disks_locked(m, true)) {
			/* Someone else holds a disk now: running the guest could corrupt it. Stay paused. */
			size_t n = strlen(err);
			snprintf(err + n, errlen - n,
			         "; a disk is now locked by another process, so the VM stays paused");
		} else {
			machine_resume(m);
		}
	}
	return ok;
}

bool vm_migrate_saved(const char *dir, const char *host, const char *port, struct vm_migrate_stats *st,
                      char *err, size_t errlen)
{
	*st = (struct vm_migrate_stats){0};
	uint64_t t0 = monotonic_ns();
	char path[4096];
	size_t blob_len;
	uint8_t *blob = vm_read_vmstate(dir, &blob_len, err, errlen);
	struct vm_config cfg;
	if (!blob) return false;
	if (!vm_state_blob_config(blob, blob_len, &cfg, err, errlen)) {
		free(blob);
		return false;
	}
	snprintf(path, sizeof(path), "%s/memory", dir);
	int mfd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat mb;
	if (mfd < 0 || fstat(mfd, &mb) || (uint64_t)mb.st_size != cfg.mem) {
		snprintf(err, errlen, "%s does not hold the saved VM's %llu MiB of memory", path,
		         (unsigned long long)(cfg.mem >> 20));
		if (mfd >= 0) close(mfd);
		free(blob);
		return false;
	}
	uint8_t *ram = mmap(NULL, cfg.mem, PROT_READ, MAP_PRIVATE, mfd, 0);
	close(mfd);
	if (ram == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
		free(blob);
		return false;
	}
	struct link l = {.fd = connect_to(host, port, err, errlen)};
	bool ok = l.fd >= 0;
	if (ok) {
		char *json = vm_config_to_json(&cfg);
		ok = json && send_header(&l) &&
		     send_rec(&l, REC_CONFIG, 0, strlen(json), json, strlen(json)) &&
		     send_pages(&l, ram, cfg.mem / PAGE, NULL, true, &st->pages_sent) &&
		     send_rec(&l, REC_STATE, 0, blob_len, blob, blob_len) &&
		     send_rec(&l, REC_END, 0, 0, NULL, 0);
		free(json);
		if (!ok)
			snprintf(err, errlen, "sending to %s:%s failed: %s", host, port, strerror(errno));
		else
			ok = await_confirmation(l.fd, err, errlen);
		close(l.fd);
	}
	munmap(ram, cfg.mem);
	free(blob);
	st->rounds = 1;
	st->bytes_sent = l.bytes;
	st->total_ms = (double)(monotonic_ns() - t0) / 1e6;
	return ok;
}

/* Receiver. */

struct vm_incoming {
	int fd;
};

static int listen_on(const char *addr, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE},
	                *res;
	int rc = getaddrinfo(addr && *addr ? addr : NULL, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s:%s: %s", addr ? addr : "*", port, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1) == 0) break;
		snprintf(err, errlen, "cannot listen on %s:%s: %s", addr && *addr ? addr : "*", port,
		         strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void refuse(int fd, const char *msg)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "ER %s\n", msg);
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' && i != n - 1) line[i] = ' ';
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0) { /* the source sees the close instead */
	}
}

struct vm *vm_incoming(const char *addr, const char *port, const char *storage_dir, console_write_fn out,
                       void *out_opaque, struct vm_incoming **inc, char *err, size_t errlen)
{
	int disk_fd[MACHINE_MAX_DISKS];
	uint64_t disk_size[MACHINE_MAX_DISKS];
	char disk_path[MACHINE_MAX_DISKS][PATH_MAX];
	for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++) disk_fd[i] = -1, disk_path[i][0] = 0;
	int cur_disk = -1; /* the disk whose data records are arriving */
	int lfd = listen_on(addr, port, err, errlen);
	if (lfd < 0) return NULL;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (fd < 0) {
		snprintf(err, errlen, "accept: %s", strerror(errno));
		return NULL;
	}
	int buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	struct vm *v = NULL;
	struct vm_config cfg;
	uint8_t *ram =
	    NULL; /* filled before the board exists: disks open only once the source flushed them */
	uint8_t *blob = NULL;
	char why[512] = "";
	uint8_t h[16];
	uint32_t version;
	if (!recv_all(fd, h, sizeof(h)) || memcmp(h, MIGRATE_MAGIC, 8)) {
		snprintf(why, sizeof(why), "not a cloison migration stream");
		goto fail;
	}
	memcpy(&version, h + 8, 4);
	if (version != MIGRATE_VERSION) {
		snprintf(why, sizeof(why),
		         "migration stream version %u is not supported (this cloison speaks %u)", version,
		         MIGRATE_VERSION);
		goto fail;
	}
	uint64_t npages = 0;
	size_t blob_len = 0;
	for (;;) {
		struct rec r;
		if (!recv_all(fd, &r, sizeof(r))) {
			snprintf(why, sizeof(why), "the migration stream ended early");
			goto fail;
		}
		if (!ram && r.type != REC_CONFIG) {
			snprintf(why, sizeof(why), "the stream does not start with the VM's configuration");
			goto fail;
		}
		if (r.type == REC_CONFIG) {
			if (ram || r.arg == 0 || r.arg > CONFIG_MAX) {
				snprintf(why, sizeof(why), "bad configuration record");
				goto fail;
			}
			char *json = malloc(r.arg);
			bool ok = json && recv_all(fd, json, r.arg) &&
			          vm_config_from_json(json, r.arg, &cfg, why, sizeof(why));
			free(json);
			if (!ok) {
				if (!why[0]) snprintf(why, sizeof(why), "cannot read the configuration");
				goto fail;
			}
			/* Refused before a single page is taken: a VM this host cannot build. */
			if (!config_buildable_here(&cfg, storage_dir != NULL, why, sizeof(why))) goto fail;
			ram = machine_alloc_ram(cfg.mem);
			if (!ram) {
				snprintf(why, sizeof(why), "cannot reserve %llu MiB of guest memory",
				         (unsigned long long)(cfg.mem >> 20));
				goto fail;
			}
			npages = cfg.mem / PAGE;
		} else if (r.type == REC_PAGES || r.type == REC_ZERO) {
			if (r.count == 0 || r.count > RUN_MAX_PAGES || r.arg >= npages ||
			    r.count > npages - r.arg) {
				snprintf(why, sizeof(why), "a page record lies outside guest memory");
				goto fail;
			}
			uint8_t *dst = ram + r.arg * PAGE;
			if (r.type == REC_ZERO)
				memset(dst, 0, r.count * PAGE);
			else if (!recv_all(fd, dst, r.count * PAGE)) {
				snprintf(why, sizeof(why), "the migration stream ended inside a page record");
				goto fail;
			}
		} else if (r.type == REC_STATE) {
			if (blob || r.arg == 0 || r.arg > STATE_MAX) {
				snprintf(why, sizeof(why), "bad device state record");
				goto fail;
			}
			blob_len = r.arg;
			blob = malloc(blob_len);
			if (!blob || !recv_all(fd, blob, blob_len)) {
				snprintf(why, sizeof(why),
				         "the migration stream ended inside the device state");
				goto fail;
			}
		} else if (r.type == REC_DISK) {
			if (!storage_dir) {
				snprintf(why, sizeof(why),
				         "the source copies its disks: start the destination with "
				         "--storage-dir DIR");
				goto fail;
			}
			if (r.count >= cfg.ndisks || disk_path[r.count][0] || r.arg > DISK_MAX_SIZE) {
				snprintf(why, sizeof(why), "bad disk record");
				goto fail;
			}
			const char *base = strrchr(cfg.disks[r.count].path, '/');
			base = base ? base + 1 : cfg.disks[r.count].path;
			int n = snprintf(disk_path[r.count], sizeof(disk_path[r.count]), "%s/disk%u-%s",
			                 storage_dir, r.count, base);
			if (n < 0 || (size_t)n >= sizeof(disk_path[r.count])) {
				disk_path[r.count][0] = 0;
				snprintf(why, sizeof(why), "--storage-dir path too long");
				goto fail;
			}
			disk_fd[r.count] =
			    open(disk_path[r.count], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (disk_fd[r.count] < 0 || ftruncate(disk_fd[r.count], (off_t)r.arg)) {
				snprintf(why, sizeof(why), "cannot create %.300s: %s", disk_path[r.count],
				         strerror(errno));
				if (disk_fd[r.count] < 0) disk_path[r.count][0] = 0; /* not ours to remove */
				goto fail;
			}
			disk_size[r.count] = r.arg;
			cur_disk = (int)r.count;
		} else if (r.type == REC_DISK_DATA) {
			static uint8_t chunk[DISK_CHUNK];
			int dfd = cur_disk;
			if (dfd < 0 || r.count == 0 || r.count > DISK_CHUNK || r.arg > disk_size[dfd] ||
			    r.count > disk_size[dfd] - r.arg) {
				snprintf(why, sizeof(why), "a disk data record lies outside its disk");
				goto fail;
			}
			if (!recv_all(fd, chunk, r.count) ||
			    !fs_pwrite_all(disk_fd[dfd], chunk, r.count, (off_t)r.arg)) {
				snprintf(why, sizeof(why), "copying disk %.300s failed", disk_path[dfd]);
				goto fail;
			}
		} else if (r.type == REC_SYNC) {
			if (r.count || r.arg || send(fd, "SY\n", 3, MSG_NOSIGNAL) != 3) {
				snprintf(why, sizeof(why), "bad sync record, or the source went away");
				goto fail;
			}
		} else if (r.type == REC_END) {
			if (!blob) {
				snprintf(why, sizeof(why), "the stream ended without the device state");
				goto fail;
			}
			/* The source waits for our verdict now: anything it sent after "end" is not a stream.
			 */
			char extra;
			if (r.count || r.arg || recv(fd, &extra, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
				snprintf(why, sizeof(why), "bytes follow the end record");
				goto fail;
			}
			break;
		} else {
			snprintf(why, sizeof(why), "unknown record type %u", r.type);
			goto fail;
		}
	}
	for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++) {
		if (disk_fd[i] < 0) continue;
		if (fsync(disk_fd[i])) {
			snprintf(why, sizeof(why), "cannot write %.300s: %s", disk_path[i], strerror(errno));
			goto fail;
		}
		/* Both are PATH_MAX long: the precision only tells the compiler so. */
		snprintf(cfg.disks[i].path, sizeof(cfg.disks[i].path), "%.*s",
		         (int)sizeof(cfg.disks[i].path) - 1, disk_path[i]);
	}
	uint64_t t_create = monotonic_ns();
	v = vm_create(&cfg, ram, out, out_opaque, why, sizeof(why));
	ram = NULL; /* the VM owns it now, or freed it */
	if (!v || !vm_load_state_blob(v, blob, blob_len, why, sizeof(why))) goto fail;
	log_debug("incoming: VM built and its state loaded in %.1f ms",
	          (double)(monotonic_ns() - t_create) / 1e6);
	free(blob);
	*inc = malloc(sizeof(**inc));
	if (!*inc) {
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	(*inc)->fd = fd;
	for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++)
		if (disk_fd[i] >= 0) close(disk_fd[i]);
	return v;
fail:
	refuse(fd, why);
	close(fd);
	free(blob);
	vm_destroy(v);
	if (ram) machine_free_ram(ram, cfg.mem);
	for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++) { /* no half-copied disk is left behind */
		if (disk_fd[i] >= 0) close(disk_fd[i]);
		if (disk_path[i][0]) unlink(disk_path[i]);
	}
	snprintf(err, errlen, "incoming migration failed: %s", why);
	return NULL;
}

void vm_incoming_confirm(struct vm_incoming *inc, bool ok, const char *msg)
{
	if (!inc) return;
	if (ok) {
		if (send(inc->fd, "OK\n", 3, MSG_NOSIGNAL) <
		    0) { /* the source resumes; nothing more to do here */
		}
	} else {
		refuse(inc->fd, msg);
	}
	close(inc->fd);
	free(inc);
}
