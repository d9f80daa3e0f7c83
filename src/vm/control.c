/*
 * control.c — the control socket server and its endpoints (see control.h,
 * docs/api.md).
 */
#define _GNU_SOURCE
#include "control.h"

#include "http/http_server.h"
#include "machine/stats.h"
#include "util/log.h"
#include "util/parse.h"
#include "screenshot.h"
#include "vnc.h"
#include "virtio/balloon.h"
#include "virtio/gpu.h"
#include "virtio/input.h"
#include "virtio/vsock.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "util/clock.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct control {
	struct http_server *server;
};

static int reply(char **response, int status, json_t *obj)
{
	*response = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return status;
}

static int error_reply(char **response, int status, const char *msg)
{
	return reply(response, status, json_pack("{s:s}", "error", msg));
}

static const char *state_name(struct vm *v)
{
	if (v->migrated) return "migrated";
	if (atomic_load(&v->m->exit_reason) != MACHINE_RUNNING) return "stopping";
	return machine_is_paused(v->m) ? "paused" : "running";
}

static json_t *status_json(struct vm *v)
{
	struct machine *m = v->m;
	json_t *st =
	    json_pack("{s:s, s:I, s:i, s:f, s:I}", "state", state_name(v), "memory", (json_int_t)m->ram_size,
	              "cpus", (int)m->nharts, "uptime_s", (double)(monotonic_ns() - v->created_ns) / 1e9,
	              "instructions", (json_int_t)machine_instructions(m));
	if (m->vsock && m->vsock->path[0])
		json_object_set_new(st, "vsock_socket", json_string(m->vsock->path));
	return st;
}

/* The balloon's numbers and the guest's own memory statistics (those it reported), or NULL. */
static json_t *balloon_json(struct vm *v)
{
	struct virtio_balloon b;
	if (!machine_balloon_report(v->m, &b)) return NULL;
	json_t *guest = json_object();
	for (unsigned i = 0; i < BALLOON_NSTATS; i++)
		if (b.stats[i] != UINT64_MAX)
			json_object_set_new(guest, virtio_balloon_stat_name(i),
			                    json_integer((json_int_t)b.stats[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "target_bytes",
	                 (json_int_t)b.target_pages * 4096, "inflated_bytes",
	                 (json_int_t)b.inflated_pages * 4096, "deflated_bytes",
	                 (json_int_t)b.deflated_pages * 4096, "actual_bytes",
	                 (json_int_t)b.actual_pages * 4096, "memory_target_bytes",
	                 (json_int_t)(v->m->ram_size - (uint64_t)b.target_pages * 4096), "discarded_bytes",
	                 (json_int_t)b.discarded_bytes, "reported_free_bytes", (json_int_t)b.reported_bytes,
	                 "bad_page_numbers", (json_int_t)b.bad_pfns, "guest", guest);
}

static json_t *stats_json(struct vm *v)
{
	struct machine_stats ms;
	machine_stats(v->m, &ms);
	json_t *harts = json_array(), *disks = json_array(), *nics = json_array();
	for (unsigned i = 0; i < ms.nharts; i++)
		json_array_append_new(harts, json_pack("{s:I, s:I, s:f}", "instructions",
		                                       (json_int_t)ms.harts[i].instructions, "wfi_sleeps",
		                                       (json_int_t)ms.harts[i].wfi_sleeps, "throttled_s",
		                                       (double)ms.harts[i].throttled_ns / 1e9));
	for (unsigned i = 0; i < ms.ndisks; i++) {
		const struct virtio_blk_stats *d = &ms.disks[i];
		json_array_append_new(
		    disks,
		    json_pack("{s:I, s:I, s:I, s:I, s:I}", "read_ops", (json_int_t)d->read_ops, "read_bytes",
		              (json_int_t)d->read_bytes, "write_ops", (json_int_t)d->write_ops, "write_bytes",
		              (json_int_t)d->write_bytes, "flush_ops", (json_int_t)d->flush_ops));
	}
	for (unsigned i = 0; i < ms.nnics; i++) {
		const struct net_stats *s = &ms.nics[i];
		json_array_append_new(
		    nics,
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "rx_frames", (json_int_t)s->rx_frames,
		              "rx_bytes", (json_int_t)s->rx_bytes, "tx_frames", (json_int_t)s->tx_frames,
		              "tx_bytes", (json_int_t)s->tx_bytes, "rx_dropped", (json_int_t)s->rx_dropped,
		              "tx_dropped", (json_int_t)s->tx_dropped));
	}
	json_t *st = status_json(v);
	json_t *balloon = balloon_json(v);
	if (balloon) json_object_set_new(st, "balloon", balloon);
	json_object_set_new(st, "harts", harts);
	json_object_set_new(st, "disks", disks);
	json_object_set_new(st, "nics", nics);
	return st;
}

/* Parses the body as a JSON object (an empty body is {}); NULL with *response set on error. */
static json_t *body_object(const char *body, size_t len, char **response, int *status)
{
	if (len == 0) return json_object();
	json_error_t je;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!o || !json_is_object(o)) {
		char msg[300];
		snprintf(msg, sizeof(msg), "the body must be a JSON object%s%s", o ? "" : ": ",
		         o ? "" : je.text);
		json_decref(o);
		*status = error_reply(response, 400, msg);
		return NULL;
	}
	return o;
}

static int do_save(struct vm *v, json_t *args, char **response)
{
	const char *dir = NULL, *then = "pause";
	json_error_t je;
	if (json_unpack_ex(args, &je, JSON_STRICT, "{s:s, s?:s}", "dir", &dir, "then", &then))
		return error_reply(response, 400,
		                   "expected {\"dir\": PATH, \"then\": \"pause\"|\"resume\"|\"stop\"}");
	if (!*dir) return error_reply(response, 400, "dir is empty");
	if (strcmp(then, "pause") && strcmp(then, "resume") && strcmp(then, "stop"))
		return error_reply(response, 400, "then must be pause, resume or stop");
	struct vm_save_stats st;
	char err[512];
	if (!vm_save(v, dir, &st, err, sizeof(err))) return error_reply(response, 409, err);
	if (!strcmp(then, "resume"))
		machine_resume(v->m);
	else if (!strcmp(then, "stop"))
		machine_request_exit(v->m, MACHINE_QUIT, 0);
	return reply(response, 200,
	             json_pack("{s:s, s:f, s:I, s:I, s:s}", "dir", dir, "save_ms", st.total_ms,
	                       "memory_bytes", (json_int_t)st.memory_bytes_written, "state_bytes",
	                       (json_int_t)st.state_bytes, "state", state_name(v)));
}

static int do_replica(struct vm *v, json_t *args, char **response)
{
	const char *path = NULL;
	int full = 0;
	json_error_t je;
	if (json_unpack_ex(args, &je, JSON_STRICT, "{s:s, s?:b}", "path", &path, "full", &full) || !*path)
		return error_reply(response, 400, "expected {\"path\": FILE, \"full\": true|false}");
	struct vm_delta_stats st;
	char err[512];
	if (!vm_replica_delta(v, path, full, &st, err, sizeof(err))) return error_reply(response, 409, err);
	return reply(response, 200,
	             json_pack("{s:s, s:I, s:I, s:f, s:f}", "path", path, "blocks", (json_int_t)st.blocks,
	                       "bytes", (json_int_t)st.bytes, "paused_ms", st.paused_ms, "total_ms",
	                       st.total_ms));
}

static int do_migrate(struct vm *v, json_t *args, char **response)
{
	const char *to = NULL;
	int copy_storage = 0;
	json_error_t je;
	if (json_unpack_ex(args, &je, JSON_STRICT, "{s:s, s?:b}", "to", &to, "copy_storage", &copy_storage))
		return error_reply(response, 400,
		                   "expected {\"to\": \"HOST:PORT\", \"copy_storage\": true|false}");
	char host[256];
	const char *port;
	if (!parse_host_port(to, false, host, sizeof(host), &port))
		return error_reply(response, 400, "to must be HOST:PORT");
	struct vm_migrate_stats st;
	char err[512];
	if (!vm_migrate(v, host, port, copy_storage, &st, err, sizeof(err)))
		return error_reply(response, 409, err);
	machine_request_exit(v->m, MACHINE_QUIT, 0);
	return reply(response, 200,
	             json_pack("{s:s, s:f, s:f, s:f, s:i, s:I, s:I}", "state", "migrated", "total_ms",
	                       st.total_ms, "downtime_ms", st.downtime_ms, "downtime_sent_ms",
	                       st.downtime_sent_ms, "rounds", (int)st.rounds, "pages_sent",
	                       (json_int_t)st.pages_sent, "bytes_sent", (json_int_t)st.bytes_sent));
}

static json_t *limits_json(struct vm *v)
{
	struct machine *m = v->m;
	json_t *disks = json_array(), *nics = json_array();
	for (unsigned i = 0; i < m->ndisks; i++) {
		struct virtio_blk *d = m->disks[i];
		pthread_mutex_lock(&d->lock);
		json_array_append_new(disks, json_pack("{s:I, s:I}", "bps", (json_int_t)d->limit_bps, "iops",
		                                       (json_int_t)d->limit_iops));
		pthread_mutex_unlock(&d->lock);
	}
	for (unsigned i = 0; i < m->nnics; i++) {
		struct net_limits l = virtio_net_limits(m->nics[i]);
		json_array_append_new(nics, json_pack("{s:I, s:I}", "rx_bw", (json_int_t)l.rx_bps, "tx_bw",
		                                      (json_int_t)l.tx_bps));
	}
	return json_pack("{s:I, s:i, s:o, s:o}", "ips", (json_int_t)m->limit_ips, "cpu_max",
	                 (int)m->limit_cpu_pct, "disks", disks, "nics", nics);
}

static int do_limits_get(struct vm *v, json_t *args, char **response)
{
	(void)args;
	return reply(response, 200, limits_json(v));
}

/* Reads an optional non-negative integer field; false if present and not one (or above max). */
static bool opt_uint(json_t *args, const char *key, uint64_t max, uint64_t *out, bool *given)
{
	json_t *j = json_object_get(args, key);
	*given = j != NULL;
	if (!j) return true;
	if (!json_is_integer(j) || json_integer_value(j) < 0 || (uint64_t)json_integer_value(j) > max)
		return false;
	*out = (uint64_t)json_integer_value(j);
	return true;
}

static int do_limits_set(struct vm *v, json_t *args, char **response)
{
	static const struct {
		const char *key;
		uint64_t max;
	} fields[] = {{"ips", 1ULL << 40},       {"cpu_max", 100ULL * MACHINE_MAX_HARTS},
	              {"disk_bps", 1ULL << 50},  {"disk_iops", 1ULL << 32},
	              {"net_rx_bw", 1ULL << 50}, {"net_tx_bw", 1ULL << 50}};
	enum { N = sizeof(fields) / sizeof(fields[0]) };
	uint64_t val[N] = {0};
	bool given[N];
	for (size_t i = 0; i < N; i++) {
		if (!opt_uint(args, fields[i].key, fields[i].max, &val[i], &given[i])) {
			char msg[160];
			snprintf(msg, sizeof(msg), "%s must be an integer from 0 (no limit) to %llu",
			         fields[i].key, (unsigned long long)fields[i].max);
			return error_reply(response, 400, msg);
		}
	}
	const char *key;
	json_t *val_j;
	json_object_foreach(args, key, val_j)
	{
		size_t i = 0;
		while (i < N && strcmp(key, fields[i].key)) i++;
		if (i == N) {
			char msg[200];
			snprintf(
			    msg, sizeof(msg),
			    "unknown field '%.64s' (ips, cpu_max, disk_bps, disk_iops, net_rx_bw, net_tx_bw)",
			    key);
			return error_reply(response, 400, msg);
		}
	}
	struct machine *m = v->m;
	if (given[0] || given[1])
		machine_set_cpu_limits(m, given[0] ? val[0] : m->limit_ips,
		                       given[1] ? (uint32_t)val[1] : m->limit_cpu_pct);
	for (unsigned i = 0; (given[2] || given[3]) && i < m->ndisks; i++) {
		struct virtio_blk *d = m->disks[i];
		pthread_mutex_lock(&d->lock);
		uint64_t bps = given[2] ? val[2] : d->limit_bps, iops = given[3] ? val[3] : d->limit_iops;
		pthread_mutex_unlock(&d->lock);
		virtio_blk_set_limits(d, bps, iops);
	}
	for (unsigned i = 0; (given[4] || given[5]) && i < m->nnics; i++) {
		struct net_limits l = virtio_net_limits(m->nics[i]);
		if (given[4]) l.rx_bps = val[4];
		if (given[5]) l.tx_bps = val[5];
		virtio_net_set_limits(m->nics[i], &l);
	}
	return reply(response, 200, limits_json(v));
}

static int do_balloon_get(struct vm *v, json_t *args, char **response)
{
	(void)args;
	json_t *b = balloon_json(v);
	return b ? reply(response, 200, b)
	         : error_reply(response, 409, "this VM has no balloon (--balloon off)");
}

/* {"memory_target": BYTES}: what the guest may keep (0: all its RAM); the balloon takes the rest. */
static int do_balloon_set(struct vm *v, json_t *args, char **response)
{
	json_t *t = json_object_get(args, "memory_target");
	if (json_object_size(args) != 1 || !json_is_integer(t) || json_integer_value(t) < 0)
		return error_reply(response, 400,
		                   "balloon takes {\"memory_target\": BYTES} (0: all the RAM)");
	uint64_t want = (uint64_t)json_integer_value(t);
	if (want && want < (16u << 20))
		return error_reply(response, 400, "memory_target below 16 MiB would starve the guest");
	if (!machine_balloon_set_memory(v->m, want))
		return error_reply(response, 409, "this VM has no balloon (--balloon off)");
	return reply(response, 200, balloon_json(v));
}

static int do_status(struct vm *v, json_t *args, char **response)
{
	(void)args;
	return reply(response, 200, status_json(v));
}

static int do_stats(struct vm *v, json_t *args, char **response)
{
	(void)args;
	return reply(response, 200, stats_json(v));
}

static int do_pause(struct vm *v, json_t *args, char **response)
{
	if (json_object_size(args)) return error_reply(response, 400, "pause takes no arguments");
	if (!machine_pause(v->m, false) && !machine_is_paused(v->m))
		return error_reply(response, 409, "the VM is not running");
	return reply(response, 200, json_pack("{s:s}", "state", "paused"));
}

static int do_resume(struct vm *v, json_t *args, char **response)
{
	if (json_object_size(args)) return error_reply(response, 400, "resume takes no arguments");
	if (!machine_resume(v->m)) return error_reply(response, 409, "the VM is not paused");
	return reply(response, 200, json_pack("{s:s}", "state", "running"));
}

static int do_stop(struct vm *v, json_t *args, char **response)
{
	json_t *force = json_object_get(args, "force");
	if (json_object_size(args) > (force ? 1u : 0u) || (force && !json_is_boolean(force)))
		return error_reply(response, 400, "stop takes {\"force\": true|false}");
	machine_request_exit(v->m, MACHINE_QUIT, 0);
	return reply(response, 200, json_pack("{s:s}", "state", "stopping"));
}

/* {"text": "...", "pointer": {"x", "y", "buttons"}}: keys typed on the display's keyboard, the tablet's
 * pointer moved (screen pixels) with buttons held. */
static int do_input(struct vm *v, json_t *args, char **response)
{
	struct machine *m = v->m;
	if (!m->keyboard)
		return error_reply(response, 409, "this VM has no display, so no keyboard (--display)");
	const char *text = NULL;
	json_int_t x = -1, y = -1, buttons = 0;
	json_error_t je;
	if (json_unpack_ex(args, &je, JSON_STRICT, "{s?:s, s?:{s:I, s:I, s?:I}}", "text", &text, "pointer",
	                   "x", &x, "y", &y, "buttons", &buttons) ||
	    (!text && x < 0) || (x >= 0 && (x > 65535 || y < 0 || y > 65535 || buttons < 0 || buttons > 7)))
		return error_reply(
		    response, 400,
		    "input takes {\"text\": STRING, \"pointer\": {\"x\", \"y\", \"buttons\": 0-7}}");
	char err[160] = "";
	pthread_mutex_lock(&m->io_lock);
	bool ok = !text || virtio_input_type_text(m->keyboard, text, err, sizeof(err));
	if (ok && x >= 0 &&
	    !virtio_input_pointer(m->tablet, (uint32_t)x, (uint32_t)y, m->gpu->width, m->gpu->height,
	                          (unsigned)buttons))
		ok = false, snprintf(err, sizeof(err), "the guest does not take its pointer events");
	uint64_t delivered = m->keyboard->delivered + m->tablet->delivered;
	pthread_mutex_unlock(&m->io_lock);
	if (!ok) return error_reply(response, err[0] == 'c' ? 400 : 409, err);
	return reply(response, 200, json_pack("{s:I}", "events_delivered", (json_int_t)delivered));
}

/* GET /vm/display: the display's mode; POST {"width", "height"}: a new one (the guest is told). */
static int do_display(struct vm *v, json_t *args, char **response)
{
	struct machine *m = v->m;
	if (!m->gpu) return error_reply(response, 409, "this VM has no display (--display)");
	json_int_t w = -1, h = -1;
	json_error_t je;
	if (json_object_size(args) &&
	    (json_unpack_ex(args, &je, JSON_STRICT, "{s:I, s:I}", "width", &w, "height", &h) ||
	     w < GPU_MIN_WIDTH || h < GPU_MIN_HEIGHT || w > GPU_MAX_SIZE || h > GPU_MAX_SIZE)) {
		char msg[120];
		snprintf(msg, sizeof(msg), "display takes {\"width\", \"height\"}: %ux%u to %ux%u",
		         GPU_MIN_WIDTH, GPU_MIN_HEIGHT, GPU_MAX_SIZE, GPU_MAX_SIZE);
		return error_reply(response, 400, msg);
	}
	pthread_mutex_lock(&m->io_lock);
	if (w > 0) virtio_gpu_set_mode(m->gpu, (uint32_t)w, (uint32_t)h);
	json_t *j =
	    json_pack("{s:i, s:i, s:i, s:i}", "width", (int)m->gpu->width, "height", (int)m->gpu->height,
	              "scanout_width", (int)(m->gpu->scanout_resource ? m->gpu->scanout_rect.width : 0),
	              "scanout_height", (int)(m->gpu->scanout_resource ? m->gpu->scanout_rect.height : 0));
	pthread_mutex_unlock(&m->io_lock);
	return reply(response, 200, j);
}

int control_handle(struct vm *v, const char *method, const char *path, const char *body, size_t body_len,
                   char **response)
{
	static const struct {
		const char *path, *method;
		int (*handle)(struct vm *v, json_t *args, char **response);
		bool lifecycle; /* changes the VM: one at a time, not while it stops */
	} routes[] = {
	    {"/vm", "GET", do_status, false},
	    /* the state once no save, migration, pause or resume is under way (a supervisor that restarted
	     * uses it to match what it recorded) */
	    {"/vm/settled", "GET", do_status, true},
	    {"/vm/stats", "GET", do_stats, false},
	    {"/vm/pause", "POST", do_pause, true},
	    {"/vm/resume", "POST", do_resume, true},
	    {"/vm/stop", "POST", do_stop, true},
	    {"/vm/save", "POST", do_save, true},
	    {"/vm/migrate", "POST", do_migrate, true},
	    {"/vm/replica", "POST", do_replica, true},
	    {"/vm/limits", "GET", do_limits_get, false},
	    {"/vm/limits", "POST", do_limits_set, false},
	    {"/vm/balloon", "GET", do_balloon_get, false},
	    {"/vm/balloon", "POST", do_balloon_set, false},
	    {"/vm/input", "POST", do_input, false},
	    {"/vm/display", "GET", do_display, false},
	    {"/vm/display", "POST", do_display, false},
	};
	unsigned i = 0, n = sizeof(routes) / sizeof(routes[0]);
	while (i < n && strcmp(path, routes[i].path)) i++;
	if (i == n) return error_reply(response, 404, "no such endpoint (see docs/api.md)");
	for (unsigned j = i; j < n && !strcmp(path, routes[j].path); j++)
		if (!strcmp(method, routes[j].method)) i = j;
	if (strcmp(method, routes[i].method)) {
		char msg[100];
		snprintf(msg, sizeof(msg), "%s takes %s", routes[i].path, routes[i].method);
		return error_reply(response, 405, msg);
	}
	int status = 0;
	json_t *args = body_object(body, body_len, response, &status);
	if (!args) return status;
	if (!routes[i].lifecycle) {
		status = routes[i].handle(v, args, response);
	} else {
		pthread_mutex_lock(&v->op_lock);
		if (v->migrated || atomic_load(&v->m->exit_reason) != MACHINE_RUNNING)
			status = error_reply(response, 409, "the VM is stopping");
		else
			status = routes[i].handle(v, args, response);
		pthread_mutex_unlock(&v->op_lock);
	}
	json_decref(args);
	return status;
}

/* GET /vm/screenshot: what the screen shows, as PNG (a binary body: not through control_handle). */
static void screenshot(struct vm *v, const char *method, struct http_response *r)
{
	if (strcmp(method, "GET")) {
		r->status = error_reply(&r->body, 405, "/vm/screenshot takes GET");
		return;
	}
	struct machine *m = v->m;
	if (!m->gpu) {
		r->status = error_reply(&r->body, 409, "this VM has no display (--display)");
		return;
	}
	uint32_t w = 0, h = 0;
	pthread_mutex_lock(&m->io_lock);
	uint8_t *rgb = virtio_gpu_read_screen(m->gpu, &w, &h);
	pthread_mutex_unlock(&m->io_lock);
	if (!rgb) {
		r->status = error_reply(&r->body, 409, "the guest shows nothing on its screen yet");
		return;
	}
	uint8_t *png;
	size_t len;
	char err[128];
	bool ok = screenshot_png(rgb, w, h, &png, &len, err, sizeof(err));
	free(rgb);
	if (!ok) {
		r->status = error_reply(&r->body, 500, err);
		return;
	}
	r->status = 200;
	r->body = (char *)png;
	r->body_len = len;
	r->content_type = "image/png";
}

static void attach_vnc(void *opaque, int fd, const char *extra, size_t extra_len)
{
	struct vnc *vnc = opaque;
	(void)extra, (void)extra_len; /* an RFB client speaks after the server: it sent nothing yet */
	if (!vnc_attach(vnc, fd)) log_warn("VNC: cannot serve one more client");
}

/* POST /vm/vnc: the connection becomes a VNC client of the display (the server made at the first). */
static void vnc_connection(struct vm *v, const char *method, struct http_response *r)
{
	if (strcmp(method, "POST")) {
		r->status = error_reply(&r->body, 405, "/vm/vnc takes POST");
		return;
	}
	if (!v->m->gpu) {
		r->status = error_reply(&r->body, 409, "this VM has no display (--display)");
		return;
	}
	char err[256];
	pthread_mutex_lock(&v->vnc_lock);
	if (!v->vnc) v->vnc = vnc_start(v->m, NULL, err, sizeof(err));
	struct vnc *vnc = v->vnc;
	pthread_mutex_unlock(&v->vnc_lock);
	if (!vnc) {
		r->status = error_reply(&r->body, 500, err);
		return;
	}
	r->status = 101;
	r->takeover = attach_vnc;
	r->takeover_opaque = vnc;
}

static void serve_request(void *opaque, const char *method, const char *path, const char *body,
                          size_t body_len, struct http_response *r)
{
	if (!strcmp(path, "/vm/screenshot")) return screenshot(opaque, method, r);
	if (!strcmp(path, "/vm/vnc")) return vnc_connection(opaque, method, r);
	r->status = control_handle(opaque, method, path, body, body_len, &r->body);
}

struct control *control_start(struct vm *v, const char *path, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!(c->server = http_server_start(path, 0600, serve_request, v, err, errlen))) {
		free(c);
		return NULL;
	}
	return c;
}

void control_stop(struct control *c)
{
	if (!c) return;
	http_server_stop(c->server); /* requests in progress finish before the VM goes away */
	free(c);
}
