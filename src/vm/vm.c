/*
 * vm.c — a VM's creation and its snapshot files: DIR/vmstate (header,
 * "config" section holding the JSON configuration, the board's sections,
 * "end") and DIR/memory (guest RAM, sparse). docs/formats.md describes both.
 */
#include "vm.h"

#include "ram_scan.h"
#include "vnc.h"
#include "block/delta.h"
#include "block/qcow2.h"
#include "virtio/blk.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "virtio/net.h"
#include "util/clock.h"

#define VMSTATE_FILE "vmstate"
#define MEMORY_FILE "memory"
#define PAGE 4096ULL

static char vsock_socket[PATH_MAX]; /* a property of this process's host side, not of the VM */

void vm_set_vsock_socket(const char *path)
{
	snprintf(vsock_socket, sizeof(vsock_socket), "%s", path ? path : "");
}

struct vm *vm_create(const struct vm_config *cfg, uint8_t *ram, console_write_fn out, void *out_opaque,
                     char *err, size_t errlen)
{
	struct machine_config mc;
	if (!vm_config_to_machine(cfg, &mc, err, errlen)) {
		machine_free_ram(ram, cfg->mem);
		return NULL;
	}
	mc.ram = ram;
	mc.console_write = out;
	mc.console_opaque = out_opaque;
	mc.vsock_path = vsock_socket[0] ? vsock_socket : NULL;
	struct vm *v = calloc(1, sizeof(*v));
	if (!v) {
		machine_free_ram(ram, cfg->mem);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->cfg = *cfg;
	v->m = machine_create(&mc, err, errlen);
	if (!v->m) {
		free(v);
		return NULL;
	}
	for (unsigned i = 0; i < v->m->nnics; i++) { /* the address the guest sees, kept from now on */
		memcpy(v->cfg.nics[i].mac, v->m->nics[i]->mac, 6);
		v->cfg.nics[i].mac_set = true;
	}
	pthread_mutex_init(&v->op_lock, NULL);
	pthread_mutex_init(&v->vnc_lock, NULL);
	v->created_ns = monotonic_ns();
	return v;
}

void vm_destroy(struct vm *v)
{
	if (!v) return;
	vnc_stop(v->vnc); /* its clients read the board */
	machine_destroy(v->m);
	pthread_mutex_destroy(&v->op_lock);
	pthread_mutex_destroy(&v->vnc_lock);
	free(v);
}

bool vm_state_blob(struct vm *v, struct state_writer *w, char *err, size_t errlen)
{
	char *json = vm_config_to_json(&v->cfg);
	if (!json) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	state_writer_init(w);
	state_begin(w, "config", 1);
	state_put_str(w, json);
	state_end(w);
	free(json);
	machine_save_state(v->m, w);
	state_begin(w, "end", 1);
	state_end(w);
	if (w->failed) {
		state_writer_free(w);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	return true;
}

#define CONFIG_JSON_MAX (64 * 1024)

static bool read_config(struct state_reader *r, struct vm_config *cfg, char *err, size_t errlen)
{
	static char json[CONFIG_JSON_MAX];
	state_section(r, "config", 1);
	state_get_str(r, json, sizeof(json));
	if (!state_section_done(r)) {
		snprintf(err, errlen, "%s", r->err);
		return false;
	}
	return vm_config_from_json(json, strlen(json), cfg, err, errlen);
}

bool vm_state_blob_config(const uint8_t *buf, size_t len, struct vm_config *cfg, char *err, size_t errlen)
{
	struct state_reader r;
	if (!state_reader_open(&r, buf, len)) {
		snprintf(err, errlen, "%s", r.err);
		return false;
	}
	return read_config(&r, cfg, err, errlen);
}

bool vm_load_state_blob(struct vm *v, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct state_reader r;
	struct vm_config ignored;
	if (!state_reader_open(&r, buf, len)) {
		snprintf(err, errlen, "%s", r.err);
		return false;
	}
	if (!read_config(&r, &ignored, err, errlen)) return false;
	if (!machine_load_state(v->m, &r) || (state_section(&r, "end", 1), !state_section_done(&r))) {
		snprintf(err, errlen, "%s", r.err);
		return false;
	}
	if (r.pos != r.len) {
		snprintf(err, errlen, "%zu bytes of garbage after the state's end", r.len - r.pos);
		return false;
	}
	return true;
}

static bool wanted(const uint64_t *touched, const uint8_t *ram, uint64_t off)
{
	uint64_t p = off / PAGE;
	return (!touched || (touched[p / 64] >> (p % 64) & 1)) && !ram_page_is_zero(ram + off);
}

struct memory_image {
	const uint8_t *ram;
	uint64_t size;
	bool anonymous; /* untouched pages read as zero (not a file mapping) */
	uint64_t written;
};

/* Writes RAM to a sparse file: runs of non-zero pages only (an fs_replace_file filler). */
static bool write_memory(int fd, void *opaque)
{
	struct memory_image *img = opaque;
	const uint8_t *ram = img->ram;
	uint64_t size = img->size, *written = &img->written;
	bool anonymous = img->anonymous;
	if (ftruncate(fd, (off_t)size)) return false;
	*written = 0;
	uint64_t npages = size / PAGE, *touched = NULL;
	if (anonymous && (touched = malloc((npages + 63) / 64 * 8))) {
		memset(touched, 0xff, (npages + 63) / 64 * 8);
		ram_skip_untouched(ram, npages, touched);
	}
	for (uint64_t off = 0; off < size;) {
		if (!wanted(touched, ram, off)) {
			off += PAGE;
			continue;
		}
		uint64_t end = off + PAGE;
		while (end < size && end - off < (64ULL << 20) && wanted(touched, ram, end)) end += PAGE;
		if (!fs_pwrite_all(fd, ram + off, end - off, (off_t)off)) {
			free(touched);
			return false;
		}
		*written += end - off;
		off = end;
	}
	free(touched);
	return true;
}

bool vm_save(struct vm *v, const char *dir, struct vm_save_stats *st, char *err, size_t errlen)
{
	uint64_t t0 = monotonic_ns();
	*st = (struct vm_save_stats){0};
	if (!mkdir_p(dir, 0700)) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return false;
	}
	if (!machine_is_paused(v->m) && !machine_pause(v->m, true)) {
		if (!machine_is_paused(v->m)) {
			snprintf(err, errlen, "the VM is not running");
			return false;
		}
		snprintf(err, errlen, "flushing a disk failed: the snapshot would not match the disks");
		return false;
	}
	struct state_writer w;
	if (!vm_state_blob(v, &w, err, errlen)) return false;
	st->state_bytes = w.len;
	/* Memory first: a vmstate file present means the snapshot is complete. */
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/" VMSTATE_FILE, dir);
	unlink(path);
	struct memory_image img = {v->m->ram, v->m->ram_size, !v->m->ram_file_backed, 0};
	char mem_path[PATH_MAX + 16];
	snprintf(mem_path, sizeof(mem_path), "%s/" MEMORY_FILE, dir);
	bool ok = fs_replace_file(mem_path, 0600, write_memory, &img, err, errlen) &&
	          fs_write_file_atomic(path, 0600, w.buf, w.len, err, errlen);
	st->memory_bytes_written = img.written;
	state_writer_free(&w);
	st->total_ms = (double)(monotonic_ns() - t0) / 1e6;
	return ok;
}

/* Reads a whole file (at most `max` bytes). */
static uint8_t *read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		if (fd >= 0) close(fd);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) {
		snprintf(err, errlen, "%s is not a state file (not a regular file, or larger than %zu bytes)",
		         path, max);
		close(fd);
		return NULL;
	}
	uint8_t *buf = malloc((size_t)sb.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != (size_t)sb.st_size) {
		snprintf(err, errlen, "cannot read %s", path);
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

#define VMSTATE_MAX (16u << 20)

/* A clone's own disks: qcow2 overlays over the saved VM's, and new MAC addresses. When the saved
 * directory holds the disks' contents of that instant (diskN.img: cloisond's snapshots copy them
 * there, and the VM that was saved may run on and change its own), the overlays are based on those. */
static bool make_clone_config(struct vm_config *cfg, const char *saved_dir, const char *clone_dir, char *err,
                              size_t errlen)
{
	if (!mkdir_p(clone_dir, 0700)) {
		snprintf(err, errlen, "cannot create %s: %s", clone_dir, strerror(errno));
		return false;
	}
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		struct vm_disk *d = &cfg->disks[i];
		char backing[PATH_MAX], overlay[PATH_MAX], copy[PATH_MAX];
		size_t n = strlen(d->path); /* the format of the disk (and of its copy) */
		const char *format = d->format[0]                                  ? d->format
		                     : n > 6 && !strcmp(d->path + n - 6, ".qcow2") ? "qcow2"
		                                                                   : "raw";
		snprintf(copy, sizeof(copy), "%s/disk%u.img", saved_dir, i);
		if (!realpath(access(copy, F_OK) == 0 ? copy : d->path, backing)) {
			snprintf(err, errlen, "disk %s: %s", d->path, strerror(errno));
			return false;
		}
		snprintf(overlay, sizeof(overlay), "%s/disk%u.qcow2", clone_dir, i);
		struct block_backend *b = block_open(backing, format, BLOCK_OPEN_READONLY, err, errlen);
		if (!b) return false;
		struct qcow2_create_opts o = {.size = b->size, .backing = backing, .backing_format = format};
		block_close(b);
		if (qcow2_create(overlay, &o, err, errlen)) return false;
		snprintf(d->path, sizeof(d->path), "%s", overlay);
		snprintf(d->format, sizeof(d->format), "qcow2");
		d->no_backing = false;
	}
	for (unsigned i = 0; i < cfg->nnics; i++) cfg->nics[i].mac_set = false; /* drawn at random */
	return true;
}

uint8_t *vm_read_vmstate(const char *dir, size_t *len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" VMSTATE_FILE, dir);
	return read_file(path, VMSTATE_MAX, len, err, errlen);
}

struct vm *vm_restore(const char *dir, const char *clone_dir, console_write_fn out, void *out_opaque,
                      char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" VMSTATE_FILE, dir);
	size_t len;
	uint8_t *blob = vm_read_vmstate(dir, &len, err, errlen);
	if (!blob) return NULL;
	struct vm_config cfg;
	char why[400];
	if (!vm_state_blob_config(blob, len, &cfg, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(blob);
		return NULL;
	}
	if (clone_dir && !make_clone_config(&cfg, dir, clone_dir, err, errlen)) {
		free(blob);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/" MEMORY_FILE, dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		if (fd >= 0) close(fd);
		free(blob);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != cfg.mem) {
		if (!S_ISREG(sb.st_mode))
			snprintf(err, errlen, "%s is not a regular file (the saved VM's memory is one)",
			         path);
		else
			snprintf(err, errlen, "%s holds %llu bytes, the saved VM has %llu MiB of memory",
			         path, (unsigned long long)sb.st_size, (unsigned long long)(cfg.mem >> 20));
		close(fd);
		free(blob);
		return NULL;
	}
	struct vm *v = vm_create(&cfg, NULL, out, out_opaque, err, errlen);
	if (!v) {
		close(fd);
		free(blob);
		return NULL;
	}
	if (!machine_map_ram_file(v->m, fd)) {
		snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
		close(fd);
		free(blob);
		vm_destroy(v);
		return NULL;
	}
	close(fd); /* the mapping keeps the file */
	bool ok = vm_load_state_blob(v, blob, len, why, sizeof(why));
	free(blob);
	if (!ok) {
		snprintf(err, errlen, "%s/" VMSTATE_FILE ": %s", dir, why);
		vm_destroy(v);
		return NULL;
	}
	if (clone_dir) machine_new_generation(v->m);
	return v;
}

bool vm_replica_delta(struct vm *v, const char *path, bool full, struct vm_delta_stats *st, char *err,
                      size_t errlen)
{
	uint64_t t0 = monotonic_ns();
	*st = (struct vm_delta_stats){0};
	struct machine *m = v->m; /* the caller holds v->op_lock (control.c's lifecycle routes) */
	/* Paused, so the disks hold one instant of the guest's writes: the replica is crash-consistent. */
	bool was_paused = machine_is_paused(m);
	if (!was_paused && !machine_pause(m, true) && !machine_is_paused(m))
		return snprintf(err, errlen, "the VM is not running"), false;
	uint64_t t_paused = monotonic_ns();
	struct block_backend *disks[MACHINE_MAX_DISKS];
	uint64_t *maps[MACHINE_MAX_DISKS] = {0};
	size_t nblocks[MACHINE_MAX_DISKS] = {0};
	bool ok = true;
	for (unsigned i = 0; i < m->ndisks; i++) {
		disks[i] = m->disks[i]->backend;
		maps[i] = virtio_blk_take_dirty(m->disks[i], &nblocks[i]);
		if (!maps[i]) ok = false;
		if (full && maps[i]) memset(maps[i], 0xff, (nblocks[i] + 63) / 64 * sizeof(uint64_t));
	}
	struct delta_stats ds;
	if (!ok)
		snprintf(err, errlen, "out of memory");
	else
		ok = delta_write(path, disks, maps, nblocks, m->ndisks, VIRTIO_BLK_DIRTY_BLOCK, &ds, err,
		                 errlen);
	if (!was_paused) machine_resume(m);
	st->paused_ms = (double)(monotonic_ns() - t_paused) / 1e6;
	for (unsigned i = 0; i < m->ndisks; i++) free(maps[i]);
	st->blocks = ok ? ds.blocks : 0;
	st->bytes = ok ? ds.bytes : 0;
	st->total_ms = (double)(monotonic_ns() - t0) / 1e6;
	return ok;
}
