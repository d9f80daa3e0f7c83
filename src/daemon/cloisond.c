/*
 * cloisond.c — the management daemon's entry point: finds its directories,
 * opens the state database, takes back the instances a previous run left
 * running (never killing them), watches VM processes end, starts the
 * instances marked autostart, and serves the API until SIGTERM. Stopping
 * the daemon leaves every instance running.
 */
#define _GNU_SOURCE
#include "daemon/api.h"
#include "daemon/api_internal.h"
#include "daemon/cluster.h"
#include "daemon/daemon.h"
#include "daemon/driver.h"
#include "daemon/lb.h"
#include "daemon/remote.h"
#include "daemon/replica.h"
#include "daemon/tokens.h"
#include "http/http_server.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/clock.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: cloisond [OPTIONS]\n"
	        "The cloison management daemon: keeps VM and container definitions in SQLite, runs them,\n"
	        "and serves the REST API (docs/api.md) that `cloison create|start|list|...` use.\n\n"
	        "  --socket PATH     API socket (default RUN_DIR/cloisond.sock; $CLOISON_SOCKET)\n"
	        "  --state-dir DIR   definitions, database, logs (default $CLOISON_STATE_DIR, else\n"
	        "                    /var/lib/cloison as root, ~/.local/state/cloison otherwise)\n"
	        "  --run-dir DIR     sockets (default /run/cloison as root, $XDG_RUNTIME_DIR/cloison)\n"
	        "  --listen ADDR:PORT  also serve the API and the web interface (/ui/) over HTTPS here,\n"
	        "                    to clients with a token (`cloison token create NAME`); :PORT: all\n"
	        "                    addresses. See docs/web.md before exposing it beyond the host\n"
	        "  --tls-cert FILE, --tls-key FILE  its certificate and key (PEM; default: a self-signed\n"
	        "                    pair made at first start in STATE_DIR/tls)\n"
	        "  -v, --verbose     more messages\n"
	        "  -q, --quiet       errors and warnings only (not even where it listens)\n"
	        "  -h, --help        this help\n"
	        "      --version     the version\n\n"
	        "Stopping the daemon (SIGTERM) leaves instances running; a new daemon takes them back.\n");
}

static bool setup_paths(struct daemon *d, const char *state, const char *run, const char *sock)
{
	snprintf(d->state_dir, sizeof(d->state_dir), "%s", state ? state : cloison_state_dir());
	if (run) {
		snprintf(d->run_dir, sizeof(d->run_dir), "%s", run);
	} else if (geteuid() == 0) {
		snprintf(d->run_dir, sizeof(d->run_dir), "/run/cloison");
	} else {
		const char *x = getenv("XDG_RUNTIME_DIR");
		snprintf(d->run_dir, sizeof(d->run_dir), "%s/cloison", x ? x : "/tmp");
	}
	if (!sock) sock = getenv("CLOISON_SOCKET");
	int n = sock ? snprintf(d->socket_path, sizeof(d->socket_path), "%s", sock)
	             : snprintf(d->socket_path, sizeof(d->socket_path), "%s/cloisond.sock", d->run_dir);
	if (n < 0 || (size_t)n >= sizeof(d->socket_path)) {
		log_error("the socket path is too long (at most %zu bytes)", sizeof(d->socket_path) - 1);
		return false;
	}
	char inst[PATH_MAX + 16];
	snprintf(inst, sizeof(inst), "%s/instances", d->state_dir);
	if (!mkdir_p(inst, 0700) || !mkdir_p(d->run_dir, 0755)) {
		log_error("cannot create %s or %s: %s", inst, d->run_dir, strerror(errno));
		return false;
	}
	/* The container engine keeps its records under the daemon's state directory. */
	setenv("CLOISON_STATE_DIR", d->state_dir, 1);
	/* VMs and containers run from the cloison binary beside this one ($CLOISON_BIN overrides). */
	const char *bin = getenv("CLOISON_BIN");
	if (bin) {
		snprintf(d->exe, sizeof(d->exe), "%s", bin);
	} else {
		char self[PATH_MAX];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (len < 0) len = 0;
		self[len] = 0;
		snprintf(d->exe, sizeof(d->exe), "%.4000s/cloison", dirname(self));
	}
	if (access(d->exe, X_OK)) {
		log_error("cannot run %s (set CLOISON_BIN to the cloison binary)", d->exe);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
	                                     {"state-dir", required_argument, NULL, 'S'},
	                                     {"run-dir", required_argument, NULL, 'R'},
	                                     {"verbose", no_argument, NULL, 'v'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {"listen", required_argument, NULL, 'l'},
	                                     {"tls-cert", required_argument, NULL, 'c'},
	                                     {"tls-key", required_argument, NULL, 'k'},
	                                     {NULL, 0, NULL, 0}};
	const char *state = NULL, *run = NULL, *sock = NULL;
	struct remote_config remote_cfg = {0};
	int c;
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'S': state = optarg; break;
		case 'R': run = optarg; break;
		case 'l': remote_cfg.listen = optarg; break;
		case 'c': remote_cfg.cert_file = optarg; break;
		case 'k': remote_cfg.key_file = optarg; break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'q': log_set_level(LOG_WARN); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("cloisond %s\n", CLOISON_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	/* Everything the daemon writes (its database, definitions, operations' files) is private to it;
	 * the API socket gets its own mode, and supervised processes start with the usual 022. */
	umask(077);
	static struct daemon daemon;
	struct daemon *d = &daemon;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&d->changed, &ca);
	d->started_ns = monotonic_ns();
	if (!setup_paths(d, state, run, sock)) return 1;

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* threads inherit the mask: only sigwait sees them */
	signal(SIGPIPE, SIG_IGN);

	char err[1024], dbpath[PATH_MAX + 16];
	d->have_cg = cg_host_probe(&d->cg, err, sizeof(err));
	if (!d->have_cg) log_warn("no cgroups (%s): CPU caps are enforced by the emulator only", err);
	snprintf(dbpath, sizeof(dbpath), "%.4000s/cloisond.db", d->state_dir);
	if (!(d->db = db_open(dbpath, err, sizeof(err)))) {
		log_error("%s", err);
		return 1;
	}
	if (!tokens_load(d, err, sizeof(err)) || !storage_init(d, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (!daemon_monitor_init(d, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	pthread_mutex_lock(&d->lock);
	bool loaded =
	    daemon_load_instances(d, err, sizeof(err)) && daemon_replay_journal(d, err, sizeof(err));
	pthread_mutex_unlock(&d->lock);
	if (!loaded) {
		log_error("%s", err);
		return 1;
	}
	daemon_monitor_start(d);
	if (!cluster_load(d, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (!replica_start(d, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (!lb_start(d, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	struct http_server *srv = http_server_start(d->socket_path, 0660, api_handle, d, err, sizeof(err));
	if (!srv) {
		log_error("%s", err);
		return 1;
	}
	struct remote *remote = NULL;
	if (remote_cfg.listen && !(remote = remote_start(d, &remote_cfg, err, sizeof(err)))) {
		log_error("%s", err);
		http_server_stop(srv);
		return 1;
	}
	if (!remote_cfg.listen && (remote_cfg.cert_file || remote_cfg.key_file)) {
		log_error("--tls-cert and --tls-key are for --listen");
		http_server_stop(srv);
		return 2;
	}
	log_notice("listening on %s (state in %s, %zu instance%s)", d->socket_path, d->state_dir, d->ninsts,
	           d->ninsts == 1 ? "" : "s");
	if (remote) log_notice("serving the API and the web interface on %s", remote_describe(remote));
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->ninsts; i++) {
		struct instance *in = d->insts[i];
		if (!in->def.autostart || in->state == ST_RUNNING || in->state == ST_PAUSED) continue;
		log_notice("autostart: starting %s", in->def.name);
		if (!api_start_async(d, in, err, sizeof(err)))
			log_error("autostart %s: %s", in->def.name, err);
	}
	pthread_mutex_unlock(&d->lock);

	int sig = 0;
	sigwait(&sigs, &sig);
	log_notice("signal %d: stopping the API; instances keep running", sig);
	remote_stop(remote);
	http_server_stop(srv);
	return 0;
}
