/*
 * cmd_run.c — `cloison run`: boot a guest in the foreground with its serial
 * console on this terminal.
 *
 * Exit status: 0 when the guest powers off (or the user quits with C-a x),
 * the guest's code when it reports failure through the test finisher (1 if
 * it gave 0), 2 for usage errors, 1 for host-side errors, 128+N on signal N
 * (SIGINT, SIGTERM, SIGHUP: the harts stop, the disks are written back; a
 * hart that cannot stop within QUIT_GRACE_S, such as one blocked writing to
 * a console nobody reads, ends the process there and then).
 */
#include "commands.h"
#include "console.h"
#include "usage.h"
#include "cpu/riscv/isa.h"

#include "machine/accel.h"
#include "machine/machine.h"
#include "machine/stats.h"
#include "net/netobj.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/lease.h"
#include "util/clock.h"
#include "util/parse.h"
#include "vm/control.h"
#include "vm/nocloud.h"
#include "vm/run.h"
#include "vm/vm.h"
#include "vm/vnc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

/* How long the harts get to stop after SIGINT, SIGTERM or SIGHUP before the process ends anyway: a
 * hart blocked in a write (a console whose reader stopped reading) never sees the request. What
 * the guest flushed is on disk already. */
#define QUIT_GRACE_S 10

static volatile sig_atomic_t harts_running; /* vm_run has not returned: the grace period applies */

static void on_signal(int sig)
{
	if (!got_signal && harts_running) alarm(QUIT_GRACE_S);
	got_signal = sig;
}

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
static void on_quit_timeout(int sig)
{
	(void)sig;
	static const char msg[] =
	    "cloison run: the VM did not stop within " STRINGIFY(QUIT_GRACE_S) " s of the signal: exiting\n";
	console_restore_terminal();
	/* Only if it cannot block: stderr may be the pipe nobody reads. */
	struct pollfd out = {.fd = STDERR_FILENO, .events = POLLOUT};
	if (poll(&out, 1, 0) == 1 && (out.revents & POLLOUT) &&
	    write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(128 + got_signal);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: cloison run [OPTIONS]\n"
	    "Boot a RISC-V guest with its serial console on this terminal.\n"
	    "With no options, boots the default guest (fetched by `make guest`).\n"
	    "\n"
	    "  -k, --kernel FILE     kernel: a RISC-V Linux Image, or an ELF program the firmware\n"
	    "                        starts in S-mode (Debian's U-Boot, which boots a disk's\n"
	    "                        extlinux.conf) or --firmware none runs in M-mode\n"
	    "  -i, --initrd FILE     initial ramdisk\n"
	    "  -a, --append STRING   kernel command line (default \"" VM_DEFAULT_APPEND "\")\n"
	    "  -f, --firmware FILE   M-mode firmware, fw_dynamic style (default Debian's OpenSBI);\n"
	    "                        'none' runs the kernel bare-metal in M-mode\n"
	    "  -m, --mem SIZE        guest memory: 512 (MiB), 512M, 2G (default 256M)\n"
	    "  -c, --cpus N          number of harts, 1-%d (default 1)\n"
	    "      --accel emulator|kvm\n"
	    "                        what runs the harts: cloison's emulator (default), or KVM\n"
	    "                        on a riscv64 Linux host with /dev/kvm (docs/kvm.md)\n"
	    "      --jit on|off      translate hot guest code to x86-64 (default on)\n"
	    "      --cpu-ext [-]EXT[,...]\n"
	    "                        switch ISA extensions off (-zbb) or back on (zbb); all are\n"
	    "                        on by default (docs/board.md lists them); vlen=256 sets\n"
	    "                        V's register length (128 to 1024); repeatable\n"
	    "      --rng on|off      virtio entropy device (default on)\n"
	    "      --display on|off|WxH  a screen: virtio-gpu (default off; on: 1024x768); the\n"
	    "                        control socket's GET /vm/screenshot gives it as PNG\n"
	    "      --balloon on|off  virtio memory balloon (default on): `cloison balloon` sets its\n"
	    "                        target through the control socket\n"
	    "      --free-page-reporting on|off\n"
	    "                        the balloon lets the guest hand its free memory back on its\n"
	    "                        own (default on)\n"
	    "      --vsock CID|off   virtio socket device with guest CID 3 or more (default 3): the\n"
	    "                        way host programs reach the guest agent (`cloison exec`)\n"
	    "      --virtio-console on|off\n"
	    "                        a virtio console (hvc0) beside the UART (default on); both\n"
	    "                        show on this terminal\n"
	    "      --console-input ttyS0|hvc0\n"
	    "                        which console the keyboard feeds (default ttyS0; C-a c switches)\n"
	    "      --disk PATH[,format=raw|qcow2][,readonly=on][,backing=off][,cache=writeback|unsafe]\n"
	    "             [,bps=N][,iops=N]\n"
	    "                        a virtio block device (repeatable: vda, vdb, ...). The format\n"
	    "                        defaults to qcow2 for *.qcow2 names, else raw. A qcow2 image's\n"
	    "                        backing file is opened read-only; backing=off never opens it\n"
	    "                        (for images you do not trust). cache=unsafe ignores the guest's\n"
	    "                        flushes (fast, loses data if the host crashes); bps=10M and\n"
	    "                        iops=N limit the guest's reads and writes (bytes/s, requests/s)\n"

	    "      --share DIR:TAG[,ro]\n"
	    "                        share host directory DIR with the guest (virtio-9p; repeatable):\n"
	    "                        mount -t 9p -o trans=virtio TAG /mnt. The guest stays inside DIR\n"
	    "                        (no .., symlink or device escapes); ro refuses every change\n"
	    "      --net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT][,net=CIDR][,restrict=on]\n"
	    "      --net segment=NAME | tap=IFNAME[,bridge=BR] | NETWORK (from `cloison net create`)\n"
	    "            [,mac=52:54:00:..][,mtu=N][,rx_bw=BITS/S][,tx_bw=BITS/S][,rx_pps=N][,tx_pps=N]\n"
	    "            [,burst=BYTES][,pcap=FILE]\n"
	    "                        a virtio network interface (repeatable: eth0, eth1, ...).\n"
	    "                        user: NAT through this process (DHCP gives 10.0.2.15, the\n"
	    "                        host is 10.0.2.2); segment: a LAN shared by the VMs naming it;\n"
	    "                        tap: a host TAP device (root). rx_bw/tx_bw cap bandwidth\n"
	    "                        (10M = 10 Mbit/s; rx is toward the guest); pcap= records\n"
	    "                        the interface's frames\n"
	    "      --config FILE     the VM's configuration as JSON (docs/formats.md): what the\n"
	    "                        options above describe, in one file; excludes them\n"
	    "      --vnc [ADDR:]PORT serve the display over VNC (keyboard and pointer too) on\n"
	    "                        ADDR (default 127.0.0.1): anyone who reaches it drives the VM;\n"
	    "                        --vnc unix:PATH: on a unix socket only its owner can open\n"
	    "      --api-sock PATH   serve the control API (docs/api.md) on a unix socket: pause,\n"
	    "                        resume, stop, save, migrate, stats (`cloison pause --sock PATH` ...)\n"
	    "      --vsock-sock PATH host programs reach the guest's vsock ports on this unix socket\n"
	    "                        (\"CONNECT PORT\\n\"); the guest reaches PATH_PORT (default:\n"
	    "                        the --api-sock PATH with .vsock appended)\n"
	    "      --restore DIR     resume a VM saved with `cloison save` (its configuration comes\n"
	    "                        from DIR; memory is mapped copy-on-write, DIR is never changed)\n"
	    "      --incoming [ADDR:]PORT\n"
	    "                        wait for a VM migrated with `cloison migrate --to HOST:PORT`\n"
	    "      --clone DIR       with --restore: run a clone with a new identity: its disks become\n"
	    "                        qcow2 overlays in DIR, its NICs get new MAC addresses, and the\n"
	    "                        guest gets a new VM generation ID (Linux reseeds its RNG)\n"
	    "      --hostname NAME   with --clone: the clone's host name, which the guest agent sets\n"
	    "                        (with a new machine-id and SSH host keys; after any restore\n"
	    "                        the agent also steps the guest's clock to the host's); for a\n"
	    "                        new VM: the host name cloud-init sets (see --user-data)\n"
	    "      --user-data FILE  cloud-init's user data (#cloud-config ...) and\n"
	    "      --ssh-key FILE    SSH public keys for the guest's default user (repeatable): a\n"
	    "                        NoCloud seed disk labelled cidata is added, read-only\n"
	    "      --storage-dir DIR with --incoming: where the disks go when the source copies them\n"
	    "                        (`cloison migrate --copy-storage`)\n"
	    "      --paused          start (or restore) with the guest paused; resume through the API\n"
	    "      --cpu-max PCT     cap the harts together at PCT%% of one host CPU (inside the\n"
	    "                        emulator: holds without cgroups); the API can change it\n"
	    "      --ips N           cap each hart at N instructions per second (10M, 1G)\n"
	    "      --console-log FILE\n"
	    "      --console-sock PATH\n"
	    "                        no terminal: the serial console goes to FILE and to the one\n"
	    "                        client attached on the unix socket PATH (how cloisond runs VMs)\n"
	    "      --exit-file FILE  on exit, write {\"exit_code\": N, \"reason\": ...} to FILE\n"
	    "      --lease FILE      run only while the deadline in FILE (renewed by cloisond for HA\n"
	    "                        guests) lies ahead: past it, no instruction and no device I/O\n"
	    "      --stats           print instructions retired and guest MIPS on exit\n"
	    "  -v, --verbose         more messages\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Console: C-a x exits, C-a h shows help. Guest poweroff exits 0; guest reboot\n"
	    "restarts it; a failure reported by the guest exits with its code.\n",
	    MACHINE_MAX_HARTS);
}

/* How to run it; what the VM is made of is in cfg. */
struct run_opts {
	struct vm_config cfg;
	const char *config_file;
	const char *user_data, *ssh_keys[8];
	unsigned nssh_keys;
	const char *api_sock, *vsock_sock, *hostname, *restore, *incoming, *clone_dir, *storage_dir;
	const char *console_sock, *console_log, *exit_file, *lease_file, *vnc;
	uint64_t ips;
	uint32_t cpu_max;
	char incoming_addr[256]; /* --incoming [ADDR:]PORT, split */
	const char *incoming_port;
	bool start_paused, stats;
	unsigned machine_opts; /* options that describe a new machine (not allowed with --restore) */
};

/* A path or string option into a fixed field; false (with a message) when it does not fit. */
static bool set_str(char *dst, size_t cap, const char *src, const char *opt)
{
	if (strlen(src) >= cap) {
		log_error("--%s is too long (at most %zu bytes)", opt, cap - 1);
		return false;
	}
	strcpy(dst, src);
	return true;
}

/* Returns 0 to run, or an exit status (-1: done, successfully, as for --help). */
/* The cloud-init seed the options describe, as a read-only disk: one image per content under
 * $CLOISON_CACHE/seeds (or ~/.cache/cloison/seeds), so a saved or cloned VM finds it again. */
static bool add_seed(struct run_opts *o, char *err, size_t errlen)
{
	char *user = o->user_data ? fs_read_text(o->user_data, 64 << 10, err, errlen) : NULL;
	if (o->user_data && !user) return false;
	char keys[8 * 4096] = "";
	size_t used = 0;
	for (unsigned i = 0; i < o->nssh_keys; i++) {
		char *k = fs_read_text(o->ssh_keys[i], 64 << 10, err, errlen);
		if (!k) {
			free(user);
			return false;
		}
		used += (size_t)snprintf(keys + used, sizeof(keys) - used, "%.4000s\n", k);
		free(k);
	}
	uint64_t h = 1469598103934665603ull; /* FNV-1a over what makes the seed */
	const char *parts[] = {user ? user : "", keys, o->hostname ? o->hostname : ""};
	for (int p = 0; p < 3; p++)
		for (const char *c = parts[p];; c++) {
			h = (h ^ (uint8_t)*c) * 1099511628211ull;
			if (!*c) break;
		}
	const char *cache = getenv("CLOISON_CACHE"), *home = getenv("HOME");
	char dir[PATH_MAX], path[PATH_MAX + 64], id[32], spec[PATH_MAX + 96];
	if (cache && cache[0])
		snprintf(dir, sizeof(dir), "%s/seeds", cache);
	else
		snprintf(dir, sizeof(dir), "%s/.cache/cloison/seeds", home ? home : "/tmp");
	snprintf(id, sizeof(id), "cloison-%016llx", (unsigned long long)h);
	snprintf(path, sizeof(path), "%s/%s.iso", dir, id);
	struct nocloud n = {.instance_id = id,
	                    .hostname = o->hostname ? o->hostname : "",
	                    .user_data = user,
	                    .ssh_keys = used ? keys : NULL};
	bool ok = mkdir_p(dir, 0700) && (access(path, R_OK) == 0 || nocloud_write(path, &n, err, errlen));
	if (!ok && !err[0]) snprintf(err, errlen, "%.300s: %s", dir, strerror(errno));
	free(user);
	snprintf(spec, sizeof(spec), "%s,format=raw,readonly=on", path);
	return ok && vm_config_add_disk(&o->cfg, spec, err, errlen);
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	enum {
		OPT_STATS = 1000,
		OPT_JIT, /* from here to OPT_NET: options that describe a new machine */
		OPT_RNG,
		OPT_DISPLAY,
		OPT_BALLOON,
		OPT_REPORTING,
		OPT_VSOCK,
		OPT_SHARE,
		OPT_DISK,
		OPT_VCONSOLE,
		OPT_CONSOLE_INPUT,
		OPT_CPU_EXT,
		OPT_ACCEL,
		OPT_NET,
		OPT_CONFIG,
		OPT_API_SOCK,
		OPT_VNC,
		OPT_VSOCK_SOCK,
		OPT_RESTORE,
		OPT_INCOMING,
		OPT_PAUSED,
		OPT_CLONE,
		OPT_STORAGE_DIR,
		OPT_HOSTNAME,
		OPT_USER_DATA,
		OPT_SSH_KEY,
		OPT_CPU_MAX,
		OPT_IPS,
		OPT_CONSOLE_SOCK,
		OPT_CONSOLE_LOG,
		OPT_EXIT_FILE,
		OPT_LEASE,
	};
	static const struct option longopts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"initrd", required_argument, NULL, 'i'},
	    {"append", required_argument, NULL, 'a'},
	    {"firmware", required_argument, NULL, 'f'},
	    {"mem", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"stats", no_argument, NULL, OPT_STATS},
	    {"verbose", no_argument, NULL, 'v'},
	    {"jit", required_argument, NULL, OPT_JIT},
	    {"rng", required_argument, NULL, OPT_RNG},
	    {"display", required_argument, NULL, OPT_DISPLAY},
	    {"balloon", required_argument, NULL, OPT_BALLOON},
	    {"free-page-reporting", required_argument, NULL, OPT_REPORTING},
	    {"virtio-console", required_argument, NULL, OPT_VCONSOLE},
	    {"console-input", required_argument, NULL, OPT_CONSOLE_INPUT},
	    {"cpu-ext", required_argument, NULL, OPT_CPU_EXT},
	    {"accel", required_argument, NULL, OPT_ACCEL},
	    {"disk", required_argument, NULL, OPT_DISK},
	    {"net", required_argument, NULL, OPT_NET},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"api-sock", required_argument, NULL, OPT_API_SOCK},
	    {"vnc", required_argument, NULL, OPT_VNC},
	    {"vsock", required_argument, NULL, OPT_VSOCK},
	    {"share", required_argument, NULL, OPT_SHARE},
	    {"vsock-sock", required_argument, NULL, OPT_VSOCK_SOCK},
	    {"restore", required_argument, NULL, OPT_RESTORE},
	    {"incoming", required_argument, NULL, OPT_INCOMING},
	    {"paused", no_argument, NULL, OPT_PAUSED},
	    {"clone", required_argument, NULL, OPT_CLONE},
	    {"storage-dir", required_argument, NULL, OPT_STORAGE_DIR},
	    {"hostname", required_argument, NULL, OPT_HOSTNAME},
	    {"user-data", required_argument, NULL, OPT_USER_DATA},
	    {"ssh-key", required_argument, NULL, OPT_SSH_KEY},
	    {"cpu-max", required_argument, NULL, OPT_CPU_MAX},
	    {"ips", required_argument, NULL, OPT_IPS},
	    {"console-sock", required_argument, NULL, OPT_CONSOLE_SOCK},
	    {"console-log", required_argument, NULL, OPT_CONSOLE_LOG},
	    {"exit-file", required_argument, NULL, OPT_EXIT_FILE},
	    {"lease", required_argument, NULL, OPT_LEASE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	struct vm_config *cfg = &o->cfg;
	vm_config_defaults(cfg);
	char err[512];
	int c;
	optind = 1;
	opterr = 0; /* cli_option_error says it, our way */
	while ((c = getopt_long(argc, argv, "k:i:a:f:m:c:vh", longopts, NULL)) != -1) {
		uint64_t v;
		if ((c > 0 && c < 128 && strchr("kiafmc", c)) || (c >= OPT_JIT && c <= OPT_NET))
			o->machine_opts++; /* describes a new machine */
		switch (c) {
		case OPT_CONFIG: o->config_file = optarg; break;
		case OPT_API_SOCK: o->api_sock = optarg; break;
		case OPT_VNC: {
			char addr[64], why[160];
			int port;
			if (!vnc_parse_listen(optarg, addr, sizeof(addr), &port, why, sizeof(why))) {
				log_error("invalid --vnc: %s", why);
				return 2;
			}
			o->vnc = optarg;
			break;
		}
		case OPT_VSOCK_SOCK: o->vsock_sock = optarg; break;
		case OPT_VSOCK:
			if (!strcmp(optarg, "off"))
				cfg->vsock_cid = 0;
			else if (parse_uint(optarg, 3, UINT32_MAX - 1, &v))
				cfg->vsock_cid = (uint32_t)v;
			else {
				log_error("invalid --vsock '%s': expected a CID (3 to 4294967294) or off",
				          optarg);
				return 2;
			}
			break;
		case OPT_RESTORE: o->restore = optarg; break;
		case OPT_INCOMING:
			o->incoming = optarg;
			if (!parse_host_port(optarg, true, o->incoming_addr, sizeof(o->incoming_addr),
			                     &o->incoming_port)) {
				log_error("invalid --incoming '%s': expected [ADDR:]PORT", optarg);
				return 2;
			}
			break;
		case OPT_PAUSED: o->start_paused = true; break;
		case OPT_CLONE: o->clone_dir = optarg; break;
		case OPT_STORAGE_DIR: o->storage_dir = optarg; break;
		case OPT_HOSTNAME: o->hostname = optarg; break;
		case OPT_USER_DATA: o->user_data = optarg; break;
		case OPT_SSH_KEY:
			if (o->nssh_keys == sizeof(o->ssh_keys) / sizeof(o->ssh_keys[0])) {
				log_error("at most 8 --ssh-key files");
				return 2;
			}
			o->ssh_keys[o->nssh_keys++] = optarg;
			break;
		case OPT_CONSOLE_SOCK: o->console_sock = optarg; break;
		case OPT_CONSOLE_LOG: o->console_log = optarg; break;
		case OPT_EXIT_FILE: o->exit_file = optarg; break;
		case OPT_LEASE: o->lease_file = optarg; break;
		case OPT_CPU_MAX:
			if (!parse_uint(optarg, 1, 100 * MACHINE_MAX_HARTS, &v)) {
				log_error(
				    "invalid --cpu-max '%s': expected a percentage of one host CPU, 1 to %d",
				    optarg, 100 * MACHINE_MAX_HARTS);
				return 2;
			}
			o->cpu_max = (uint32_t)v;
			break;
		case OPT_IPS:
			if (!parse_rate(optarg, &v) || v == 0) {
				log_error("invalid --ips '%s': expected instructions per second (50M, 1G)",
				          optarg);
				return 2;
			}
			o->ips = v;
			break;
		case 'k':
			if (!set_str(cfg->kernel, sizeof(cfg->kernel), optarg, "kernel")) return 2;
			break;
		case 'i':
			if (!set_str(cfg->initrd, sizeof(cfg->initrd), optarg, "initrd")) return 2;
			break;
		case 'a':
			if (!set_str(cfg->append, sizeof(cfg->append), optarg, "append")) return 2;
			break;
		case 'f':
			if (!set_str(cfg->firmware, sizeof(cfg->firmware),
			             strcmp(optarg, "none") ? optarg : "", "firmware"))
				return 2;
			break;
		case 'm':
			if (!parse_mem_size(optarg, &cfg->mem)) {
				log_error("invalid --mem '%s' (examples: 256, 512M, 2G)", optarg);
				return 2;
			}
			break;
		case 'c':
			if (!parse_uint(optarg, 1, MACHINE_MAX_HARTS, &v)) {
				log_error("invalid --cpus '%s': expected 1 to %d", optarg, MACHINE_MAX_HARTS);
				return 2;
			}
			cfg->cpus = (unsigned)v;
			break;
		case OPT_STATS: o->stats = true; break;
		case OPT_SHARE: {
			/* A relative directory is the caller's: made absolute here, where it means something.
			 */
			const char *colon = strrchr(optarg, ':');
			char dir[PATH_MAX], abs[PATH_MAX], spec[PATH_MAX + 64];
			snprintf(dir, sizeof(dir), "%.*s", colon ? (int)(colon - optarg) : 0, optarg);
			if (colon && dir[0] && dir[0] != '/' && realpath(dir, abs))
				snprintf(spec, sizeof(spec), "%s%s", abs, colon);
			else
				snprintf(spec, sizeof(spec), "%s", optarg);
			if (!vm_config_add_share(cfg, spec, err, sizeof(err))) {
				log_error("%s", err);
				return 2;
			}
			break;
		}
		case OPT_DISK:
			if (!vm_config_add_disk(cfg, optarg, err, sizeof(err))) {
				log_error("%s", err);
				return 2;
			}
			break;
		case OPT_NET: {
			struct net_config resolved; /* checked now, resolved again when the board is built */
			if (!netspec_resolve(optarg, &resolved, err, sizeof(err)) ||
			    !vm_config_add_nic(cfg, optarg, err, sizeof(err))) {
				log_error("%s", err);
				return 2;
			}
			break;
		}
		case OPT_JIT:
		case OPT_RNG:
		case OPT_BALLOON:
		case OPT_REPORTING:
		case OPT_VCONSOLE: {
			const char *name = c == OPT_JIT         ? "jit"
			                   : c == OPT_RNG       ? "rng"
			                   : c == OPT_BALLOON   ? "balloon"
			                   : c == OPT_REPORTING ? "free-page-reporting"
			                                        : "virtio-console";
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				log_error("invalid --%s '%s': expected on or off", name, optarg);
				return 2;
			}
			*(c == OPT_JIT         ? &cfg->jit
			  : c == OPT_RNG       ? &cfg->rng
			  : c == OPT_BALLOON   ? &cfg->balloon
			  : c == OPT_REPORTING ? &cfg->free_page_reporting
			                       : &cfg->vconsole) = !strcmp(optarg, "on");
			break;
		}
		case OPT_DISPLAY: {
			char why[128];
			if (!vm_display_parse(optarg, &cfg->display_width, &cfg->display_height, why,
			                      sizeof(why))) {
				log_error("invalid --%s", why);
				return 2;
			}
			break;
		}
		case OPT_ACCEL:
			if (strcmp(optarg, "emulator") && strcmp(optarg, "kvm")) {
				log_error("invalid --accel '%s': expected emulator or kvm", optarg);
				return 2;
			}
			snprintf(cfg->accel, sizeof(cfg->accel), "%s", optarg);
			break;
		case OPT_CPU_EXT: {
			size_t len = strlen(cfg->cpu_ext);
			if (len + strlen(optarg) + 2 > sizeof(cfg->cpu_ext)) {
				log_error("--cpu-ext: too long");
				return 2;
			}
			snprintf(cfg->cpu_ext + len, sizeof(cfg->cpu_ext) - len, "%s%s", len ? "," : "",
			         optarg);
			uint64_t ext = rv_ext_defaults();
			if (!rv_ext_apply(&ext, cfg->cpu_ext, err, sizeof(err))) {
				log_error("--cpu-ext: %s", err);
				return 2;
			}
			break;
		}
		case OPT_CONSOLE_INPUT:
			if (strcmp(optarg, "ttyS0") && strcmp(optarg, "hvc0")) {
				log_error("invalid --console-input '%s': expected ttyS0 or hvc0", optarg);
				return 2;
			}
			cfg->input_hvc0 = !strcmp(optarg, "hvc0");
			break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'h': usage(stdout); return -1;
		default: return cli_option_error("run", argv, longopts);
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see cloison run --help)", argv[optind]);
		return 2;
	}
	if (o->storage_dir && !o->incoming) {
		log_error("--storage-dir DIR goes with --incoming");
		return 2;
	}
	if (o->hostname && o->restore && !o->clone_dir) {
		log_error("--hostname NAME goes with --clone DIR (a restored VM keeps its name)");
		return 2;
	}
	if ((o->user_data || o->nssh_keys) && (o->restore || o->incoming)) {
		log_error("--user-data and --ssh-key make a new VM's cloud-init seed");
		return 2;
	}
	if (o->clone_dir && !o->restore) {
		log_error("--clone DIR goes with --restore SNAPSHOT");
		return 2;
	}
	if (!!o->restore + !!o->incoming + !!o->config_file > 1) {
		log_error("--restore, --incoming and --config exclude each other");
		return 2;
	}
	if ((o->restore || o->incoming || o->config_file) && o->machine_opts) {
		log_error("--%s takes the VM's configuration from %s: drop the machine options",
		          o->restore    ? "restore"
		          : o->incoming ? "incoming"
		                        : "config",
		          o->restore    ? "the saved state"
		          : o->incoming ? "the source"
		                        : "the file");
		return 2;
	}
	if (o->restore || o->incoming) return 0;
	if (o->config_file ? !vm_config_load_file(o->config_file, cfg, err, sizeof(err))
	                   : !vm_config_check(cfg, err, sizeof(err))) {
		log_error("%s", err);
		return 2;
	}
	if (!vm_config_resolve_guest(cfg, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if ((o->user_data || o->nssh_keys || o->hostname) && !add_seed(o, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	return 0;
}

static void print_stats(const struct machine *m, const struct vm_run_result *res)
{
	struct machine_stats st;
	machine_stats(m, &st);
	log_error("stats: %llu instructions in %.3f s host time: %.1f MIPS (%u hart%s)",
	          (unsigned long long)res->instructions, res->seconds,
	          res->seconds > 0 ? (double)res->instructions / res->seconds / 1e6 : 0.0, st.nharts,
	          st.nharts > 1 ? "s" : "");
	for (unsigned i = 0; i < st.nharts; i++)
		fprintf(
		    stderr,
		    "cloison run: stats: hart %u: %llu instructions, %llu WFI sleeps, stopped at pc 0x%llx "
		    "(%c-mode)\n",
		    i, (unsigned long long)st.harts[i].instructions,
		    (unsigned long long)st.harts[i].wfi_sleeps, (unsigned long long)st.harts[i].pc,
		    "USHM"[st.harts[i].priv & 3]);
	for (unsigned i = 0; i < st.nharts; i++) {
		const struct rv_engine_stats *g = &st.harts[i].engine;
		fprintf(stderr,
		        "cloison run: stats: hart %u engine: %llu blocks translated (%llu KiB of code), "
		        "%llu block entries from the dispatcher, %llu chained jumps, %llu stale blocks, "
		        "%llu code-cache flushes, %llu TLB misses, %llu TLB flushes\n",
		        i, (unsigned long long)g->blocks, (unsigned long long)(g->code_bytes >> 10),
		        (unsigned long long)g->block_runs, (unsigned long long)g->chains,
		        (unsigned long long)g->stale_blocks, (unsigned long long)g->code_flushes,
		        (unsigned long long)g->tlb_misses, (unsigned long long)g->tlb_flushes);
		const struct rv_tlb_counts *t = &st.harts[i].tlb;
		if (t->lookups)
			fprintf(
			    stderr,
			    "cloison run: stats: hart %u TLB: %llu data accesses looked up, %llu walked the "
			    "page table, %llu found a 2 MiB entry: %.3f%% hits; %llu probes turned between "
			    "4 KiB and 2 MiB tables; %llu loads took a page hint, %llu gave it up; %llu "
			    "probes "
			    "took their slot off the base\n",
			    i, (unsigned long long)t->lookups, (unsigned long long)t->data_misses,
			    (unsigned long long)t->mega_hits,
			    100.0 * (double)(t->lookups - t->data_misses) / (double)t->lookups,
			    (unsigned long long)t->probe_turns, (unsigned long long)t->hints,
			    (unsigned long long)t->hints_dropped, (unsigned long long)t->probes_unbased);
	}
	for (unsigned i = 0; i < st.nnics; i++) {
		const struct net_stats *n = &st.nics[i];
		fprintf(stderr,
		        "cloison run: stats: eth%u: rx %llu frames %llu bytes, tx %llu frames %llu bytes, "
		        "dropped rx %llu tx %llu, malformed %llu, throttled %.3f s\n",
		        i, (unsigned long long)n->rx_frames, (unsigned long long)n->rx_bytes,
		        (unsigned long long)n->tx_frames, (unsigned long long)n->tx_bytes,
		        (unsigned long long)n->rx_dropped, (unsigned long long)n->tx_dropped,
		        (unsigned long long)n->tx_malformed, (double)n->throttled_ns / 1e9);
	}
}

/* CLOISON_PROFILE=FILE (a developer's tool): samples hart 0's pc every millisecond and writes
 * "count pc" lines, most frequent first, when the run ends. */
struct pc_profile {
	struct machine *m;
	_Atomic bool stop;
	pthread_t thread;
	uint64_t *pcs;
	size_t n, cap;
};

static void *profile_thread(void *arg)
{
	struct pc_profile *p = arg;
	const char *delay = getenv("CLOISON_PROFILE_DELAY"); /* seconds to wait before sampling */
	if (delay) {
		struct timespec d = {atoi(delay), 0};
		nanosleep(&d, NULL);
	}
	while (!atomic_load(&p->stop)) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		if (p->n == p->cap) {
			uint64_t *g =
			    realloc(p->pcs, (p->cap = p->cap ? p->cap * 2 : 65536) * sizeof(uint64_t));
			if (!g) break;
			p->pcs = g;
		}
		p->pcs[p->n++] = machine_hart_pc(p->m, 0);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void profile_dump(struct pc_profile *p, const char *path)
{
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	FILE *f = fopen(path, "w");
	if (f) {
		qsort(p->pcs, p->n, sizeof(uint64_t), cmp_u64);
		for (size_t i = 0; i < p->n;) {
			size_t j = i;
			while (j < p->n && p->pcs[j] == p->pcs[i]) j++;
			fprintf(f, "%zu %llx\n", j - i, (unsigned long long)p->pcs[i]);
			i = j;
		}
		fclose(f);
	}
	free(p->pcs);
}

/* Tells whoever runs this VM (cloisond) how it ended, even when it is not this process's parent. */
static void write_exit_file(const char *path, int rc, int reason, bool migrated)
{
	const char *why = migrated                     ? "migrated"
	                  : reason == MACHINE_POWEROFF ? "poweroff"
	                  : reason == MACHINE_FAIL     ? "guest-failure"
	                  : reason == MACHINE_QUIT     ? "stopped"
	                                               : "error";
	char buf[128], err[256];
	int n = snprintf(buf, sizeof(buf), "{\"exit_code\": %d, \"reason\": \"%s\"}\n", rc, why);
	if (!fs_write_file_atomic(path, 0600, buf, (size_t)n, err, sizeof(err))) log_error("%s", err);
}

/* What the run loop asks of this terminal (or console socket) between rounds. */
struct run_host {
	struct console *con;
	const struct run_opts *o;
	struct vm_incoming *incoming;
	uint64_t t_start;
};

static bool run_poll(void *ctx, struct machine *m)
{
	struct run_host *h = ctx;
	return console_poll(h->con, m, 10) || got_signal;
}

static void run_resumed(void *ctx)
{
	struct run_host *h = ctx;
	if (h->o->restore)
		log_notice("restored %s in %.1f ms; the guest runs (its console shows new output only: "
		           "press Enter for a prompt)",
		           h->o->restore, (double)(monotonic_ns() - h->t_start) / 1e6);
	else if (h->o->incoming)
		log_notice("the migrated VM runs here now");
	if (h->incoming) vm_incoming_confirm(h->incoming, true, NULL);
	h->incoming = NULL;
}

int cmd_run(int argc, char **argv)
{
	struct run_host host = {.t_start = monotonic_ns()};
	struct run_opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc) return rc < 0 ? 0 : rc;
	host.o = &o;

	char err[1024];
	struct console *con = o.console_sock || o.console_log
	                          ? console_open_server(o.console_sock, o.console_log, err, sizeof(err))
	                          : console_open(STDIN_FILENO, STDOUT_FILENO);
	if (!con) {
		log_error("%s", o.console_sock || o.console_log ? err : "out of memory");
		return 1;
	}
	host.con = con;
	char vsock_sock[PATH_MAX] = "";
	if (o.vsock_sock)
		snprintf(vsock_sock, sizeof(vsock_sock), "%s", o.vsock_sock);
	else if (o.api_sock)
		snprintf(vsock_sock, sizeof(vsock_sock), "%s.vsock", o.api_sock);
	vm_set_vsock_socket(vsock_sock);
	struct vm *v = NULL;
	if (o.restore) {
		v = vm_restore(o.restore, o.clone_dir, console_write, con, err, sizeof(err));
	} else if (o.incoming) {
		log_notice("waiting for an incoming migration on %s:%s",
		           o.incoming_addr[0] ? o.incoming_addr : "*", o.incoming_port);
		v = vm_incoming(o.incoming_addr, o.incoming_port, o.storage_dir, console_write, con,
		                &host.incoming, err, sizeof(err));
	} else {
		/* Under a lease, the cluster's ownership guards the disks: a frozen former owner's lock must
		 * not keep the new owner out (its lease keeps it from touching them). */
		o.cfg.disks_by_lease = o.lease_file != NULL;
		v = vm_create(&o.cfg, NULL, console_write, con, err, sizeof(err));
	}
	/* A new VM's images are loaded before the control socket answers: a resume must never start
	 * harts on empty RAM. */
	if (v && !o.restore && !o.incoming && !vm_load_boot_images(v, err, sizeof(err))) {
		vm_destroy(v);
		v = NULL;
	}
	if (!v) {
		console_close(con);
		log_error("%s", err);
		return 1;
	}
	struct machine *m = v->m;
	static struct lease lease; /* outlives the harts: they read it until vm_destroy */
	if (o.lease_file) {
		if (!lease_open(&lease, o.lease_file, err, sizeof(err))) {
			vm_incoming_confirm(host.incoming, false, "the destination cannot open its lease");
			console_close(con);
			log_error("%s", err);
			vm_destroy(v);
			return 1;
		}
		machine_set_lease(m, &lease);
	}
	if (o.ips || o.cpu_max) machine_set_cpu_limits(m, o.ips, o.cpu_max);
	if (o.stats) accel_emu_count_tlb(m); /* before the harts translate anything */
	/* Held before the control socket answers, so a resume sent as soon as it does finds it paused. */
	if (o.start_paused) machine_hold(m); /* the API's resume starts the harts */
	struct control *ctl = NULL;
	if (o.api_sock && !(ctl = control_start(v, o.api_sock, err, sizeof(err)))) {
		vm_incoming_confirm(host.incoming, false, "the destination cannot serve its control socket");
		console_close(con);
		log_error("%s", err);
		vm_destroy(v);
		return 1;
	}

	if (o.vnc && !(v->vnc = vnc_start(m, o.vnc, err, sizeof(err)))) {
		vm_incoming_confirm(host.incoming, false, "the destination cannot serve VNC");
		control_stop(ctl);
		console_close(con);
		log_error("%s", err);
		vm_destroy(v);
		return 1;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	struct sigaction timeout = {.sa_handler = on_quit_timeout};
	sigaction(SIGALRM, &timeout, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *profile_path = getenv("CLOISON_PROFILE");
	struct pc_profile profile = {.m = m};
	if (profile_path) pthread_create(&profile.thread, NULL, profile_thread, &profile);
	if (o.restore && vsock_sock[0] && v->cfg.vsock_cid)
		agent_identity_after_restore(vsock_sock, o.hostname, o.clone_dir != NULL);
	struct vm_run_hooks hooks = {.poll = run_poll, .resumed = run_resumed, .ctx = &host};
	struct vm_run_result res;
	harts_running = 1;
	if (got_signal) alarm(QUIT_GRACE_S); /* one that came before */
	bool ran = vm_run(v, &hooks, &res, err, sizeof(err));
	harts_running = 0;
	alarm(0);          /* the harts stopped: what follows (disks written back) takes the time it needs */
	control_stop(ctl); /* the VNC server stops with the VM */
	console_close(con);
	if (!ran) log_error("%s", err);
	switch (res.reason) {
	case MACHINE_POWEROFF: rc = 0; break;
	case MACHINE_FAIL: rc = (res.guest_code & 0xff) ? (res.guest_code & 0xff) : 1; break;
	case MACHINE_QUIT: rc = got_signal ? 128 + got_signal : 0; break;
	default: rc = 1; break;
	}
	if (v->migrated) log_notice("the VM was migrated: it runs on the destination now");
	if (o.stats) print_stats(m, &res);
	if (o.exit_file) write_exit_file(o.exit_file, rc, (int)res.reason, v->migrated);
	if (profile_path) profile_dump(&profile, profile_path);
	vm_destroy(v);
	return rc;
}
