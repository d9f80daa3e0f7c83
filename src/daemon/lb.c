/*
 * lb.c — see lb.h. A thread compares, twice a second, the load balancers
 * this host should run with what HAProxy runs: it writes RUN_DIR/haproxy.cfg
 * (one frontend and one backend per balancer, health checks on every
 * server), checks it with `haproxy -c`, starts HAProxy (master-worker, in
 * the foreground of its own process) or reloads it (SIGUSR2), and restarts
 * it if it died. In a cluster it also adds the listen addresses of the
 * balancers it runs to the interface of the host's cluster address (and
 * announces them with a gratuitous ARP), and removes them when it stops
 * running them, fenced or not.
 */
#define _GNU_SOURCE
#include "daemon/lb.h"

#include "daemon/api_internal.h"
#include "daemon/cluster.h"
#include "daemon/spawn.h"
#include "net/hostif.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKENDS 32
#define LB_NAME_MAX 48

struct lb_engine {
	struct daemon *d;
	char cfg[PATH_MAX], sock[PATH_MAX], log[PATH_MAX];
	char *applied; /* the configuration HAProxy runs */
	pid_t pid;     /* HAProxy's master */
	bool adopted;  /* started by a previous cloisond: not our child */
	char pidfile[PATH_MAX];
	json_t *addresses; /* listen addresses this host added: "A.B.C.D" -> interface */
	pthread_t thread;
};

static struct lb_engine engine;

/* ---- definitions ---- */

static bool parse_addr_port(const char *s, struct in_addr *a, unsigned *port)
{
	char host[64];
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || (size_t)(colon - s) >= sizeof(host)) return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end || p == 0 || p > 65535 || !colon[1]) return false;
	*port = (unsigned)p;
	return inet_pton(AF_INET, host, a) == 1;
}

static bool plain_name(const char *s, size_t max)
{
	return parse_is_plain(s, max, "-_.");
}

bool lb_def_check(json_t *def, char *err, size_t errlen)
{
	const char *name = NULL, *listen = NULL, *check = "tcp";
	json_t *backends = NULL;
	json_int_t interval = 1000;
	json_error_t je;
	if (json_unpack_ex(def, &je, JSON_STRICT, "{s:s, s:s, s:o, s?:s, s?:I}", "name", &name, "listen",
	                   &listen, "backends", &backends, "check", &check, "interval_ms", &interval))
		return snprintf(err, errlen,
		                "expected {\"name\", \"listen\": \"A.B.C.D:PORT\", \"backends\": "
		                "[\"INSTANCE:PORT\"...], "
		                "\"check\": \"tcp\"|\"http:/PATH\", \"interval_ms\": N}: %s",
		                je.text),
		       false;
	struct in_addr a;
	unsigned port;
	if (!plain_name(name, LB_NAME_MAX))
		return snprintf(err, errlen, "name: letters, digits, '-', '_', '.' (at most %d)",
		                LB_NAME_MAX),
		       false;
	if (!parse_addr_port(listen, &a, &port))
		return snprintf(err, errlen, "listen '%.100s': expected A.B.C.D:PORT", listen), false;
	if (!json_is_array(backends) || !json_array_size(backends) ||
	    json_array_size(backends) > MAX_BACKENDS)
		return snprintf(err, errlen, "backends: 1 to %d of INSTANCE:PORT or A.B.C.D:PORT",
		                MAX_BACKENDS),
		       false;
	size_t i;
	json_t *b;
	json_array_foreach(backends, i, b)
	{
		const char *s = json_string_value(b);
		const char *colon = s ? strrchr(s, ':') : NULL;
		char who[128];
		if (!colon || (size_t)(colon - s) >= sizeof(who))
			return snprintf(err, errlen, "backend '%.100s': expected INSTANCE:PORT", s ? s : "?"),
			       false;
		memcpy(who, s, (size_t)(colon - s));
		who[colon - s] = 0;
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);
		if (*end || !colon[1] || p == 0 || p > 65535 || !plain_name(who, 100))
			return snprintf(err, errlen, "backend '%.100s': expected INSTANCE:PORT", s), false;
	}
	bool http = !strncmp(check, "http:/", 6) && strlen(check) < 200 &&
	            strspn(check + 5, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") ==
	                strlen(check + 5);
	if (strcmp(check, "tcp") && !http)
		return snprintf(err, errlen, "check '%.100s': tcp, or http:/PATH", check), false;
	if (interval < 100 || interval > 60000)
		return snprintf(err, errlen, "interval_ms: 100 to 60000"), false;
	json_object_set_new(def, "check", json_string(check));
	json_object_set_new(def, "interval_ms", json_integer(interval));
	return true;
}

/* ---- what to run ---- */

/* A backend's address: given, or the instance's (a container's static IPv4 on a veth). */
static bool resolve(struct daemon *d, const char *spec, char *out, size_t len, char *why, size_t whylen)
{
	const char *colon = strrchr(spec, ':');
	char who[128];
	snprintf(who, sizeof(who), "%.*s", (int)(colon - spec), spec);
	struct in_addr a;
	if (inet_pton(AF_INET, who, &a) == 1) {
		snprintf(out, len, "%s", spec);
		return true;
	}
	json_t *def = NULL;
	pthread_mutex_lock(&d->lock);
	struct instance *in = daemon_find(d, who);
	if (in) def = inst_def_to_json(&in->def);
	pthread_mutex_unlock(&d->lock);
	if (!def && d->cluster) def = cluster_instance_definition(d, who);
	const char *ip = json_string_value(
	    json_object_get(json_object_get(json_object_get(def, "container"), "net"), "ip"));
	bool vm = def && !json_object_get(def, "container");
	if (ip)
		snprintf(out, len, "%s%s", ip, colon);
	else
		snprintf(why, whylen, "%s",
		         !def ? "no such instance"
		         : vm ? "a VM: give its address (A.B.C.D:PORT)"
		              : "the container has no static address");
	json_decref(def);
	return ip != NULL;
}

/* The balancers this host runs: name -> definition. */
static json_t *wanted(struct daemon *d)
{
	if (d->cluster) return cluster_lbs(d, true);
	pthread_mutex_lock(&d->lock);
	json_t *all = json_deep_copy(d->lbs);
	pthread_mutex_unlock(&d->lock);
	return all;
}

static char *config_text(struct lb_engine *e, json_t *lbs)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) return NULL;
	fprintf(f,
	        "# Written by cloisond (daemon/lb.c) for this host's load balancers: edits are overwritten.\n"
	        "global\n\tstats socket %s mode 600 level admin\n\tlog stderr format short local0 notice\n"
	        "defaults\n\tmode tcp\n\tlog global\n\ttimeout connect 2s\n\ttimeout client 60s\n"
	        "\ttimeout server 60s\n\tretries 2\n\toption redispatch\n",
	        e->sock);
	const char *name;
	json_t *def;
	json_object_foreach(lbs, name, def)
	{
		const char *check = json_string_value(json_object_get(def, "check"));
		json_int_t every = json_integer_value(json_object_get(def, "interval_ms"));
		fprintf(f,
		        "frontend fe_%s\n\tbind %s\n\tdefault_backend be_%s\nbackend be_%s\n\tbalance "
		        "roundrobin\n",
		        name, json_string_value(json_object_get(def, "listen")), name, name);
		if (check && !strncmp(check, "http:", 5)) fprintf(f, "\toption httpchk GET %s\n", check + 5);
		size_t i;
		json_t *b;
		json_array_foreach(json_object_get(def, "backends"), i, b)
		{
			char addr[160], why[128];
			if (resolve(e->d, json_string_value(b), addr, sizeof(addr), why, sizeof(why)))
				fprintf(f, "\tserver s%zu %s check inter %lld fall 2 rise 2\n", i, addr,
				        (long long)every);
			else
				fprintf(f, "\t# s%zu %s: %s\n", i, json_string_value(b), why);
		}
	}
	fclose(f);
	return text;
}

/* Runs HAProxy on a file; its exit status (-1: could not run it). */
static int haproxy_check(const char *cfg)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp("haproxy", "haproxy", "-c", "-q", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool haproxy_alive(struct lb_engine *e)
{
	if (e->pid <= 0) return false;
	if (e->adopted) return kill(e->pid, 0) == 0;
	return waitpid(e->pid, NULL, WNOHANG) == 0;
}

static void haproxy_stop(struct lb_engine *e)
{
	if (e->pid <= 0) return;
	kill(e->pid, SIGTERM);
	for (int i = 0; i < 50 && haproxy_alive(e); i++) usleep(20000);
	if (haproxy_alive(e)) {
		kill(e->pid, SIGKILL);
		if (!e->adopted) waitpid(e->pid, NULL, 0);
	}
	e->pid = 0;
	e->adopted = false;
	unlink(e->pidfile);
}

/* A HAProxy a previous cloisond started on the same configuration keeps serving: it is taken back
 * (and reloaded with the current configuration at the first pass), never started twice. */
static void haproxy_adopt(struct lb_engine *e)
{
	FILE *f = fopen(e->pidfile, "r");
	int pid = 0;
	if (!f) return;
	if (fscanf(f, "%d", &pid) != 1) pid = 0;
	fclose(f);
	char path[64], cmd[PATH_MAX + 64] = "";
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = pid > 0 ? fopen(path, "r") : NULL;
	size_t n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
	if (f) fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!cmd[i]) cmd[i] = ' ';
	cmd[n] = 0;
	if (pid > 0 && strstr(cmd, "haproxy") && strstr(cmd, e->cfg)) {
		e->pid = pid;
		e->adopted = true;
		log_info("lb: took back HAProxy (pid %d)", pid);
	}
}

static void apply(struct lb_engine *e, json_t *lbs)
{
	bool alive = haproxy_alive(e);
	if (!alive) e->pid = 0, e->adopted = false;
	if (!json_object_size(lbs)) {
		if (e->pid) log_info("lb: no load balancer to run here: stopping HAProxy");
		haproxy_stop(e);
		free(e->applied);
		e->applied = NULL;
		return;
	}
	char *text = config_text(e, lbs);
	if (!text) return;
	if (alive && e->applied && !strcmp(text, e->applied)) {
		free(text);
		return;
	}
	char err[512];
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.new", e->cfg);
	if (!fs_write_file_atomic(tmp, 0600, text, strlen(text), err, sizeof(err)) ||
	    haproxy_check(tmp) != 0) {
		if (!e->applied || strcmp(text, e->applied))
			log_error("lb: HAProxy refuses the configuration in %s", tmp);
		free(e->applied);
		e->applied = text; /* not tried again until it changes */
		return;
	}
	rename(tmp, e->cfg);
	free(e->applied);
	e->applied = text;
	if (alive) {
		kill(e->pid, SIGUSR2); /* the master reloads: new workers, old connections finish */
		return;
	}
	char *argv[] = {"haproxy", "-W", "-db", "-f", e->cfg, "-p", e->pidfile, NULL};
	struct spawn_opts so = {.stderr_path = e->log, .name = "haproxy"};
	const char *exe = access("/usr/sbin/haproxy", X_OK) == 0 ? "/usr/sbin/haproxy" : "haproxy";
	e->pid = daemon_spawn(exe, argv, &so, err, sizeof(err));
	if (e->pid < 0) {
		e->pid = 0;
		log_error("lb: cannot start HAProxy: %s", err);
	}
}

/* ---- listen addresses that move with a balancer (cluster) ---- */

/* The interface holding `addr`, and whether `ip` is already a local address. */
static bool find_iface(const char *addr, const char *ip, char *ifname, size_t len, bool *local)
{
	struct ifaddrs *ifs, *i;
	*local = false;
	ifname[0] = 0;
	if (getifaddrs(&ifs)) return false;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof(a));
		if (!strcmp(a, addr)) snprintf(ifname, len, "%s", i->ifa_name);
		if (!strcmp(a, ip)) *local = true;
	}
	freeifaddrs(ifs);
	return ifname[0] != 0;
}

static int run_ip(const char *verb, const char *ip, const char *ifname)
{
	char cidr[40];
	snprintf(cidr, sizeof(cidr), "%s/32", ip);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp("ip", "ip", "addr", verb, cidr, "dev", ifname, (char *)NULL);
		_exit(127);
	}
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void move_addresses(struct lb_engine *e, json_t *lbs)
{
	char self[64];
	if (!e->d->cluster || !cluster_self_addr(e->d, self, sizeof(self))) return;
	/* Another host's balancer address found here (left by a cloisond that died with it configured):
	 * given up, or two hosts would answer ARP for it. */
	json_t *all = cluster_lbs(e->d, false);
	const char *lname;
	json_t *ldef;
	json_object_foreach(all, lname, ldef)
	{
		char ip[64], ifname[IFNAMSIZ + 1];
		bool local;
		snprintf(ip, sizeof(ip), "%s", json_string_value(json_object_get(ldef, "listen")) ?: ":");
		*strrchr(ip, ':') = 0;
		if (json_object_get(lbs, lname) || !strcmp(ip, self) ||
		    !find_iface(self, ip, ifname, sizeof(ifname), &local) || !local)
			continue;
		bool ours_too = false; /* the same address may serve one of ours */
		const char *n2;
		json_t *d2;
		json_object_foreach(lbs, n2, d2)
		{
			ours_too |=
			    !strncmp(json_string_value(json_object_get(d2, "listen")) ?: "", ip, strlen(ip));
		}
		if (ours_too) continue;
		if (run_ip("del", ip, ifname) == 0)
			log_info("lb: removed stale address %s from %s", ip, ifname);
		json_object_del(e->addresses, ip);
	}
	json_decref(all);
	json_t *want = json_object();
	const char *name;
	json_t *def;
	json_object_foreach(lbs, name, def)
	{
		char ip[64];
		snprintf(ip, sizeof(ip), "%s", json_string_value(json_object_get(def, "listen")));
		*strrchr(ip, ':') = 0;
		json_object_set_new(want, ip, json_true());
	}
	const char *ip;
	json_t *v, *tmp;
	json_object_foreach_safe(e->addresses, tmp, ip, v) /* no longer ours */
	{
		if (json_object_get(want, ip)) continue;
		run_ip("del", ip, json_string_value(v));
		log_info("lb: gave up address %s", ip);
		json_object_del(e->addresses, ip);
	}
	json_object_foreach(want, ip, v)
	{
		char ifname[IFNAMSIZ + 1];
		bool local;
		if (json_object_get(e->addresses, ip) ||
		    !find_iface(self, ip, ifname, sizeof(ifname), &local) || local || !strcmp(ip, "0.0.0.0"))
			continue;
		struct in_addr a;
		if (run_ip("add", ip, ifname) == 0) {
			inet_pton(AF_INET, ip, &a);
			hostif_announce(ifname, a);
			json_object_set_new(e->addresses, ip, json_string(ifname));
			log_info("lb: took address %s on %s", ip, ifname);
		}
	}
	json_decref(want);
}

static void *lb_thread(void *arg)
{
	struct lb_engine *e = arg;
	for (;;) {
		json_t *lbs = wanted(e->d);
		move_addresses(e, lbs);
		apply(e, lbs);
		json_decref(lbs);
		usleep(500000);
	}
	return NULL;
}

static void add_stored(void *opaque, const char *name, const char *definition, int64_t created_at)
{
	(void)created_at;
	json_t *def = json_loads(definition, 0, NULL);
	if (def) json_object_set_new(opaque, name, def);
}

bool lb_start(struct daemon *d, char *err, size_t errlen)
{
	struct lb_engine *e = &engine;
	e->d = d;
	snprintf(e->cfg, sizeof(e->cfg), "%.4000s/haproxy.cfg", d->run_dir);
	snprintf(e->sock, sizeof(e->sock), "%.4000s/haproxy.sock", d->run_dir);
	snprintf(e->log, sizeof(e->log), "%.4000s/haproxy.log", d->state_dir);
	snprintf(e->pidfile, sizeof(e->pidfile), "%.4000s/haproxy.pid", d->run_dir);
	haproxy_adopt(e);
	e->addresses = json_object();
	d->lbs = json_object();
	if (!db_lbs_list(d->db, add_stored, d->lbs, err, errlen)) return false;
	if (pthread_create(&e->thread, NULL, lb_thread, e))
		return snprintf(err, errlen, "cannot start a thread"), false;
	return true;
}

/* ---- status, from HAProxy's stats socket ---- */

/* "be_NAME,sN" -> status ("UP", "DOWN", "MAINT", "no check"...). */
static json_t *server_states(struct lb_engine *e)
{
	json_t *out = json_object();
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", e->sock);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || write(fd, "show stat\n", 10) != 10) {
		if (fd >= 0) close(fd);
		return out;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap && !(buf = realloc(buf, cap = cap * 2 + 8192))) break;
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0) break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf) return out;
	buf[len] = 0;
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') continue;
		char *field[20] = {0};
		int n = 0;
		for (char *p = line; n < 20;
		     n++) { /* CSV without quoting: pxname, svname, ..., status (18th) */
			field[n] = p;
			char *comma = strchr(p, ',');
			if (!comma) {
				n++;
				break;
			}
			*comma = 0;
			p = comma + 1;
		}
		if (n < 18 || strncmp(field[0], "be_", 3) || field[1][0] != 's') continue;
		char key[128];
		snprintf(key, sizeof(key), "%s,%s", field[0], field[1]);
		json_object_set_new(out, key, json_string(field[17]));
	}
	free(buf);
	return out;
}

static json_t *lb_json(struct lb_engine *e, const char *name, json_t *def, json_t *states, bool here)
{
	json_t *j = json_deep_copy(def);
	json_t *bs = json_array();
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(def, "backends"), i, b)
	{
		char key[128], addr[160], why[128];
		snprintf(key, sizeof(key), "be_%s,s%zu", name, i);
		const char *st = json_string_value(json_object_get(states, key));
		bool resolved = resolve(e->d, json_string_value(b), addr, sizeof(addr), why, sizeof(why));
		json_t *o = json_pack("{s:O, s:s}", "backend", b, "state",
		                      !here       ? "elsewhere"
		                      : !resolved ? "unresolved"
		                      : st        ? st
		                                  : "unknown");
		if (resolved)
			json_object_set_new(o, "address", json_string(addr));
		else
			json_object_set_new(o, "problem", json_string(why));
		json_array_append_new(bs, o);
	}
	json_object_set_new(j, "servers", bs);
	return j;
}

/* ---- the API ---- */

void lb_api(struct daemon *d, const char *method, char **seg, int n, json_t *body, struct http_response *r)
{
	struct lb_engine *e = &engine;
	bool get = !strcmp(method, "GET");
	if (n == 2 && !strcmp(method, "POST")) {
		char err[512];
		json_t *def = json_deep_copy(body);
		if (!lb_def_check(def, err, sizeof(err))) {
			json_decref(def);
			return api_fail(r, ERR_INVALID, "%s", err);
		}
		const char *name = json_string_value(json_object_get(def, "name"));
		struct error ex;
		bool ok;
		if (d->cluster) {
			ok = cluster_lb_put(d, def, &ex);
		} else {
			char *text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
			ok = text && db_lb_insert(d->db, name, text, (int64_t)time(NULL), &ex);
			if (!text) err_set(&ex, ERR_INTERNAL, "out of memory");
			free(text);
			if (ok) json_object_set(d->lbs, name, def);
		}
		json_t *answer = ok ? json_deep_copy(def) : NULL;
		json_decref(def);
		if (!ok) return api_fail_error(r, &ex);
		return api_reply(r, 201, answer);
	}
	if (n == 3 && !strcmp(method, "DELETE")) {
		struct error ex;
		char err[512];
		if (d->cluster) {
			if (!cluster_lb_rm(d, seg[2], &ex)) return api_fail_error(r, &ex);
		} else {
			if (!json_object_get(d->lbs, seg[2]))
				return api_fail(r, ERR_NOT_FOUND, "no load balancer named '%.80s'", seg[2]);
			if (!db_lb_delete(d->db, seg[2], err, sizeof(err)))
				return api_fail(r, ERR_INTERNAL, "%s", err);
			json_object_del(d->lbs, seg[2]);
		}
		return api_reply(r, 200, json_pack("{s:s, s:b}", "name", seg[2], "removed", 1));
	}
	if (!get || n > 3)
		return api_fail(r, ERR_NOT_FOUND, "no such endpoint under /v1/lbs (see docs/api.md)");
	/* Reading: the daemon's lock is not needed past here (resolve takes it). */
	json_t *all = d->cluster ? cluster_lbs(d, false) : json_deep_copy(d->lbs);
	json_t *mine = d->cluster ? cluster_lbs(d, true) : json_incref(all);
	pthread_mutex_unlock(&d->lock);
	json_t *states = server_states(e);
	json_t *out = n == 2 ? json_array() : NULL;
	const char *name;
	json_t *def;
	json_object_foreach(all, name, def)
	{
		if (n == 3 && strcmp(name, seg[2])) continue;
		json_t *j = lb_json(e, name, def, states, json_object_get(mine, name) != NULL);
		if (n == 2)
			json_array_append_new(out, j);
		else
			out = j;
	}
	json_decref(states);
	json_decref(all);
	json_decref(mine);
	pthread_mutex_lock(&d->lock);
	if (!out) return api_fail(r, ERR_NOT_FOUND, "no load balancer named '%.80s'", seg[2]);
	api_reply(r, 200, out);
}
