/*
 * cmd_ct.c — `cloison ct VERB`: system containers (run, list, exec, pause,
 * resume, stop, rm, stats). The work is in src/container/; this file reads
 * options and prints.
 *
 * Exit status: ct run returns the container's exit status (code, or
 * 128+signal), 125 when it could not be started; the other verbs 0 on
 * success, 1 on failure; 2 for usage errors.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "exec.h"
#include "output.h"
#include "usage.h"

#include "container/caps.h"
#include "container/ct_net.h"
#include "container/ct_state.h"
#include "container/lifecycle.h"
#include "container/ct_stats.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void usage_run(FILE *out)
{
	fprintf(
	    out,
	    "Usage: cloison ct run --rootfs DIR [OPTIONS] [-- COMMAND [ARG...]]\n"
	    "Runs COMMAND (default /sbin/init, else /bin/sh) in a new container: its own PID, mount, UTS,\n"
	    "IPC, network and cgroup namespaces, root filesystem, cgroup, reduced capabilities and a\n"
	    "seccomp filter.\n\n"
	    "  --rootfs DIR          the root filesystem (a busybox tree, a debootstrap'ed Debian...)\n"
	    "  --name NAME           the container's name (default: ct-XXXXXXXX)\n"
	    "  --hostname NAME       its hostname (default: the name)\n"
	    "  --overlay             write to a copy-on-write layer; DIR stays untouched\n"
	    "  --read-only           the root filesystem is mounted read-only\n"
	    "  --cpu-weight W        CPU share, 1..10000 (100 = default share)\n"
	    "  --cpu-max PCT         CPU cap in percent of one host CPU (150 = one and a half CPUs)\n"
	    "  --memory SIZE         memory limit (512M, 2G); beyond it the OOM killer acts inside\n"
	    "  --pids N              at most N processes and threads\n"
	    "  --io-weight W         block I/O share, 1..10000\n"
	    "  --net MODE            none (default: loopback only), host, or\n"
	    "                        "
	    "veth[,bridge=BR|network=NAME][,ip=A.B.C.D/N][,gw=A.B.C.D][,host-ip=A.B.C.D/N]\n"
	    "  --userns[=BASE[:N]]   a user namespace: root inside is uid BASE outside (default "
	    "100000:65536;\n"
	    "                        always on for non-root users, mapping their own uid)\n"
	    "  --cap-add CAP         keep CAP as well (NET_ADMIN, SYS_PTRACE...); ALL keeps everything\n"
	    "  --cap-drop CAP        drop CAP from the default set; ALL drops everything\n"
	    "  -d, --detach          run in the background; the console goes to the container's console.log\n"
	    "  --spec FILE           the whole definition as JSON (as the container's config.json; first)\n"
	    "  --rm                  with -d: remove the container when it exits\n"
	    "  --keep                without -d: keep the container's record (and overlay) after it exits\n"
	    "  -h, --help            this help\n\n"
	    "The default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP\n"
	    "NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP SYS_BOOT.\n"
	    "Exit status: the command's (128+N if killed by signal N); 125 if the container did not "
	    "start.\n");
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: cloison ct VERB [OPTIONS]\n\n"
	    "  run      run a command in a new container (ct run --help)\n"
	    "  list     list containers [--format table|json|yaml|csv]\n"
	    "  exec     run a command in a running container: ct exec [-t] NAME -- CMD...\n"
	    "  pause    freeze every process of a container: ct pause NAME\n"
	    "  resume   thaw it: ct resume NAME\n"
	    "  stop     ask init to shut down (SIGRTMIN+3 for systemd, SIGPWR for busybox init and\n"
	    "           sysvinit, SIGTERM otherwise), SIGKILL after --timeout S (10): ct stop NAME\n"
	    "  rm       remove a stopped container (--force stops it first): ct rm NAME\n"
	    "  stats    CPU, memory, pids, block and network I/O: ct stats NAME [--format F]\n\n"
	    "Containers are kept under $CLOISON_STATE_DIR/containers (default /var/lib/cloison as root).\n");
}

static bool parse_caps(const char *arg, bool add, uint64_t *caps)
{
	if (!strcasecmp(arg, "ALL")) {
		*caps = add ? ~0ull : 0;
		return true;
	}
	int c = caps_from_name(arg);
	if (c < 0) return false;
	if (add)
		*caps |= 1ull << c;
	else
		*caps &= ~(1ull << c);
	return true;
}

static bool parse_userns(const char *arg, struct ct_spec *s)
{
	s->userns = true;
	if (!arg) return true;
	char buf[64];
	if (strlen(arg) >= sizeof(buf)) return false;
	strcpy(buf, arg);
	char *colon = strchr(buf, ':');
	uint64_t base, count = s->uid_count;
	if (colon) {
		*colon = 0;
		if (!parse_uint(colon + 1, 1, UINT32_MAX, &count)) return false;
	}
	if (!parse_uint(buf, 0, UINT32_MAX, &base)) return false;
	s->uid_base = (uint32_t)base;
	s->uid_count = (uint32_t)count;
	return true;
}

static int ct_run_cmd(int argc, char **argv)
{
	enum {
		O_ROOTFS = 256,
		O_NAME,
		O_HOSTNAME,
		O_OVERLAY,
		O_RO,
		O_CPUW,
		O_CPUMAX,
		O_MEM,
		O_PIDS,
		O_IOW,
		O_NET,
		O_USERNS,
		O_CAPADD,
		O_CAPDROP,
		O_RM,
		O_KEEP,
		O_SPEC
	};
	static const struct option longopts[] = {{"rootfs", required_argument, 0, O_ROOTFS},
	                                         {"spec", required_argument, 0, O_SPEC},
	                                         {"name", required_argument, 0, O_NAME},
	                                         {"hostname", required_argument, 0, O_HOSTNAME},
	                                         {"overlay", no_argument, 0, O_OVERLAY},
	                                         {"read-only", no_argument, 0, O_RO},
	                                         {"cpu-weight", required_argument, 0, O_CPUW},
	                                         {"cpus-weight", required_argument, 0, O_CPUW},
	                                         {"cpu-max", required_argument, 0, O_CPUMAX},
	                                         {"memory", required_argument, 0, O_MEM},
	                                         {"pids", required_argument, 0, O_PIDS},
	                                         {"io-weight", required_argument, 0, O_IOW},
	                                         {"net", required_argument, 0, O_NET},
	                                         {"userns", optional_argument, 0, O_USERNS},
	                                         {"cap-add", required_argument, 0, O_CAPADD},
	                                         {"cap-drop", required_argument, 0, O_CAPDROP},
	                                         {"detach", no_argument, 0, 'd'},
	                                         {"rm", no_argument, 0, O_RM},
	                                         {"keep", no_argument, 0, O_KEEP},
	                                         {"help", no_argument, 0, 'h'},
	                                         {0, 0, 0, 0}};
	struct ct_spec s;
	ct_spec_defaults(&s);
	struct ct_run_opts o = {0};
	char err[1024];
	uint64_t v;
	int c;
	bool keep = false;
	opterr = 0; /* errors are ours: cli_option_error */
	while ((c = getopt_long(argc, argv, "+dh", longopts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case O_ROOTFS:
			ok = strlen(optarg) < sizeof(s.rootfs);
			if (ok && !realpath(optarg, s.rootfs)) {
				log_error("--rootfs %s: %s", optarg, strerror(errno));
				return 125;
			}
			break;
		case O_NAME:
			ok = strlen(optarg) < sizeof(s.name);
			if (ok) strcpy(s.name, optarg);
			break;
		case O_HOSTNAME:
			ok = strlen(optarg) < sizeof(s.hostname);
			if (ok) strcpy(s.hostname, optarg);
			break;
		case O_OVERLAY: s.overlay = true; break;
		case O_RO: s.read_only = true; break;
		case O_CPUW:
			ok = parse_uint(optarg, 1, 10000, &v);
			s.limits.cpu_weight = (uint32_t)v;
			break;
		case O_CPUMAX:
			ok = parse_uint(optarg, 1, 100000, &v);
			s.limits.cpu_max_pct = (uint32_t)v;
			break;
		case O_MEM: ok = parse_mem_size(optarg, &s.limits.memory) && s.limits.memory; break;
		case O_PIDS: ok = parse_uint(optarg, 1, 4194304, &s.limits.pids); break;
		case O_IOW:
			ok = parse_uint(optarg, 1, 10000, &v);
			s.limits.io_weight = (uint32_t)v;
			break;
		case O_NET:
			if (!ct_net_parse(optarg, &s.net, err, sizeof(err))) {
				log_error("%s", err);
				return 2;
			}
			break;
		case O_USERNS: ok = parse_userns(optarg, &s); break;
		case O_CAPADD: ok = parse_caps(optarg, true, &s.caps); break;
		case O_CAPDROP: ok = parse_caps(optarg, false, &s.caps); break;
		case 'd': o.detach = true; break;
		case O_RM: o.remove = true; break;
		case O_KEEP: keep = true; break;
		case O_SPEC: {
			if (optind != 3) {
				log_error("--spec FILE must come first (later options change it)");
				return 2;
			}
			json_error_t je;
			json_t *j = json_load_file(optarg, JSON_REJECT_DUPLICATES, &je);
			if (!j || !ct_spec_from_json(j, &s, err, sizeof(err))) {
				log_error("--spec %s: %s", optarg, j ? err : je.text);
				json_decref(j);
				return 2;
			}
			json_decref(j);
			break;
		}
		case 'h': usage_run(stdout); return 0;
		default: return cli_option_error("ct run", argv, longopts);
		}
		if (!ok) {
			const char *opt = "?";
			for (const struct option *lo = longopts; lo->name; lo++)
				if (lo->val == c) {
					opt = lo->name;
					break;
				}
			log_error("invalid value for --%s: '%s'", opt, optarg);
			return 2;
		}
	}
	if (!s.rootfs[0]) {
		log_error("ct run needs --rootfs DIR (see cloison ct run --help)");
		return 2;
	}
	if (keep && (o.remove || o.detach)) {
		log_error("--keep goes without -d and --rm");
		return 2;
	}
	if (!o.detach && !keep) o.remove = true; /* a foreground run leaves nothing behind */
	if (!s.name[0]) {
		uint32_t r = 0;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r)) r = (uint32_t)time(NULL) ^ (uint32_t)getpid();
		snprintf(s.name, sizeof(s.name), "ct-%08x", r);
	}
	if (geteuid() != 0) s.userns = true;
	for (; optind < argc && s.argc < CT_MAX_ARGS; optind++) s.argv[s.argc++] = argv[optind];
	s.argv[s.argc] = NULL;
	if (optind < argc) {
		log_error("too many arguments (at most %d)", CT_MAX_ARGS);
		return 2;
	}
	if (!ct_spec_check(&s, err, sizeof(err))) {
		log_error("%s", err);
		return 2;
	}
	if (!ct_net_resolve(&s.net, err, sizeof(err))) {
		log_error("%s", err);
		return 125;
	}
	int rc = ct_run(&s, &o, err, sizeof(err));
	if (rc < 0) {
		log_error("container %s: %s", s.name, err);
		return 125;
	}
	if (o.detach) printf("%s\n", s.name);
	return rc;
}

static int ct_list_cmd(int argc, char **argv)
{
	static const struct out_column cols[] = {{"NAME", "name", OUT_TEXT},
	                                         {"STATUS", "status", OUT_TEXT},
	                                         {"PID", "pid", OUT_PID},
	                                         {"EXIT", "exit_code", OUT_EXIT},
	                                         {"STARTED", "started_at", OUT_AGE},
	                                         {"ROOTFS", "rootfs", OUT_TEXT}};
	if (cli_wants_help(argc, argv)) {
		puts("Usage: cloison ct list [--format table|json|yaml|csv]\nLists the containers: name, "
		     "status, "
		     "init's PID, exit status, start time, root filesystem.");
		return 0;
	}
	enum out_format fmt;
	if (out_take_format("ct list", &argc, argv, &fmt)) return 2;
	if (argc > 1) return cli_usage_error("ct list", "unexpected argument '%s'", argv[1]);
	size_t n;
	char **names = ct_record_list(&n);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		struct ct_spec s;
		struct ct_runtime rt;
		char err[512];
		if (!ct_record_load(names[i], &s, &rt, err, sizeof(err))) {
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", names[i], "status",
			                                     "damaged", "rootfs", err));
			continue;
		}
		enum ct_status st = ct_status_of(&rt);
		bool live = st == CT_RUNNING || st == CT_PAUSED;
		json_array_append_new(arr,
		                      json_pack("{s:s, s:s, s:i, s:i, s:s, s:I}", "name", s.name, "status",
		                                ct_status_name(st), "pid", live ? (int)rt.pid : 0,
		                                "exit_code", st == CT_STOPPED ? rt.exit_code : -1, "rootfs",
		                                s.rootfs, "started_at", (json_int_t)rt.started_at));
		ct_spec_free(&s);
	}
	ct_free_names(names, n);
	out_table(stdout, arr, cols, sizeof(cols) / sizeof(cols[0]), fmt);
	json_decref(arr);
	return 0;
}

static int ct_stats_cmd(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		puts("Usage: cloison ct stats NAME [--format table|json|yaml|csv]\nA container's CPU time, "
		     "memory, processes, block and network I/O (from its cgroup).");
		return 0;
	}
	enum out_format fmt;
	if (out_take_format("ct stats", &argc, argv, &fmt)) return 2;
	if (argc != 2) return cli_usage_error("ct stats", "expected NAME [--format table|json|yaml|csv]");
	char err[512];
	json_t *j = ct_stats_json(argv[1], err, sizeof(err));
	if (!j) {
		log_error("%s", err);
		return 1;
	}
	if (fmt != OUT_TABLE) {
		out_document(stdout, j, fmt);
		json_decref(j);
		return 0;
	}
#define NUM(key) ((double)json_integer_value(json_object_get(j, key)))
	char a[32], b[32], c[32], d[32];
	printf("%s (%s, init PID %d)\n", argv[1], json_string_value(json_object_get(j, "status")),
	       (int)NUM("pid"));
	out_duration(a, sizeof(a), NUM("cpu_ns") / 1e9), out_duration(b, sizeof(b), NUM("cpu_user_ns") / 1e9);
	out_duration(c, sizeof(c), NUM("cpu_system_ns") / 1e9);
	out_duration(d, sizeof(d), NUM("cpu_throttled_ns") / 1e9);
	printf("  cpu      %s (user %s, system %s, throttled %s)\n", a, b, c, d);
	out_size(a, sizeof(a), NUM("memory_bytes")), out_size(b, sizeof(b), NUM("memory_peak_bytes"));
	printf("  memory   %s (peak %s", a, b);
	if (json_object_get(j, "memory_limit"))
		out_size(c, sizeof(c), NUM("memory_limit")), printf(", limit %s", c);
	printf(", OOM kills %.0f)\n", NUM("oom_kills"));
	printf("  pids     %.0f", NUM("pids"));
	if (json_object_get(j, "pids_limit")) printf(" (limit %.0f)", NUM("pids_limit"));
	out_size(a, sizeof(a), NUM("io_read_bytes")), out_size(b, sizeof(b), NUM("io_write_bytes"));
	printf("\n  block    read %s in %.0f ops, written %s in %.0f ops\n", a, NUM("io_read_ops"), b,
	       NUM("io_write_ops"));
	out_size(a, sizeof(a), NUM("net_rx_bytes")), out_size(b, sizeof(b), NUM("net_tx_bytes"));
	printf("  network  received %s, sent %s\n", a, b);
#undef NUM
	json_decref(j);
	return 0;
}

static int ct_exec_cmd(int argc, char **argv)
{
	struct exec_args a;
	int rc = exec_parse(argc, argv, "ct exec", &a);
	return rc >= 0 ? rc : exec_run(&a, 125);
}

static int ct_simple_cmd(const char *verb, int argc, char **argv)
{
	unsigned timeout = 10;
	bool force = false;
	const char *name = NULL;
	if (cli_wants_help(argc, argv)) {
		printf("Usage: cloison ct %s NAME%s\n", verb,
		       !strcmp(verb, "stop") ? " [--timeout SECONDS]\nAsks the container's init to shut down "
		                               "the way it understands, waits, then kills what is left."
		       : !strcmp(verb, "rm")
		           ? " [--force]\nRemoves a stopped container (--force stops it first)."
		           : "");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		uint64_t v;
		if (!strcmp(verb, "stop") && (!strcmp(argv[i], "--timeout") || !strcmp(argv[i], "-t")) &&
		    i + 1 < argc) {
			if (!parse_uint(argv[++i], 0, 3600, &v)) {
				log_error("--timeout must be 0..3600 seconds");
				return 2;
			}
			timeout = (unsigned)v;
		} else if (!strcmp(verb, "rm") && (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))) {
			force = true;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			fprintf(stderr, "Usage: cloison ct %s NAME%s\n", verb,
			        !strcmp(verb, "stop") ? " [--timeout SECONDS]"
			        : !strcmp(verb, "rm") ? " [--force]"
			                              : "");
			return 2;
		}
	}
	if (!name) {
		fprintf(stderr, "Usage: cloison ct %s NAME\n", verb);
		return 2;
	}
	char err[1024];
	bool ok = !strcmp(verb, "stop")    ? ct_stop(name, timeout, err, sizeof(err))
	          : !strcmp(verb, "rm")    ? ct_remove(name, force, err, sizeof(err))
	          : !strcmp(verb, "pause") ? ct_pause(name, true, err, sizeof(err))
	                                   : ct_pause(name, false, err, sizeof(err));
	if (!ok) {
		log_error("%s", err);
		return 1;
	}
	cli_done("%s container %s",
	         !strcmp(verb, "stop")    ? "stopped"
	         : !strcmp(verb, "rm")    ? "removed"
	         : !strcmp(verb, "pause") ? "paused"
	                                  : "resumed",
	         name);
	return 0;
}

int cmd_ct(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *verb = argv[1];
	argc--;
	argv++;
	if (!strcmp(verb, "run")) {
		/* Skip the libraries' exit-time teardown: nothing of it matters to a finished run. */
		int rc = ct_run_cmd(argc, argv);
		fflush(NULL);
		_exit(rc);
	}
	if (!strcmp(verb, "list") || !strcmp(verb, "ls")) return ct_list_cmd(argc, argv);
	if (!strcmp(verb, "stats")) return ct_stats_cmd(argc, argv);
	if (!strcmp(verb, "exec")) return ct_exec_cmd(argc, argv);
	if (!strcmp(verb, "stop") || !strcmp(verb, "rm") || !strcmp(verb, "pause") || !strcmp(verb, "resume"))
		return ct_simple_cmd(verb, argc, argv);
	static const char *const verbs[] = {"run", "list", "exec", "pause", "resume", "stop", "rm", "stats"};
	const char *near = cli_suggest(verb, verbs, sizeof(verbs) / sizeof(verbs[0]));
	if (near) return cli_usage_error("ct", "unknown verb '%s'; did you mean '%s'?", verb, near);
	return cli_usage_error("ct", "unknown verb '%s'", verb);
}
