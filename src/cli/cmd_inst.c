/*
 * cmd_inst.c — the verbs that manage instances through cloisond's API:
 * create, start, stop, restart, pause, resume, rm, list, info, console,
 * exec, snapshot, restore, clone, migrate, receive, stats, logs, limits. They work on
 * VMs and containers alike. Long operations are waited for.
 *
 * Exit status: 0 done; 1 the daemon refused or the operation failed (the
 * message says why); 2 usage errors; 3 the daemon is not reachable.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "util/fs.h"
#include "util/log.h"
#include "daemon_client.h"
#include "exec.h"
#include "output.h"
#include "usage.h"

#include "container/lifecycle.h"
#include "util/parse.h"
#include "http/http.h"
#include "util/tty.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ESCAPE 0x1d /* Ctrl-] as in virsh console */

/* ---- create ---- */

static int usage_create(FILE *out)
{
	fprintf(
	    out,
	    "Usage: cloison create [--type vm|container] NAME [OPTIONS] [-- COMMAND...]\n"
	    "   or: cloison create -f FILE.json [--name NAME]\n"
	    "Defines an instance in cloisond (docs/api.md describes the JSON definition).\n"
	    "  -f, --file FILE       the definition as JSON (`cloison info NAME --format json` gives one)\n"
	    "  --start               start it once created\n"
	    "  --autostart           start it whenever cloisond starts\n"
	    "VMs:  --user-data FILE  --ssh-key FILE (repeat): a cloud-init seed for the guest's first boot\n"
	    "      (NoCloud; host name: the instance's, or --hostname)\n"
	    "      --image IMAGE  the VM's first disk is an overlay over the image's (`cloison image`),\n"
	    "      which also gives the boot, CPUs and memory the options below leave out\n"
	    "      --memory SIZE (256M)  --cpus N  --kernel F  --initrd F  --firmware F|none  --append S\n"
	    "      --disk SPEC (repeat)  --net SPEC (repeat)  --share DIR:TAG[,ro] (repeat): as\n"
	    "      `cloison run`;  --jit on|off  --display on|off|WxH (a screen: `cloison screenshot`)\n"
	    "      --vnc [ADDR:]PORT  serve that screen over VNC (127.0.0.1 unless told; no password)\n"
	    "      --cpu-ext [-]EXT[,...]  ISA extensions switched, as `cloison run`\n"
	    "Containers:  --rootfs DIR  --overlay  --read-only  --hostname H  --net none|host|veth,...\n"
	    "      --image IMAGE  a container image's tree under the container's own layer, with the\n"
	    "      image's command, environment and working directory\n"
	    "Limits:  --cpu-weight W (1-10000, 100 default)  --cpu-max PCT (of one host CPU)\n"
	    "      --mem-limit SIZE  --pids N (containers)  --ips N (VMs: instructions/s per hart)\n"
	    "      --disk-bps B --disk-iops N --net-rx-bw BITS --net-tx-bw BITS (VMs)  --cpuset 0-1\n"
	    "      --memory-target SIZE (VMs: what the guest keeps; the balloon takes the rest)\n");
	return out == stdout ? 0 : 2;
}

static bool put_size(json_t *o, const char *key, const char *v, bool rate)
{
	uint64_t n;
	if (!(rate ? parse_rate(v, &n) : parse_disk_size(v, &n))) {
		log_error("invalid value for %s: '%s'", key, v);
		return false;
	}
	json_object_set_new(o, key, json_integer((json_int_t)n));
	return true;
}

int inst_create(int argc, char **argv)
{
	enum {
		O_TYPE = 256,
		O_MEM,
		O_CPUS,
		O_KERNEL,
		O_INITRD,
		O_FW,
		O_APPEND,
		O_DISK,
		O_SHARE,
		O_NET,
		O_JIT,
		O_CPUEXT,
		O_ROOTFS,
		O_OVERLAY,
		O_RO,
		O_HOST,
		O_CPUW,
		O_CPUMAX,
		O_MEMLIM,
		O_PIDS,
		O_IPS,
		O_DBPS,
		O_DIOPS,
		O_RXBW,
		O_TXBW,
		O_CPUSET,
		O_MEMTGT,
		O_START,
		O_IMAGE,
		O_USERDATA,
		O_SSHKEY,
		O_AUTO,
		O_NAME,
		O_DISPLAY,
		O_VNC
	};
	static const struct option lo[] = {{"type", 1, 0, O_TYPE},
	                                   {"memory", 1, 0, O_MEM},
	                                   {"cpus", 1, 0, O_CPUS},
	                                   {"kernel", 1, 0, O_KERNEL},
	                                   {"initrd", 1, 0, O_INITRD},
	                                   {"firmware", 1, 0, O_FW},
	                                   {"append", 1, 0, O_APPEND},
	                                   {"disk", 1, 0, O_DISK},
	                                   {"share", 1, 0, O_SHARE},
	                                   {"net", 1, 0, O_NET},
	                                   {"jit", 1, 0, O_JIT},
	                                   {"cpu-ext", 1, 0, O_CPUEXT},
	                                   {"rootfs", 1, 0, O_ROOTFS},
	                                   {"overlay", 0, 0, O_OVERLAY},
	                                   {"read-only", 0, 0, O_RO},
	                                   {"hostname", 1, 0, O_HOST},
	                                   {"cpu-weight", 1, 0, O_CPUW},
	                                   {"cpu-max", 1, 0, O_CPUMAX},
	                                   {"mem-limit", 1, 0, O_MEMLIM},
	                                   {"pids", 1, 0, O_PIDS},
	                                   {"ips", 1, 0, O_IPS},
	                                   {"disk-bps", 1, 0, O_DBPS},
	                                   {"disk-iops", 1, 0, O_DIOPS},
	                                   {"net-rx-bw", 1, 0, O_RXBW},
	                                   {"net-tx-bw", 1, 0, O_TXBW},
	                                   {"cpuset", 1, 0, O_CPUSET},
	                                   {"memory-target", 1, 0, O_MEMTGT},
	                                   {"start", 0, 0, O_START},
	                                   {"image", 1, 0, O_IMAGE},
	                                   {"user-data", 1, 0, O_USERDATA},
	                                   {"ssh-key", 1, 0, O_SSHKEY},
	                                   {"autostart", 0, 0, O_AUTO},
	                                   {"file", 1, 0, 'f'},
	                                   {"name", 1, 0, O_NAME},
	                                   {"help", 0, 0, 'h'},
	                                   {"display", 1, 0, O_DISPLAY},
	                                   {"vnc", 1, 0, O_VNC},
	                                   {0, 0, 0, 0}};
	json_t *def = NULL, *vm = json_object(), *ct = json_object(), *lim = json_object(),
	       *disks = json_array(), *nets = json_array(), *shares = json_array();
	const char *type = NULL, *name = NULL, *file = NULL, *ctnet = NULL;
	bool start = false, ok = true;
	int rc = 2; /* until the request is made, a failure is a usage error */
	const char *vm_host = NULL;
	int c;
	optind = 1;
	while (ok && (c = getopt_long(argc, argv, "f:h", lo, NULL)) != -1) {
		switch (c) {
		case 'h': rc = usage_create(stdout); goto out;
		case 'f': file = optarg; break;
		case O_NAME: name = optarg; break;
		case O_TYPE: type = optarg; break;
		case O_MEM: ok = put_size(vm, "memory", optarg, false); break;
		case O_CPUS: json_object_set_new(vm, "cpus", json_integer(atoi(optarg))); break;
		case O_KERNEL: json_object_set_new(vm, "kernel", json_string(optarg)); break;
		case O_INITRD: json_object_set_new(vm, "initrd", json_string(optarg)); break;
		case O_FW: json_object_set_new(vm, "firmware", json_string(optarg)); break;
		case O_APPEND: json_object_set_new(vm, "append", json_string(optarg)); break;
		case O_DISK: json_array_append_new(disks, json_string(optarg)); break;
		case O_SHARE: {
			const char *colon =
			    strrchr(optarg, ':'); /* a relative directory is ours to resolve */
			char dir[PATH_MAX], abs[PATH_MAX + 64];
			snprintf(dir, sizeof(dir), "%.*s", colon ? (int)(colon - optarg) : 0, optarg);
			if (colon && dir[0] && dir[0] != '/' && realpath(dir, abs))
				json_array_append_new(shares, json_string(strcat(abs, colon)));
			else
				json_array_append_new(shares, json_string(optarg));
			break;
		}
		case O_NET: json_array_append_new(nets, json_string(optarg)), ctnet = optarg; break;
		case O_JIT: json_object_set_new(vm, "jit", json_boolean(strcmp(optarg, "off"))); break;
		case O_CPUEXT: json_object_set_new(vm, "cpu_ext", json_string(optarg)); break;
		case O_ROOTFS: json_object_set_new(ct, "rootfs", json_string(optarg)); break;
		case O_OVERLAY: json_object_set_new(ct, "overlay", json_true()); break;
		case O_RO: json_object_set_new(ct, "read_only", json_true()); break;
		case O_HOST:
			json_object_set_new(ct, "hostname", json_string(optarg));
			vm_host = optarg; /* a VM's: through its cloud-init seed */
			break;
		case O_CPUW: ok = put_size(lim, "cpu_weight", optarg, true); break;
		case O_CPUMAX: ok = put_size(lim, "cpu_max", optarg, true); break;
		case O_MEMLIM: ok = put_size(lim, "memory", optarg, false); break;
		case O_PIDS: ok = put_size(lim, "pids", optarg, true); break;
		case O_IPS: ok = put_size(lim, "ips", optarg, true); break;
		case O_DBPS: ok = put_size(lim, "disk_bps", optarg, false); break;
		case O_DIOPS: ok = put_size(lim, "disk_iops", optarg, true); break;
		case O_RXBW: ok = put_size(lim, "net_rx_bw", optarg, true); break;
		case O_TXBW: ok = put_size(lim, "net_tx_bw", optarg, true); break;
		case O_CPUSET: json_object_set_new(lim, "cpuset", json_string(optarg)); break;
		case O_MEMTGT: ok = put_size(lim, "memory_target", optarg, false); break;
		case O_START: start = true; break;
		case O_IMAGE: json_object_set_new(vm, "image", json_string(optarg)); break;
		case O_DISPLAY: json_object_set_new(vm, "display", json_string(optarg)); break;
		case O_VNC: json_object_set_new(vm, "vnc", json_string(optarg)); break;
		case O_USERDATA:
		case O_SSHKEY: { /* read here: the daemon's host may not see this one's files */
			json_t *ci = json_object_get(vm, "cloud_init");
			if (!ci) json_object_set_new(vm, "cloud_init", ci = json_object());
			const char *key = c == O_USERDATA ? "user_data" : "ssh_keys";
			char ferr[512];
			char *text = fs_read_text(optarg, 64 << 10, ferr, sizeof(ferr));
			if (!text) {
				log_error("%s", ferr);
				ok = false;
				break;
			}
			const char *had = json_string_value(json_object_get(ci, key));
			char *joined = NULL;
			if (had && asprintf(&joined, "%s\n%s", had, text) < 0) joined = NULL;
			json_object_set_new(ci, key, json_string(joined ? joined : text));
			free(joined);
			free(text);
			break;
		}
		case O_AUTO: json_object_set_new(lim, "__autostart", json_true()); break;
		default:
			ok = false;
			usage_create(stderr);
			break;
		}
	}
	if (!ok) goto out;
	bool autostart = json_object_get(lim, "__autostart") != NULL;
	json_object_del(lim, "__autostart");
	if (file) {
		json_error_t je;
		def = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
		if (!def) {
			log_error("%s: %s (line %d)", file, je.text, je.line);
			ok = false;
			goto out;
		}
		json_object_del(def, "status"); /* what `info` adds */
		if (name) json_object_set_new(def, "name", json_string(name));
		if (autostart) json_object_set_new(def, "autostart", json_true());
	} else {
		if (!name && optind < argc) name = argv[optind++];
		if (!name) {
			log_error("create needs a NAME (or -f FILE)");
			ok = false;
			goto out;
		}
		bool is_ct = type && !strcmp(type, "container");
		if (type && !is_ct && strcmp(type, "vm")) {
			log_error("--type is vm or container");
			ok = false;
			goto out;
		}
		if (!is_ct && optind < argc) {
			log_error("unexpected argument '%s' (a command goes with --type container)",
			          argv[optind]);
			ok = false;
			goto out;
		}
		def = json_pack("{s:s, s:s, s:b}", "name", name, "type", is_ct ? "container" : "vm",
		                "autostart", autostart);
		if (json_object_size(lim)) json_object_set(def, "limits", lim);
		if (is_ct) {
			if (optind < argc) {
				json_t *a = json_array();
				for (; optind < argc; optind++)
					json_array_append_new(a, json_string(argv[optind]));
				json_object_set_new(ct, "argv", a);
			}
			if (ctnet) json_object_set_new(ct, "net", json_string(ctnet));
			json_t *image =
			    json_object_get(vm, "image"); /* a container image's tree as the root */
			if (image) json_object_set(ct, "image", image);
			json_object_set(def, "container", ct);
		} else {
			if (json_array_size(disks)) json_object_set(vm, "disks", disks);
			if (json_array_size(nets)) json_object_set(vm, "nets", nets);
			if (json_array_size(shares)) json_object_set(vm, "shares", shares);
			if (vm_host) {
				json_t *ci = json_object_get(vm, "cloud_init");
				if (!ci) json_object_set_new(vm, "cloud_init", ci = json_object());
				json_object_set_new(ci, "hostname", json_string(vm_host));
			}
			if (json_object_size(vm)) json_object_set(def, "vm", vm);
		}
	}
	json_t *ans = NULL;
	int st = dc_call("POST", "/v1/instances", def, &ans);
	ok = st == 201;
	const char *created = json_string_value(json_object_get(def, "name"));
	if (ok)
		cli_done("created %s %s",
		         strcmp(json_string_value(json_object_get(def, "type")) ?: "vm", "container")
		             ? "VM"
		             : "container",
		         created);
	if (ok && start) {
		char path[128];
		snprintf(path, sizeof(path), "/v1/instances/%s/start",
		         json_string_value(json_object_get(def, "name")));
		json_t *op = NULL;
		st = dc_call("POST", path, NULL, &op);
		ok = st == 202 && dc_wait_op(op, "Starting") == 0;
		if (ok) cli_done("started %s", created);
		json_decref(op);
	}
	json_decref(ans);
	rc = ok ? 0 : st == 0 ? 3 : 1;
out:
	json_decref(def), json_decref(vm), json_decref(ct), json_decref(lim), json_decref(disks),
	    json_decref(nets), json_decref(shares);
	return rc;
}

/* ---- simple verbs ---- */

static int one_name(int argc, char **argv, const char *usage)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr, "Usage: cloison %s %s\n",
		        argv[0], usage);
		return argc == 2 && !strcmp(argv[1], "--help") ? -1 : 2;
	}
	return 0;
}

/* "stop" -> "stopped": what a verb did, for its one line. */
static const char *past_tense(const char *verb)
{
	static const char *const forms[][2] = {{"start", "started"},
	                                       {"stop", "stopped"},
	                                       {"restart", "restarted"},
	                                       {"pause", "paused"},
	                                       {"resume", "resumed"}};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (!strcmp(verb, forms[i][0])) return forms[i][1];
	return verb;
}

int inst_lifecycle(int argc, char **argv)
{
	const char *verb = argv[0];
	json_t *body = json_object();
	for (int i = 1; i < argc;) {
		if (!strcmp(argv[i], "--force")) {
			json_object_set_new(body, "force", json_true());
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			json_object_set_new(body, "timeout", json_integer(atoi(argv[i + 1])));
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(char *));
			argc--;
		} else {
			i++;
			continue;
		}
		memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(char *));
		argc--;
	}
	int u = one_name(argc, argv, "NAME [--timeout S] [--force]");
	if (u) {
		json_decref(body);
		return u < 0 ? 0 : u;
	}
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s/%s", argv[1], verb);
	json_t *ans = NULL;
	int st = dc_call("POST", path, body, &ans);
	json_decref(body);
	int rc = dc_rc(st);
	if (st == 202) {
		char doing[64];
		snprintf(doing, sizeof(doing), "%c%s %s", verb[0] - 32, verb + 1, argv[1]);
		rc = dc_wait_op(ans, doing);
	}
	if (st && st < 300 && !rc) cli_done("%s %s", past_tense(verb), argv[1]);
	json_decref(ans);
	return rc;
}

int inst_rm(int argc, char **argv)
{
	bool force = argc == 3 && !strcmp(argv[1], "--force");
	if (force) argv[1] = argv[2], argc = 2;
	int u = one_name(argc, argv, "[--force] NAME");
	if (u) return u < 0 ? 0 : u;
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s%s", argv[1], force ? "?force=1" : "");
	int st = dc_call("DELETE", path, NULL, NULL);
	if (st && st < 300) cli_done("removed %s", argv[1]);
	return dc_rc(st);
}

int inst_list(int argc, char **argv)
{
	static const struct out_column cols[] = {{"NAME", "name", OUT_TEXT},
	                                         {"TYPE", "type", OUT_TEXT},
	                                         {"STATE", "status.state", OUT_TEXT},
	                                         {"PID", "status.pid", OUT_PID},
	                                         {"STARTED", "status.started_at", OUT_AGE},
	                                         {"AUTOSTART", "autostart", OUT_TEXT},
	                                         {"MESSAGE", "status.message", OUT_TEXT}};
	if (cli_wants_help(argc, argv)) {
		puts("Usage: cloison list [--format table|json|yaml|csv]\nLists cloisond's instances: name, "
		     "type, state, process, start time, autostart, last message.");
		return 0;
	}
	enum out_format fmt;
	if (out_take_format("list", &argc, argv, &fmt)) return 2;
	if (argc > 1) return cli_usage_error("list", "unexpected argument '%s'", argv[1]);
	json_t *a = NULL;
	int st = dc_call("GET", "/v1/instances", NULL, &a);
	if (st == 200) out_table(stdout, a, cols, sizeof(cols) / sizeof(cols[0]), fmt);
	json_decref(a);
	return dc_rc(st);
}

/* Limits as they apply: 0 is the default or no limit, said in words, with units. */
static json_t *limits_for_humans(json_t *lim)
{
	json_t *h = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(lim, k, v)
	{
		char buf[96];
		json_int_t n = json_integer_value(v);
		if (json_is_string(v)) {
			snprintf(buf, sizeof(buf), "%s",
			         *json_string_value(v) ? json_string_value(v) : "all host CPUs");
		} else if (!strcmp(k, "cpu_weight")) {
			snprintf(buf, sizeof(buf), n ? "%lld" : "100 (default)", (long long)n);
		} else if (!strcmp(k, "memory_target") && n == 0) {
			snprintf(buf, sizeof(buf), "all of the VM's memory (no balloon)");
		} else if (n == 0) {
			snprintf(buf, sizeof(buf), "none");
		} else if (!strcmp(k, "cpu_max")) {
			snprintf(buf, sizeof(buf), "%lld%% of one host CPU", (long long)n);
		} else if (!strcmp(k, "memory") || !strcmp(k, "memory_target")) {
			out_size(buf, sizeof(buf), (double)n);
		} else if (!strcmp(k, "disk_bps")) {
			out_size(buf, sizeof(buf), (double)n);
			strncat(buf, "/s", sizeof(buf) - strlen(buf) - 1);
		} else if (!strcmp(k, "net_rx_bw") || !strcmp(k, "net_tx_bw")) {
			snprintf(buf, sizeof(buf), "%.3g Mbit/s", (double)n / 1e6);
		} else if (!strcmp(k, "ips")) {
			snprintf(buf, sizeof(buf), "%lld instructions/s per hart", (long long)n);
		} else if (!strcmp(k, "disk_iops")) {
			snprintf(buf, sizeof(buf), "%lld operations/s", (long long)n);
		} else {
			snprintf(buf, sizeof(buf), "%lld", (long long)n);
		}
		json_object_set_new(h, k, json_string(buf));
	}
	return h;
}

static int get_and_print(int argc, char **argv, const char *suffix, const char *usage)
{
	enum out_format fmt;
	if (out_take_format(argv[0], &argc, argv, &fmt)) return 2;
	int u = one_name(argc, argv, usage);
	if (u) return u < 0 ? 0 : u;
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s%s", argv[1], suffix);
	json_t *j = NULL;
	int st = dc_call("GET", path, NULL, &j);
	if (st == 200 && fmt == OUT_TABLE && json_is_object(j)) {
		json_t *lim = json_object_get(j, "limits"), *status = json_object_get(j, "status");
		if (json_is_object(lim)) json_object_set_new(j, "limits", limits_for_humans(lim));
		if (json_integer_value(json_object_get(status, "exit_code")) < 0)
			json_object_del(status, "exit_code"); /* still running: no exit yet */
		json_t *vm = json_object_get(j, "vm");        /* an empty kernel is the default guest */
		const char *kernel = json_string_value(json_object_get(vm, "kernel"));
		if (kernel && !*kernel) {
			json_object_set_new(vm, "kernel", json_string("the default guest's"));
			if (!*(json_string_value(json_object_get(vm, "initrd")) ?: "x"))
				json_object_set_new(vm, "initrd", json_string("the default guest's"));
		}
	}
	if (st == 200) out_document(stdout, j, fmt);
	json_decref(j);
	return dc_rc(st);
}

int inst_stats(int argc, char **argv)
{
	bool watch = false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--watch")) {
			watch = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(char *));
			argc--;
		}
	if (!watch)
		return get_and_print(argc, argv, "/stats", "NAME [--format table|json|yaml|csv] [--watch]");
	for (;;) {
		printf("\033[H\033[2J");
		int rc = get_and_print(argc, argv, "/stats", "NAME [--watch]");
		if (rc) return rc;
		fflush(stdout);
		sleep(1);
	}
}

int inst_logs(int argc, char **argv)
{
	int u = one_name(argc, argv, "NAME   (the console output, last 64 KiB)");
	if (u) return u < 0 ? 0 : u;
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s/logs?bytes=65536", argv[1]);
	json_t *j = NULL;
	int st = dc_call("GET", path, NULL, &j);
	if (st == 200 && json_is_string(j)) fputs(json_string_value(j), stdout);
	json_decref(j);
	return dc_rc(st);
}

/* cloison screenshot NAME FILE (through cloisond), or --sock SOCK FILE (a VM run by hand): the screen as PNG.
 */
int inst_screenshot(int argc, char **argv)
{
	if (cli_help_anywhere(argc, argv) || argc < 3) {
		FILE *out = argc < 3 && !cli_help_anywhere(argc, argv) ? stderr : stdout;
		fprintf(out,
		        "Usage: cloison screenshot NAME FILE.png\n"
		        "   or: cloison screenshot --sock API_SOCKET FILE.png   (a VM run by hand)\n"
		        "Writes what the VM's screen shows (a VM made with --display) as a PNG image.\n");
		return out == stdout ? 0 : 2;
	}
	char sock[4096], path[256];
	const char *file;
	if (!strcmp(argv[1], "--sock") || !strcmp(argv[1], "-s")) {
		if (argc != 4) return cli_usage_error("screenshot", "--sock takes API_SOCKET and then FILE");
		snprintf(sock, sizeof(sock), "%s", argv[2]);
		snprintf(path, sizeof(path), "/vm/screenshot");
		file = argv[3];
	} else {
		if (argc != 3 || strlen(argv[1]) > 100)
			return cli_usage_error("screenshot", "expected NAME FILE");
		snprintf(sock, sizeof(sock), "%s", dc_socket_path());
		snprintf(path, sizeof(path), "/v1/instances/%s/screenshot", argv[1]);
		file = argv[2];
	}
	char *body = NULL, err[512];
	size_t len = 0;
	int st = http_call_unix_binary(sock, "GET", path, NULL, 60000, &body, &len, err, sizeof(err));
	if (st != 200) {
		json_t *j = st && body ? json_loads(body, 0, NULL) : NULL;
		const char *e = json_string_value(json_object_get(j, "error"));
		log_error("%s", e ? e : st ? "the request was refused" : err);
		json_decref(j);
		free(body);
		return dc_rc(st);
	}
	char msg[256];
	bool ok = fs_write_file_atomic(file, 0644, body, len, msg, sizeof(msg));
	free(body);
	if (!ok) {
		log_error("%s", msg);
		return 1;
	}
	cli_done("wrote %s (%zu bytes)", file, len);
	return 0;
}

/* cloison input NAME --text TEXT | --pointer X,Y[,BUTTONS]: keys and pointer on a VM's display. */
int inst_input(int argc, char **argv)
{
	if (cli_help_anywhere(argc, argv) || argc != 4 ||
	    (strcmp(argv[2], "--text") && strcmp(argv[2], "--pointer")) || strlen(argv[1]) > 100) {
		bool help = cli_help_anywhere(argc, argv);
		fprintf(
		    help ? stdout : stderr,
		    "Usage: cloison input NAME --text TEXT        type TEXT (US layout; \\n is Enter)\n"
		    "   or: cloison input NAME --pointer X,Y[,B]  move the pointer to screen pixel X,Y with\n"
		    "                                             buttons B held (1 left, 2 right, 4 "
		    "middle)\n"
		    "On the display of a VM made with --display (virtio keyboard and tablet).\n");
		return help ? 0 : 2;
	}
	json_t *body;
	if (!strcmp(argv[2], "--text")) {
		char text[4096];
		size_t n = 0;
		for (const char *p = argv[3]; *p && n + 1 < sizeof(text); p++) { /* \n and \t as typed keys */
			if (p[0] == '\\' && (p[1] == 'n' || p[1] == 't')) {
				text[n++] = p[1] == 'n' ? '\n' : '\t';
				p++;
			} else {
				text[n++] = *p;
			}
		}
		text[n] = 0;
		body = json_pack("{s:s}", "text", text);
	} else {
		unsigned x, y, b = 0;
		int got = sscanf(argv[3], "%u,%u,%u", &x, &y, &b);
		if (got < 2) return cli_usage_error("input", "--pointer takes X,Y or X,Y,BUTTONS");
		body =
		    json_pack("{s:{s:i, s:i, s:i}}", "pointer", "x", (int)x, "y", (int)y, "buttons", (int)b);
	}
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s/input", argv[1]);
	int st = dc_call("POST", path, body, NULL);
	json_decref(body);
	return dc_rc(st);
}

int inst_console(int argc, char **argv)
{
	int u = one_name(argc, argv, "NAME   (Ctrl-] detaches)");
	if (u) return u < 0 ? 0 : u;
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s/console", argv[1]);
	int fd = dc_upgrade(path, "cloison-console");
	if (fd < 0) return fd == -3 ? 3 : 1;
	struct termios saved;
	bool tty = tty_raw(STDIN_FILENO, &saved);
	if (tty) {
		fprintf(stderr, "Connected to %s's console (Ctrl-] detaches)\r\n", argv[1]);
	}
	char buf[4096];
	struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {fd, POLLIN, 0}};
	bool in_open = true;
	for (;;) {
		if (poll(p, in_open ? 2 : 2, -1) < 0) {
			if (errno == EINTR) continue;
			break;
		}
		if (p[1].revents) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0) break;
			http_write_all(STDOUT_FILENO, buf, (size_t)r);
		}
		if (in_open && (p[0].revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
			if (r <= 0) {
				in_open = false;
				p[0].fd = -1;
				continue;
			}
			char *esc = tty ? memchr(buf, ESCAPE, (size_t)r) : NULL;
			if (esc) {
				http_write_all(fd, buf, (size_t)(esc - buf));
				break;
			}
			if (!http_write_all(fd, buf, (size_t)r)) break;
		}
	}
	if (tty) {
		tty_restore(STDIN_FILENO, &saved);
		fprintf(stderr, "\nDisconnected from %s's console\n", argv[1]);
	}
	close(fd);
	return 0;
}

int inst_exec(int argc, char **argv)
{
	struct exec_args a;
	int rc = exec_parse(argc, argv, "exec", &a);
	if (rc >= 0) return rc;
	if (a.sock) return vm_exec(&a);
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s", a.name);
	json_t *info = NULL, *server = NULL;
	int st = dc_call("GET", path, NULL, &info);
	if (st != 200) {
		json_decref(info);
		return dc_rc(st);
	}
	if (strcmp(json_string_value(json_object_get(info, "type")), "container")) {
		json_decref(info);
		return vm_exec(&a);
	}
	json_decref(info);
	st = dc_call("GET", "/v1", NULL, &server);
	if (st != 200) {
		json_decref(server);
		return dc_rc(st);
	}
	/* The container engine's records are under the daemon's state directory. */
	setenv("CLOISON_STATE_DIR", json_string_value(json_object_get(server, "state_dir")), 1);
	json_decref(server);
	return exec_run(&a, 1);
}

/* POSTs body to the instance's `what`, waits for the operation, and says `done` when it succeeded. */
static int post_json(const char *name, const char *what, json_t *body, const char *doing, const char *done)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s/%s", name, what);
	json_t *ans = NULL;
	int st = dc_call("POST", path, body, &ans);
	json_decref(body);
	int rc = dc_rc(st);
	if (st == 202) rc = dc_wait_op(ans, doing);
	if (!rc && done) cli_done("%s", done);
	json_decref(ans);
	return rc;
}

/* `--help`: the usage on stdout; wrong arguments: what was expected, and where help is. */
static int usage_or_error(int argc, char **argv, const char *usage, const char *expected)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return -1;
	}
	return cli_usage_error(argv[0], "expected %s", expected);
}

static const char snapshot_usage[] =
    "Usage: cloison snapshot [create] NAME SNAPSHOT\n"
    "   or: cloison snapshot list NAME [--format table|json|yaml|csv]\n"
    "   or: cloison snapshot rm NAME SNAPSHOT\n"
    "Saves VM instance NAME (memory, devices and disks) as SNAPSHOT, lists its snapshots, or removes\n"
    "one (refused while a clone resumes from it). `cloison restore NAME SNAPSHOT` goes back to one;\n"
    "`cloison clone NAME NEW --snapshot SNAPSHOT` starts a new VM from one.\n";

static int snapshot_list(int argc, char **argv)
{
	static const struct out_column cols[] = {
	    {"SNAPSHOT", "name", OUT_TEXT}, {"TAKEN", "created_at", OUT_AGE}, {"PATH", "path", OUT_TEXT}};
	enum out_format fmt;
	if (out_take_format("snapshot", &argc, argv, &fmt)) return 2;
	if (argc != 2 || argv[1][0] == '-') return cli_usage_error("snapshot", "expected list NAME");
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s/snapshots", argv[1]);
	json_t *a = NULL;
	int st = dc_call("GET", path, NULL, &a);
	if (st == 200) out_table(stdout, a, cols, sizeof(cols) / sizeof(cols[0]), fmt);
	json_decref(a);
	return dc_rc(st);
}

int inst_snapshot(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(snapshot_usage, stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "list")) return snapshot_list(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "rm")) {
		if (argc != 4 || argv[2][0] == '-')
			return cli_usage_error("snapshot", "expected rm NAME SNAPSHOT");
		char path[300];
		snprintf(path, sizeof(path), "/v1/instances/%s/snapshots/%s", argv[2], argv[3]);
		int st = dc_call("DELETE", path, NULL, NULL);
		if (st && st < 300) cli_done("removed snapshot %s of %s", argv[3], argv[2]);
		return dc_rc(st);
	}
	if (argc >= 2 && !strcmp(argv[1], "create")) argc--, argv++;
	if (argc != 3 || argv[1][0] == '-') return cli_usage_error("snapshot", "expected NAME SNAPSHOT");
	char done[300];
	snprintf(done, sizeof(done), "saved %s as snapshot %s", argv[1], argv[2]);
	return post_json(argv[1], "snapshots", json_pack("{s:s}", "name", argv[2]), "Saving", done);
}

int inst_restore(int argc, char **argv)
{
	if (argc != 3 || argv[1][0] == '-') {
		int u = usage_or_error(argc, argv,
		                       "Usage: cloison restore NAME SNAPSHOT\n"
		                       "Brings VM instance NAME back to SNAPSHOT (`cloison snapshot`).\n",
		                       "NAME SNAPSHOT");
		return u < 0 ? 0 : u;
	}
	char done[300];
	snprintf(done, sizeof(done), "restored %s to snapshot %s", argv[1], argv[2]);
	return post_json(argv[1], "restore", json_pack("{s:s}", "snapshot", argv[2]), "Restoring", done);
}

int inst_clone(int argc, char **argv)
{
	const char *snap = NULL;
	bool start = false;
	int pos = 0;
	char *names[2] = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--snapshot") && i + 1 < argc)
			snap = argv[++i];
		else if (!strcmp(argv[i], "--start"))
			start = true;
		else if (pos < 2 && argv[i][0] != '-')
			names[pos++] = argv[i];
		else
			pos = 3;
	}
	if (pos != 2) {
		int u = usage_or_error(
		    argc, argv,
		    "Usage: cloison clone SOURCE NEW [--snapshot SNAPSHOT] [--start]\n"
		    "A VM clone resumes from SNAPSHOT with a new identity (disk overlays, MACs,\n"
		    "VM generation ID; through its guest agent, the host name NEW, a new machine-id\n"
		    "and SSH host keys); a container clone copies the definition.\n"
		    "(`cloison clone SNAPDIR --count N --dir OUT` clones without the daemon.)\n",
		    "SOURCE NEW [--snapshot SNAPSHOT] [--start]");
		return u < 0 ? 0 : u;
	}
	json_t *body = json_pack("{s:s, s:b}", "name", names[1], "start", start);
	if (snap) json_object_set_new(body, "snapshot", json_string(snap));
	char done[300];
	snprintf(done, sizeof(done), "cloned %s as %s%s", names[0], names[1], start ? " and started it" : "");
	return post_json(names[0], "clone", body, "Cloning", done);
}

int inst_migrate(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[2], "--to")) {
		int u = usage_or_error(
		    argc, argv,
		    "Usage: cloison migrate NAME --to HOST:PORT   (live, to a `cloison receive "
		    "NAME --listen PORT` on HOST,\n       or a `cloison run --incoming PORT`)\n",
		    "NAME --to HOST:PORT");
		return u < 0 ? 0 : u;
	}
	char done[300];
	snprintf(done, sizeof(done), "migrated %s to %s", argv[1], argv[3]);
	return post_json(argv[1], "migrate", json_pack("{s:s}", "to", argv[3]), "Migrating", done);
}

int inst_receive(int argc, char **argv)
{
	static const char usage[] =
	    "Usage: cloison receive NAME --listen [ADDR:]PORT [--timeout SECONDS]\n"
	    "Makes the stopped VM instance NAME the destination of a live migration: its process\n"
	    "listens on PORT until `cloison migrate NAME --to THIS-HOST:PORT` runs on the source host\n"
	    "(default timeout 600 s), and the VM runs here from then on. Create NAME here first with\n"
	    "the source's definition (`cloison info NAME --format json` there, `cloison create -f` here);\n"
	    "its disks must be reachable at the same paths (shared storage).\n";
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	const char *listen = NULL, *timeout = NULL;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen"))
			listen = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout = argv[i + 1];
		else
			listen = NULL, i = argc;
	}
	char *end = NULL;
	long t = timeout ? strtol(timeout, &end, 10) : 600;
	if (argc < 4 || argc % 2 || !listen || argv[1][0] == '-' ||
	    (timeout && (*end || t < 1 || t > 3600))) {
		fputs(usage, stderr);
		return 2;
	}
	if (!cli_quiet)
		fprintf(stderr, "cloison receive: waiting up to %ld s for %s to arrive on %s\n", t, argv[1],
		        listen);
	char done[300];
	snprintf(done, sizeof(done), "received %s: it runs here", argv[1]);
	return post_json(argv[1], "receive",
	                 json_pack("{s:s, s:I}", "listen", listen, "timeout", (json_int_t)t),
	                 "Waiting for the VM", done);
}

int inst_limits(int argc, char **argv)
{
	static const char *const keys[][2] = {{"--cpu-weight", "cpu_weight"},
	                                      {"--cpu-max", "cpu_max"},
	                                      {"--mem-limit", "memory"},
	                                      {"--pids", "pids"},
	                                      {"--ips", "ips"},
	                                      {"--disk-bps", "disk_bps"},
	                                      {"--disk-iops", "disk_iops"},
	                                      {"--net-rx-bw", "net_rx_bw"},
	                                      {"--net-tx-bw", "net_tx_bw"},
	                                      {"--memory-target", "memory_target"},
	                                      {"--cpuset", "cpuset"}};
	enum out_format fmt;
	if (out_take_format("limits", &argc, argv, &fmt)) return 2;
	if (argc < 2 || argv[1][0] == '-') {
		int u = usage_or_error(
		    argc, argv,
		    "Usage: cloison limits NAME [--format table|json|yaml|csv]\n"
		    "   or: cloison limits NAME [LIMIT VALUE]...\n"
		    "Shows or changes an instance's limits; 0 removes a limit, and a running instance "
		    "changes\n"
		    "at once. Limits:\n"
		    "  --cpu-weight W     CPU share against the others (1-10000, default 100)\n"
		    "  --cpu-max PCT      CPU cap, in percent of one host CPU\n"
		    "  --mem-limit SIZE   memory (cgroup)\n"
		    "  --pids N           processes (containers)\n"
		    "  --ips N            instructions per second per hart (VMs)\n"
		    "  --disk-bps B       disk bytes per second (VMs)\n"
		    "  --disk-iops N      disk operations per second (VMs)\n"
		    "  --net-rx-bw BITS   network receive bits per second (VMs)\n"
		    "  --net-tx-bw BITS   network send bits per second (VMs)\n"
		    "  --memory-target SIZE  memory the guest keeps; the balloon takes the rest (VMs)\n"
		    "  --cpuset CPUS      host CPUs to run on (0-1,3)\n",
		    "NAME and limits");
		return u < 0 ? 0 : u;
	}
	json_t *body = json_object();
	for (int i = 2; i < argc; i += 2) {
		size_t k = 0;
		while (k < sizeof(keys) / sizeof(keys[0]) && strcmp(argv[i], keys[k][0])) k++;
		if (k == sizeof(keys) / sizeof(keys[0]) || i + 1 >= argc) {
			const char *names[sizeof(keys) / sizeof(keys[0])];
			for (size_t n = 0; n < sizeof(keys) / sizeof(keys[0]); n++) names[n] = keys[n][0];
			const char *near =
			    k < sizeof(keys) / sizeof(keys[0])
			        ? NULL
			        : cli_suggest(argv[i], names, sizeof(names) / sizeof(names[0]));
			json_decref(body);
			if (near)
				return cli_usage_error("limits", "unknown option '%s'; did you mean '%s'?",
				                       argv[i], near);
			return cli_usage_error(
			    "limits", "%s option '%s'",
			    k < sizeof(keys) / sizeof(keys[0]) ? "no value for" : "unknown", argv[i]);
		}
		if (!strcmp(keys[k][1], "cpuset"))
			json_object_set_new(body, "cpuset", json_string(argv[i + 1]));
		else if (!put_size(body, keys[k][1], argv[i + 1],
		                   strcmp(keys[k][1], "memory") && strcmp(keys[k][1], "disk_bps") &&
		                       strcmp(keys[k][1], "memory_target"))) {
			json_decref(body);
			return 2;
		}
	}
	char path[256];
	snprintf(path, sizeof(path), "/v1/instances/%s/limits", argv[1]);
	json_t *ans = NULL;
	int st = dc_call(json_object_size(body) ? "PATCH" : "GET", path, json_object_size(body) ? body : NULL,
	                 &ans);
	if (st == 200 && json_object_size(body))
		cli_done("changed the limits of %s", argv[1]);
	else if (st == 200 && fmt == OUT_TABLE) {
		json_t *h = limits_for_humans(ans);
		out_document(stdout, h, fmt);
		json_decref(h);
	} else if (st == 200)
		out_document(stdout, ans, fmt);
	json_decref(ans);
	json_decref(body);
	return dc_rc(st);
}

int inst_pause(int argc, char **argv) /* and resume */
{
	int u = one_name(argc, argv, "NAME");
	if (u) return u < 0 ? 0 : u;
	char done[300];
	snprintf(done, sizeof(done), "%s %s", past_tense(argv[0]), argv[1]);
	return post_json(argv[1], argv[0], NULL, NULL, done);
}

int inst_info(int argc, char **argv)
{
	return get_and_print(argc, argv, "", "NAME [--format table|json|yaml|csv]");
}
