/*
 * vmdrv.c — VM instances: one `cloison run` process each (see driver.h).
 *
 * A VM starts paused (--paused) so its limits are in place before its first
 * instruction; the daemon then resumes it through the control socket. The
 * process runs in a session of its own, so neither a signal to the daemon's
 * process group nor the daemon's death reaches it, and it reports how it
 * ended in INST/exit.json: a process that ends without one crashed.
 */
#define _GNU_SOURCE
#include "driver.h"

#include "agent/client.h"
#include "agent/proto.h"
#include "container/ct_state.h"
#include "daemon/spawn.h"
#include "util/fs.h"
#include "util/log.h"
#include "http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* RUN_DIR/NAME.KIND; "" when that does not fit (connecting to it then fails with a clear error). */
static void vmdrv_socket(struct daemon *d, const struct instance *in, const char *kind, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s.%s", d->run_dir, in->def.name, kind) >= len) buf[0] = 0;
}

/* One request to the VM's control socket; the answer's JSON in *out (NULL: not wanted). */
static bool call(struct daemon *d, struct instance *in, const char *method, const char *path, json_t *body,
                 json_t **out, int timeout_ms, char *err, size_t errlen)
{
	char sock[PATH_MAX], *resp = NULL, msg[256];
	vmdrv_socket(d, in, "api", sock, sizeof(sock));
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int status = http_call_unix(sock, method, path, text, timeout_ms, &resp, msg, sizeof(msg));
	free(text);
	if (!status) {
		snprintf(err, errlen, "the VM process does not answer: %s", msg);
		return false;
	}
	json_t *j = resp ? json_loads(resp, 0, NULL) : NULL;
	free(resp);
	if (status >= 300) {
		const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;
		snprintf(err, errlen, "%s", e ? e : "the VM refused the request");
		json_decref(j);
		return false;
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	return true;
}

static void add_cpu(void *set, unsigned cpu)
{
	if (cpu < CPU_SETSIZE) CPU_SET(cpu, (cpu_set_t *)set);
}

/* The last lines of the console log, for an error message. */
static void log_tail(const char *path, char *buf, size_t len)
{
	buf[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)len - 1 ? size - (off_t)len + 1 : 0;
	ssize_t n = pread(fd, buf, len - 1, from);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
	char *last = strrchr(buf, '\n');
	if (last) memmove(buf, last + 1, strlen(last + 1) + 1);
}

/* The VM's cgroup: CPU weight and cap, memory (the emulator caps CPU too, so cgroups are optional unless
 * a weight or a memory limit asks for them). */
static bool vm_cgroup(struct daemon *d, const struct inst_def *def, struct cg_group *cg, bool *has_cg,
                      char *err, size_t errlen)
{
	struct cg_limits cl = inst_cg_limits(&def->limits);
	*has_cg = false;
	if (!d->have_cg) {
		if (!cl.cpu_weight && !cl.memory) return true;
		snprintf(err, errlen,
		         "CPU weight and memory limits need cgroups, which this host does not offer");
		return false;
	}
	char leaf[128], msg[512];
	snprintf(leaf, sizeof(leaf), "cloison-vm-%s", def->name);
	*has_cg = cg_create(&d->cg, leaf, &cl, cg, msg, sizeof(msg));
	if (!*has_cg && (cl.cpu_weight || cl.memory)) {
		snprintf(err, errlen, "%s", msg);
		return false;
	}
	if (!*has_cg) log_warn("%s: running without a cgroup: %s", def->name, msg);
	return true;
}

/* Records the pid of a VM process that is about to exec (spawn's before_exec): a daemon restarted from
 * now on finds it. */
struct record_pid {
	struct daemon *d;
	struct instance *in;
};

static void record_pid(void *ctx, pid_t pid)
{
	struct record_pid *r = ctx;
	pthread_mutex_lock(&r->d->lock);
	r->in->pid = pid;
	r->in->pid_start = ct_proc_start_time(pid);
	daemon_save_runtime(r->d, r->in);
	pthread_mutex_unlock(&r->d->lock);
}

/* Whether the VM process's control socket answers (a destination's once the VM arrived) within polls
 * tries 10 ms apart; *exited tells that the process ended first. */
static bool wait_vm_up(pid_t pid, const char *api, unsigned polls, bool *exited)
{
	char msg[256];
	for (unsigned i = 0; i < polls; i++) {
		siginfo_t si = {0};
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
			*exited = true;
			return false;
		}
		int fd = http_connect_unix(api, msg, sizeof(msg));
		if (fd >= 0) {
			close(fd);
			return true;
		}
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return false;
}

static bool vmdrv_apply_limits(struct daemon *d, struct instance *in, char *err, size_t errlen);

static bool vmdrv_start(struct daemon *d, struct instance *in, const struct vm_start *how, char *err,
                        size_t errlen)
{
	const char *restore_dir = how->restore_dir, *listen = how->listen;
	const struct inst_def *def = &in->def;
	char dir[PATH_MAX], api[PATH_MAX], con[PATH_MAX], logp[PATH_MAX], exitp[PATH_MAX],
	    clone_dir[PATH_MAX], restored[PATH_MAX];
	inst_path(d, in, "", dir, sizeof(dir));
	inst_path(d, in, "console.log", logp, sizeof(logp));
	inst_path(d, in, "exit.json", exitp, sizeof(exitp));
	inst_path(d, in, "clone", clone_dir, sizeof(clone_dir));
	inst_path(d, in, "restored", restored, sizeof(restored));
	vmdrv_socket(d, in, "api", api, sizeof(api));
	vmdrv_socket(d, in, "console", con, sizeof(con));
	if (strlen(con) >= 108) {
		snprintf(err, errlen, "socket path too long: %s (use a shorter run directory)", con);
		return false;
	}
	unlink(exitp);
	/* A VM made from a saved state resumes it the first time; later starts boot. */
	bool first_restore = !restore_dir && !listen && def->vm.restore[0] && access(restored, F_OK) != 0;
	if (first_restore) restore_dir = def->vm.restore;

	/* The VM process reads what it is made of from a file; only how it runs is on its command line. */
	char cfgp[PATH_MAX];
	inst_path(d, in, "config.json", cfgp, sizeof(cfgp));
	if (!listen && !restore_dir) {
		char *text = vm_config_to_json(&def->vm.cfg);
		bool ok = text && fs_write_file_atomic(cfgp, 0600, text, strlen(text), err, errlen);
		if (!text) snprintf(err, errlen, "out of memory");
		free(text);
		if (!ok) return false;
	}
	char lease[PATH_MAX];
	snprintf(lease, sizeof(lease), "%.4000s/ha.lease", d->run_dir);
	char *argv[24];
	int n = 0;
	argv[n++] = d->exe;
	argv[n++] = "-q"; /* its stderr joins the console log: warnings and errors only */
	argv[n++] = "run";
	argv[n++] = "--api-sock";
	argv[n++] = api;
	argv[n++] = "--console-sock";
	argv[n++] = con;
	argv[n++] = "--console-log";
	argv[n++] = logp;
	argv[n++] = "--exit-file";
	argv[n++] = exitp;
	if (listen) { /* an arriving VM runs on at once, as it ran at the source, which sends its config */
		argv[n++] = "--incoming";
		argv[n++] = (char *)listen;
	} else { /* a saved state holds its own configuration */
		argv[n++] = "--paused";
		argv[n++] = restore_dir ? "--restore" : "--config";
		argv[n++] = restore_dir ? (char *)restore_dir : cfgp;
		if (first_restore && def->vm.clone) {
			argv[n++] = "--clone";
			argv[n++] = clone_dir;
			argv[n++] = "--hostname"; /* the guest agent names the clone after its instance */
			argv[n++] = (char *)def->name;
		}
	}
	if (def->vm.vnc[0] && !listen) { /* (an arriving VM serves it again from its next start: the source
		                            may still hold the port on this host) */
		argv[n++] = "--vnc";
		argv[n++] = (char *)def->vm.vnc;
	}
	if (in->ha) { /* runs only while this host holds the cluster's lease (daemon/cluster.c) */
		argv[n++] = "--lease";
		argv[n++] = lease;
	}
	argv[n] = NULL;
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	bool pin = def->limits.cpuset[0] && inst_cpuset_each(def->limits.cpuset, add_cpu, &cpus);
	struct cg_group cg;
	bool has_cg = false;
	if (!vm_cgroup(d, def, &cg, &has_cg, err, errlen)) return false;
	/* Recorded before it may exec: a daemon restarted while this one waits (a destination can wait
	 * minutes) finds the process again instead of leaving it untracked. */
	struct record_pid rec = {d, in};
	struct spawn_opts so = {.stderr_path = logp,
	                        .cpus = pin ? &cpus : NULL,
	                        .cg = has_cg ? &cg : NULL,
	                        .before_exec = record_pid,
	                        .ctx = &rec,
	                        .name = def->name};
	pid_t pid = daemon_spawn(d->exe, argv, &so, err, errlen);
	if (pid < 0) goto fail_cg;
	int pidfd = (int)pidfd_open(pid, 0);

	bool exited = false;
	if (!wait_vm_up(pid, api, listen ? how->wait_s * 100 : 3000, &exited)) {
		char tail[300];
		log_tail(logp, tail, sizeof(tail));
		if (listen && !exited)
			snprintf(err, errlen, "no migration arrived on %s in %u s", listen, how->wait_s);
		else
			snprintf(err, errlen, "the VM did not %s%s%s", listen ? "arrive" : "start",
			         tail[0] ? ": " : " (no message)", tail);
		goto fail_kill;
	}
	in->pid = pid; /* the socket calls below name the instance */
	if (!vmdrv_apply_limits(d, in, err, errlen) ||
	    (!listen && !call(d, in, "POST", "/vm/resume", NULL, NULL, 10000, err, errlen)))
		goto fail_kill;
	if (first_restore) {
		char e2[128];
		fs_write_file_atomic(restored, 0644, "", 0, e2, sizeof(e2));
	}
	pthread_mutex_lock(&d->lock);
	in->pid = pid;
	in->pid_start = ct_proc_start_time(pid);
	in->pidfd = pidfd;
	in->cg = cg;
	in->has_cg = has_cg;
	in->state = ST_RUNNING;
	in->started_at = (int64_t)time(NULL);
	in->exit_code = -1;
	in->message[0] = 0;
	daemon_save_runtime(d, in);
	pthread_mutex_unlock(&d->lock);
	daemon_wake_monitor(d);
	return true;

fail_kill:
	in->pid = 0;
	in->pid_start = 0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (pidfd >= 0) close(pidfd);
fail_cg:
	if (has_cg) {
		char ignore[128];
		cg_destroy(&cg, ignore, sizeof(ignore));
	}
	return false;
}

static bool vmdrv_apply_limits(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	const struct inst_limits *l = &in->def.limits;
	json_t *body = json_pack("{s:I, s:i}", "ips", (json_int_t)l->ips, "cpu_max", (int)l->cpu_max);
	if (in->def.vm.cfg.ndisks || in->def.vm.restore[0]) {
		json_object_set_new(body, "disk_bps", json_integer((json_int_t)l->disk_bps));
		json_object_set_new(body, "disk_iops", json_integer((json_int_t)l->disk_iops));
	}
	if (in->def.vm.cfg.nnics || in->def.vm.restore[0]) {
		json_object_set_new(body, "net_rx_bw", json_integer((json_int_t)l->net_rx_bw));
		json_object_set_new(body, "net_tx_bw", json_integer((json_int_t)l->net_tx_bw));
	}
	bool ok = call(d, in, "POST", "/vm/limits", body, NULL, 10000, err, errlen);
	json_decref(body);
	if (ok) { /* the balloon; a VM restored from a board without one can only do without a target */
		body = json_pack("{s:I}", "memory_target", (json_int_t)l->memory_target);
		ok = call(d, in, "POST", "/vm/balloon", body, NULL, 10000, err, errlen) ||
		     (!l->memory_target && strstr(err, "has no balloon"));
		json_decref(body);
	}
	if (ok && in->has_cg) {
		struct cg_limits cl = inst_cg_limits(l);
		ok = cg_set_limits(&in->cg, &cl, err, errlen);
	}
	return ok;
}

/* Waits until the monitor saw the process end (lock held); false on timeout. */
static bool wait_down(struct daemon *d, struct instance *in, unsigned timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
	while (in->pidfd >= 0)
		if (pthread_cond_timedwait(&d->changed, &d->lock, &until) == ETIMEDOUT) return in->pidfd < 0;
	return true;
}

static void vmdrv_agent_socket(struct daemon *d, const struct instance *in, char *buf, size_t len);

/* Asks the guest agent to shut the guest down through its own init (false: no agent answered). */
static bool ask_guest_shutdown(struct daemon *d, struct instance *in)
{
	char sock[PATH_MAX], why[256] = "";
	vmdrv_agent_socket(d, in, sock, sizeof(sock));
	int fd = agent_dial(sock, 2000, why, sizeof(why));
	uint8_t mode[4];
	agent_put32(mode, AGENT_POWEROFF);
	bool ok = false;
	if (fd >= 0) {
		agent_set_timeout(fd, 2000); /* the agent is untrusted: a silent one does not hold the stop */
		ok = agent_request(fd, AGENT_SHUTDOWN, mode, sizeof(mode), NULL, 0, why, sizeof(why));
		close(fd);
	}
	if (!ok)
		log_info("%s: no clean shutdown through the guest agent (%s): stopping the VM", in->def.name,
		         why);
	return ok;
}

/* With a timeout, the guest first gets the chance to shut down cleanly through its agent (services
 * stopped, file systems unmounted); then, or at once with no timeout or no agent, the VM process
 * stops it; past the timeout it is killed. */
static bool vmdrv_stop(struct daemon *d, struct instance *in, unsigned timeout_s, char *err, size_t errlen)
{
	pthread_mutex_lock(&d->lock);
	bool running = in->state == ST_RUNNING;
	in->state = ST_STOPPING;
	daemon_save_runtime(d, in); /* the intent first: a daemon restarted from here finishes the stop */
	pthread_mutex_unlock(&d->lock);
	bool down = false;
	if (timeout_s && running && ask_guest_shutdown(d, in)) {
		pthread_mutex_lock(&d->lock);
		down = wait_down(d, in, timeout_s * 1000);
		pthread_mutex_unlock(&d->lock);
		if (!down)
			log_warn("%s: the guest did not shut down in %u s: stopping the VM", in->def.name,
			         timeout_s);
		if (!down) timeout_s = 10; /* for the VM process itself */
	}
	char msg[256];
	bool asked = down || call(d, in, "POST", "/vm/stop", NULL, NULL, 5000, msg, sizeof(msg));
	pthread_mutex_lock(&d->lock);
	if (!asked || !wait_down(d, in, timeout_s * 1000)) {
		if (in->pidfd >= 0) {
			log_warn("%s: the VM process did not stop in %u s: killing it", in->def.name,
			         timeout_s);
			pidfd_send_signal(in->pidfd, SIGKILL, NULL, 0);
		}
		wait_down(d, in, 10000);
	}
	bool ok = in->pidfd < 0;
	if (ok) {
		in->state = ST_STOPPED; /* asked for: not a crash even if the process had to be killed */
		if (!in->message[0] || in->exit_code != 0)
			snprintf(in->message, sizeof(in->message), "stopped");
		daemon_save_runtime(d, in);
	} else {
		snprintf(err, errlen, "the VM process (pid %d) would not end", (int)in->pid);
	}
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static bool vmdrv_pause(struct daemon *d, struct instance *in, bool pause, char *err, size_t errlen)
{
	pthread_mutex_lock(&d->lock);
	enum inst_state was = in->state;
	in->state = pause ? ST_PAUSED : ST_RUNNING; /* the intent first (a restarted daemon matches it
	                                               to what the VM process says) */
	daemon_save_runtime(d, in);
	pthread_mutex_unlock(&d->lock);
	if (call(d, in, "POST", pause ? "/vm/pause" : "/vm/resume", NULL, NULL, 10000, err, errlen))
		return true;
	pthread_mutex_lock(&d->lock);
	in->state = was;
	daemon_save_runtime(d, in);
	pthread_mutex_unlock(&d->lock);
	return false;
}

/* CPU time and resident memory of one process from /proc (VMs without a cgroup). */
static void proc_usage(pid_t pid, uint64_t *cpu_ns, uint64_t *rss)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	long long rss_pages;
	if (p &&
	    sscanf(
	        p + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %*u %lld",
	        &ut, &st, &rss_pages) == 3) {
		long hz = sysconf(_SC_CLK_TCK);
		*cpu_ns = (ut + st) * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
		*rss = (uint64_t)rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
	}
}

static uint64_t sum(json_t *array, const char *key)
{
	uint64_t s = 0;
	size_t i;
	json_t *v;
	json_array_foreach(array, i, v) s += (uint64_t)json_integer_value(json_object_get(v, key));
	return s;
}

static json_t *vmdrv_stats(struct daemon *d, struct instance *in, struct inst_usage *u, char *err,
                           size_t errlen)
{
	json_t *raw = NULL;
	if (!call(d, in, "GET", "/vm/stats", NULL, &raw, 5000, err, errlen)) return NULL;
	u->has_instructions = true;
	u->instructions = (uint64_t)json_integer_value(json_object_get(raw, "instructions"));
	json_t *disks = json_object_get(raw, "disks"), *nics = json_object_get(raw, "nics");
	u->disk_read_bytes = sum(disks, "read_bytes"), u->disk_write_bytes = sum(disks, "write_bytes");
	u->disk_read_ops = sum(disks, "read_ops"), u->disk_write_ops = sum(disks, "write_ops");
	u->net_rx_bytes = sum(nics, "rx_bytes"), u->net_tx_bytes = sum(nics, "tx_bytes");
	struct cg_stats cs = {0};
	if (in->has_cg && cg_read_stats(&in->cg, &cs) && cs.have[CG_CPUACCT]) u->cpu_ns = cs.cpu_usage_ns;
	if (cs.have[CG_MEMORY]) u->memory_bytes = cs.memory_bytes;
	if (!u->cpu_ns || !u->memory_bytes) { /* no cgroup: the process's own figures */
		uint64_t cpu = 0, rss = 0;
		proc_usage(in->pid, &cpu, &rss);
		if (!u->cpu_ns) u->cpu_ns = cpu;
		if (!u->memory_bytes) u->memory_bytes = rss;
	}
	return raw;
}

/* Copies a file keeping its holes (a sparse image stays sparse). */
static bool copy_sparse(const char *from, const char *to, char *err, size_t errlen)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
	struct stat st;
	if (in < 0 || fstat(in, &st)) goto fail;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
	if (out < 0 || ftruncate(out, st.st_size)) goto fail;
	for (off_t pos = 0; pos < st.st_size;) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0) break; /* only a hole is left */
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0) goto fail;
		off_t o = data;
		while (o < hole) {
			ssize_t n = copy_file_range(in, &o, out, &(off_t){o}, (size_t)(hole - o), 0);
			if (n <= 0) goto fail;
		}
		pos = hole;
	}
	if (fsync(out)) goto fail;
	close(in);
	close(out);
	return true;
fail:
	snprintf(err, errlen, "copying %s to %s: %s", from, to, strerror(errno));
	if (in >= 0) close(in);
	if (out >= 0) close(out);
	return false;
}

bool vmdrv_snapshot(struct daemon *d, struct instance *in, const char *dir, char *err, size_t errlen)
{
	bool was_paused = in->state == ST_PAUSED;
	json_t *body = json_pack("{s:s, s:s}", "dir", dir, "then", "pause");
	bool ok = call(d, in, "POST", "/vm/save", body, NULL, 600000, err, errlen);
	json_decref(body);
	if (!ok) return false;
	/* The disks as they were at that instant, while the guest stands still. */
	for (unsigned i = 0; ok && i < in->def.vm.cfg.ndisks; i++) {
		char dst[PATH_MAX + 32];
		snprintf(dst, sizeof(dst), "%s/disk%u.img", dir, i);
		ok = copy_sparse(in->def.vm.cfg.disks[i].path, dst, err, errlen);
	}
	char msg[256];
	if (!was_paused && !call(d, in, "POST", "/vm/resume", NULL, NULL, 10000, msg, sizeof(msg)))
		log_warn("%s: cannot resume after the snapshot: %s", in->def.name, msg);
	return ok;
}

bool vmdrv_restore_disks(struct daemon *d, struct instance *in, const char *dir, char *err, size_t errlen)
{
	for (unsigned i = 0; i < in->def.vm.cfg.ndisks; i++) {
		char src[PATH_MAX + 32];
		snprintf(src, sizeof(src), "%s/disk%u.img", dir, i);
		if (!copy_sparse(src, in->def.vm.cfg.disks[i].path, err, errlen)) return false;
	}
	return true;
}

bool vmdrv_migrate(struct daemon *d, struct instance *in, const char *to, char *err, size_t errlen)
{
	json_t *body = json_pack("{s:s}", "to", to);
	bool ok = call(d, in, "POST", "/vm/migrate", body, NULL, 3600000, err, errlen);
	json_decref(body);
	return ok;
}

static void vmdrv_exited(struct daemon *d, struct instance *in)
{
	siginfo_t si = {0};
	bool child = waitid(P_PIDFD, (id_t)in->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid;
	char path[PATH_MAX], buf[256] = "";
	inst_path(d, in, "exit.json", path, sizeof(path));
	json_t *ex = json_load_file(path, 0, NULL);
	const char *reason = ex ? json_string_value(json_object_get(ex, "reason")) : NULL;
	if (reason) {
		in->exit_code = (int)json_integer_value(json_object_get(ex, "exit_code"));
		in->state = ST_STOPPED;
		snprintf(in->message, sizeof(in->message), "%s", reason);
	} else if (in->state == ST_STOPPING) {
		in->state = ST_STOPPED;
		in->exit_code =
		    child && si.si_code == CLD_EXITED ? si.si_status : 128 + (child ? si.si_status : 9);
		snprintf(in->message, sizeof(in->message), "stopped");
	} else {
		in->state = ST_CRASHED;
		if (child && si.si_code != CLD_EXITED)
			snprintf(buf, sizeof(buf), "the VM process was killed by signal %d", si.si_status);
		else if (child)
			snprintf(buf, sizeof(buf),
			         "the VM process exited with status %d without recording why", si.si_status);
		else
			snprintf(buf, sizeof(buf),
			         "the VM process ended without recording why (killed or crashed)");
		in->exit_code = child ? (si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status) : -1;
		snprintf(in->message, sizeof(in->message), "%.150s; see `cloison logs %s`", buf,
		         in->def.name);
		log_warn("%s crashed: %s", in->def.name, buf);
	}
	json_decref(ex);
	close(in->pidfd);
	in->pidfd = -1;
	in->pid = 0;
	in->pid_start = 0;
	if (in->has_cg) {
		char ignore[128];
		cg_destroy(&in->cg, ignore, sizeof(ignore));
		in->has_cg = false;
	}
	daemon_save_runtime(d, in);
	pthread_cond_broadcast(&d->changed);
}

/* A start (or a receive) was under way when the daemon died: its intent was a running VM. One that
 * waits paused for the resume the start would have sent gets its limits and the resume now; one that
 * runs is running; one whose control socket does not answer within 5 s (a destination still waiting
 * for its migration, a process that hangs) is stopped, so no instance stays half started. */
static void finish_interrupted_start(struct daemon *d, struct instance *in)
{
	char sock[PATH_MAX], err[256];
	vmdrv_socket(d, in, "api", sock, sizeof(sock));
	bool exited = false;
	json_t *st = NULL;
	if (wait_vm_up(in->pid, sock, 500, &exited) &&
	    call(d, in, "GET", "/vm/settled", NULL, &st, 60000, err, sizeof(err))) {
		const char *state = json_string_value(json_object_get(st, "state"));
		bool ok =
		    state && (!strcmp(state, "running") ||
		              (!strcmp(state, "paused") && vmdrv_apply_limits(d, in, err, sizeof(err)) &&
		               call(d, in, "POST", "/vm/resume", NULL, NULL, 10000, err, sizeof(err))));
		json_decref(st);
		if (ok) {
			in->state = ST_RUNNING;
			in->started_at = (int64_t)time(NULL);
			in->exit_code = -1;
			in->message[0] = 0;
			log_info("%s: its start was interrupted by a daemon restart; finished it",
			         in->def.name);
			return;
		}
		if (!state) snprintf(err, sizeof(err), "the VM process reported no state");
	} else if (!exited) {
		snprintf(err, sizeof(err), "its control socket did not answer");
	}
	log_warn("%s: its start was interrupted by a daemon restart and cannot be finished (%s): stopping it",
	         in->def.name, exited ? "the VM process ended" : err);
	if (!exited) kill(in->pid, SIGKILL);
	in->state = ST_STOPPING; /* vmdrv_exited records a stop, not a crash */
	snprintf(in->message, sizeof(in->message), "start interrupted by a daemon restart");
	vmdrv_exited(d, in);
	snprintf(in->message, sizeof(in->message), "start interrupted by a daemon restart");
	daemon_save_runtime(d, in);
}

/* A stop was under way when the daemon died: the VM is asked to stop, then killed if it does not. */
static void finish_interrupted_stop(struct daemon *d, struct instance *in)
{
	char err[256];
	call(d, in, "POST", "/vm/stop", NULL, NULL, 5000, err, sizeof(err));
	struct pollfd p = {in->pidfd, POLLIN, 0};
	if (poll(&p, 1, 10000) <= 0) pidfd_send_signal(in->pidfd, SIGKILL, NULL, 0);
	log_info("%s: its stop was interrupted by a daemon restart; finished it", in->def.name);
	vmdrv_exited(d, in); /* stopping: recorded as stopped */
}

/* The recorded state of a running or paused VM matches its process again: one paused by an operation
 * the daemon's death interrupted (a snapshot, a migration) runs on; one resumed just before it is
 * running. */
static void match_pause_state(struct daemon *d, struct instance *in)
{
	char err[256];
	json_t *st = NULL;
	if (!call(d, in, "GET", "/vm/settled", NULL, &st, 60000, err, sizeof(err))) {
		log_warn("%s: the VM process does not answer (%s)", in->def.name, err);
		return;
	}
	const char *state = json_string_value(json_object_get(st, "state"));
	bool paused = state && !strcmp(state, "paused");
	if (paused && in->state == ST_RUNNING) {
		if (call(d, in, "POST", "/vm/resume", NULL, NULL, 10000, err, sizeof(err)))
			log_info("%s: paused by an operation a daemon restart interrupted; resumed",
			         in->def.name);
		else
			in->state = ST_PAUSED,
			log_warn("%s: paused, and cannot be resumed: %s", in->def.name, err);
	} else if (!paused && state && !strcmp(state, "running") && in->state == ST_PAUSED) {
		in->state = ST_RUNNING;
	}
	json_decref(st);
}

static void vmdrv_adopt(struct daemon *d, struct instance *in)
{
	bool was_up = in->state == ST_RUNNING || in->state == ST_PAUSED || in->state == ST_STARTING ||
	              in->state == ST_STOPPING;
	if (!was_up) return;
	if (in->pid > 0 && in->pid_start && ct_proc_start_time(in->pid) == in->pid_start &&
	    (in->pidfd = (int)pidfd_open(in->pid, 0)) >= 0) {
		char leaf[128];
		snprintf(leaf, sizeof(leaf), "cloison-vm-%s", in->def.name);
		in->has_cg = d->have_cg && cg_open(&d->cg, leaf, &in->cg);
		if (in->state == ST_STARTING)
			finish_interrupted_start(d, in);
		else if (in->state == ST_STOPPING)
			finish_interrupted_stop(d, in);
		else
			match_pause_state(d, in);
		if (in->pidfd >= 0)
			log_info("%s: found its VM process (pid %d) %s", in->def.name, (int)in->pid,
			         inst_state_name(in->state));
		return;
	}
	bool starting = in->state == ST_STARTING;
	if (starting) in->state = ST_STOPPING;               /* it never ran: a stop, not a crash */
	in->pidfd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* vmdrv_exited closes it */
	vmdrv_exited(d, in);
	if (starting) snprintf(in->message, sizeof(in->message), "start interrupted by a daemon restart");
}

/* A VM keeps nothing outside its instance directory, which the daemon removes. */
static bool vmdrv_remove(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	return true;
}

static void vmdrv_console_socket(struct daemon *d, const struct instance *in, char *buf, size_t len)
{
	vmdrv_socket(d, in, "console", buf, len);
}

/* `cloison run --api-sock P` serves the guest's vsock ports on P.vsock. */
static void vmdrv_agent_socket(struct daemon *d, const struct instance *in, char *buf, size_t len)
{
	vmdrv_socket(d, in, "api.vsock", buf, len);
}

static void vmdrv_console_log(struct daemon *d, const struct instance *in, char *buf, size_t len)
{
	inst_path(d, in, "console.log", buf, len);
}

/* The process's pidfd tells every change: nothing to read back. */
static void vmdrv_refresh(struct daemon *d, struct instance *in)
{
}

/* GET /vm/screenshot on the VM's control socket: a PNG, or the VM's reason (no display, nothing shown). */
static bool vmdrv_screenshot(struct daemon *d, struct instance *in, char **png, size_t *len, char *err,
                             size_t errlen)
{
	char sock[PATH_MAX], msg[256];
	vmdrv_socket(d, in, "api", sock, sizeof(sock));
	int status =
	    http_call_unix_binary(sock, "GET", "/vm/screenshot", NULL, 30000, png, len, msg, sizeof(msg));
	if (status == 200) return true;
	json_t *j = status && *png ? json_loads(*png, 0, NULL) : NULL;
	const char *e = json_string_value(json_object_get(j, "error"));
	snprintf(err, errlen, "%s", e ? e : status ? "the VM refused the request" : msg);
	json_decref(j);
	free(*png);
	*png = NULL;
	return false;
}

static int vmdrv_vnc_connect(struct daemon *d, struct instance *in, char *err, size_t errlen)
{
	char sock[PATH_MAX];
	vmdrv_socket(d, in, "api", sock, sizeof(sock));
	int fd = http_upgrade_unix(sock, "/vm/vnc", "rfb", 10000, err, errlen);
	return fd < 0 ? -1 : fd;
}

static json_t *vmdrv_input(struct daemon *d, struct instance *in, json_t *body, char *err, size_t errlen)
{
	json_t *out = NULL;
	return call(d, in, "POST", "/vm/input", body, &out, 10000, err, errlen) ? out : NULL;
}

const struct inst_driver vm_driver = {
    .start = vmdrv_start,
    .stop = vmdrv_stop,
    .pause = vmdrv_pause,
    .apply_limits = vmdrv_apply_limits,
    .stats = vmdrv_stats,
    .remove = vmdrv_remove,
    .screenshot = vmdrv_screenshot,
    .input = vmdrv_input,
    .vnc_connect = vmdrv_vnc_connect,
    .console_socket = vmdrv_console_socket,
    .console_log = vmdrv_console_log,
    .agent_socket = vmdrv_agent_socket,
    .exited = vmdrv_exited,
    .adopt = vmdrv_adopt,
    .refresh = vmdrv_refresh,
};

bool vmdrv_replica_delta(struct daemon *d, struct instance *in, const char *path, bool full, char *err,
                         size_t errlen)
{
	json_t *body = json_pack("{s:s, s:b}", "path", path, "full", full);
	bool ok = call(d, in, "POST", "/vm/replica", body, NULL, 60000, err, errlen);
	json_decref(body);
	return ok;
}
