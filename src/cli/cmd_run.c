/*
 * cmd_run.c — `cloison run`: boot a guest in the foreground with its serial
 * console on this terminal.
 *
 * Exit status: 0 when the guest powers off (or the user quits with C-a x),
 * the guest's code when it reports failure through the test finisher (1 if
 * it gave 0), 2 for usage errors, 1 for host-side errors, 128+N on signal N.
 */
#include "commands.h"
#include "console.h"

#include "machine/boot.h"
#include "machine/machine.h"
#include "vm/control.h"
#include "vm/vm.h"
#include "net/netobj.h"
#include "virtio/net.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_FIRMWARE "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#define DEFAULT_APPEND "console=ttyS0 quiet"
#define DEFAULT_MEM (256ULL << 20)
#define MIN_MEM (16ULL << 20)

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: cloison run [OPTIONS]\n"
	    "Boot a RISC-V guest with its serial console on this terminal.\n"
	    "With no options, boots the default guest (fetched by `make guest`).\n"
	    "\n"
	    "  -k, --kernel FILE     kernel: RISC-V Linux Image, or ELF with --firmware none\n"
	    "  -i, --initrd FILE     initial ramdisk\n"
	    "  -a, --append STRING   kernel command line (default \"" DEFAULT_APPEND "\")\n"
	    "  -f, --firmware FILE   M-mode firmware, fw_dynamic style (default Debian's OpenSBI);\n"
	    "                        'none' runs the kernel bare-metal in M-mode\n"
	    "  -m, --mem SIZE        guest memory: 512 (MiB), 512M, 2G (default 256M)\n"
	    "  -c, --cpus N          number of harts, 1-%d (default 1)\n"
	    "      --jit on|off      translate hot guest code to x86-64 (default on)\n"
	    "      --rng on|off      virtio entropy device (default on)\n"
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
	    "      --api-sock PATH   serve the control API (docs/api.md) on a unix socket: pause,\n"
	    "                        resume, stop, save, migrate, stats (`cloison pause --sock PATH` ...)\n"
	    "      --restore DIR     resume a VM saved with `cloison save` (its configuration comes\n"
	    "                        from DIR; memory is mapped copy-on-write, DIR is never changed)\n"
	    "      --incoming [ADDR:]PORT\n"
	    "                        wait for a VM migrated with `cloison migrate --to HOST:PORT`\n"
	    "      --clone DIR       with --restore: run a clone with a new identity: its disks become\n"
	    "                        qcow2 overlays in DIR, its NICs get new MAC addresses, and the\n"
	    "                        guest gets a new VM generation ID (Linux reseeds its RNG)\n"
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
	    "      --stats           print instructions retired and guest MIPS on exit\n"
	    "  -v, --verbose         more messages\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Console: C-a x exits, C-a h shows help. Guest poweroff exits 0; guest reboot\n"
	    "restarts it; a failure reported by the guest exits with its code.\n",
	    MACHINE_MAX_HARTS);
}

struct run_opts {
	const char *kernel, *initrd, *append, *firmware;
	const char *api_sock, *restore, *incoming, *clone_dir, *storage_dir;
	const char *console_sock, *console_log, *exit_file;
	uint64_t ips;
	uint32_t cpu_max;
	char incoming_addr[256]; /* --incoming [ADDR:]PORT, split */
	const char *incoming_port;
	bool start_paused;
	unsigned machine_opts; /* options that describe a new machine (not allowed with --restore) */
	const char *net_specs[MACHINE_MAX_NICS];
	uint64_t mem;
	unsigned cpus;
	bool stats, jit, rng, vconsole, input_hvc0;
	struct machine_disk disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct net_config nics[MACHINE_MAX_NICS];
	unsigned nnics;
	char default_kernel[4096], default_initrd[4096];
};

/* PATH[,format=raw][,readonly=on|off]; modifies `spec` in place (options are split off). */
static bool parse_disk(char *spec, struct machine_disk *d)
{
	*d = (struct machine_disk){0};
	char *save = NULL, *tok = strtok_r(spec, ",", &save);
	if (!tok || !*tok) {
		log_error("--disk needs a path: --disk PATH[,format=raw|qcow2][,readonly=on]");
		return false;
	}
	d->path = tok;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strncmp(tok, "format=", 7)) {
			d->format = tok + 7;
		} else if (!strcmp(tok, "readonly=on")) {
			d->readonly = true;
		} else if (!strcmp(tok, "readonly=off")) {
			d->readonly = false;
		} else if (!strcmp(tok, "backing=off")) {
			d->no_backing = true;
		} else if (!strcmp(tok, "backing=on")) {
			d->no_backing = false;
		} else if (!strcmp(tok, "cache=writeback")) {
			d->unsafe_cache = false;
		} else if (!strcmp(tok, "cache=unsafe")) {
			d->unsafe_cache = true;
		} else if (!strncmp(tok, "bps=", 4) || !strncmp(tok, "iops=", 5)) {
			bool bps = tok[0] == 'b';
			const char *v = tok + (bps ? 4 : 5);
			if (bps ? !parse_disk_size(v, &d->bps) : !parse_uint(v, 0, 10000000, &d->iops)) {
				log_error("invalid --disk %s (bps=BYTES/s with K/M/G suffixes, iops=N)", tok);
				return false;
			}
		} else {
			log_error("unknown --disk option '%s' (known: format=raw|qcow2, readonly=on|off, "
			          "backing=on|off, "
			          "cache=writeback|unsafe)",
			          tok);
			return false;
		}
	}
	return true;
}

static void default_guest_paths(struct run_opts *o)
{
	const char *cache = getenv("CLOISON_CACHE");
	const char *home = getenv("HOME");
	char dir[3900];
	if (cache)
		snprintf(dir, sizeof(dir), "%s/guest", cache);
	else
		snprintf(dir, sizeof(dir), "%s/.cache/cloison/guest", home ? home : ".");
	snprintf(o->default_kernel, sizeof(o->default_kernel), "%s/Image", dir);
	snprintf(o->default_initrd, sizeof(o->default_initrd), "%s/initrd.gz", dir);
}

static uint64_t host_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

/* Returns 0 to run, or an exit status. */
static int parse_args(int argc, char **argv, struct run_opts *o)
{
	enum {
		OPT_STATS = 1000,
		OPT_JIT,
		OPT_RNG,
		OPT_DISK,
		OPT_VCONSOLE,
		OPT_CONSOLE_INPUT,
		OPT_NET,
		OPT_API_SOCK,
		OPT_RESTORE,
		OPT_INCOMING,
		OPT_PAUSED,
		OPT_CLONE,
		OPT_STORAGE_DIR,
		OPT_CPU_MAX,
		OPT_IPS,
		OPT_CONSOLE_SOCK,
		OPT_CONSOLE_LOG,
		OPT_EXIT_FILE,
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
	    {"virtio-console", required_argument, NULL, OPT_VCONSOLE},
	    {"console-input", required_argument, NULL, OPT_CONSOLE_INPUT},
	    {"disk", required_argument, NULL, OPT_DISK},
	    {"net", required_argument, NULL, OPT_NET},
	    {"api-sock", required_argument, NULL, OPT_API_SOCK},
	    {"restore", required_argument, NULL, OPT_RESTORE},
	    {"incoming", required_argument, NULL, OPT_INCOMING},
	    {"paused", no_argument, NULL, OPT_PAUSED},
	    {"clone", required_argument, NULL, OPT_CLONE},
	    {"storage-dir", required_argument, NULL, OPT_STORAGE_DIR},
	    {"cpu-max", required_argument, NULL, OPT_CPU_MAX},
	    {"ips", required_argument, NULL, OPT_IPS},
	    {"console-sock", required_argument, NULL, OPT_CONSOLE_SOCK},
	    {"console-log", required_argument, NULL, OPT_CONSOLE_LOG},
	    {"exit-file", required_argument, NULL, OPT_EXIT_FILE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->append = DEFAULT_APPEND;
	o->firmware = DEFAULT_FIRMWARE;
	o->mem = DEFAULT_MEM;
	o->cpus = 1;
	o->jit = true;
	o->rng = true;
	o->vconsole = true;
	bool kernel_given = false, initrd_given = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:i:a:f:m:c:vh", longopts, NULL)) != -1) {
		uint64_t v;
		if ((c > 0 && c < 128 && strchr("kiafmc", c)) || (c >= OPT_JIT && c <= OPT_NET))
			o->machine_opts++; /* describes a new machine */
		switch (c) {
		case OPT_API_SOCK: o->api_sock = optarg; break;
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
		case OPT_CONSOLE_SOCK: o->console_sock = optarg; break;
		case OPT_CONSOLE_LOG: o->console_log = optarg; break;
		case OPT_EXIT_FILE: o->exit_file = optarg; break;
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
			o->kernel = optarg;
			kernel_given = true;
			break;
		case 'i':
			o->initrd = optarg;
			initrd_given = true;
			break;
		case 'a': o->append = optarg; break;
		case 'f': o->firmware = strcmp(optarg, "none") ? optarg : NULL; break;
		case 'm':
			if (!parse_mem_size(optarg, &v)) {
				log_error("invalid --mem '%s' (examples: 256, 512M, 2G)", optarg);
				return 2;
			}
			o->mem = v;
			break;
		case 'c':
			if (!parse_uint(optarg, 1, MACHINE_MAX_HARTS, &v)) {
				log_error("invalid --cpus '%s': expected 1 to %d", optarg, MACHINE_MAX_HARTS);
				return 2;
			}
			o->cpus = (unsigned)v;
			break;
		case OPT_STATS: o->stats = true; break;
		case OPT_DISK:
			if (o->ndisks == MACHINE_MAX_DISKS) {
				log_error("at most %d disks", MACHINE_MAX_DISKS);
				return 2;
			}
			if (!parse_disk(optarg, &o->disks[o->ndisks])) return 2;
			o->ndisks++;
			break;
		case OPT_NET: {
			if (o->nnics == MACHINE_MAX_NICS) {
				log_error("at most %d network interfaces", MACHINE_MAX_NICS);
				return 2;
			}
			char err[512];
			if (!netspec_resolve(optarg, &o->nics[o->nnics], err, sizeof(err))) {
				log_error("%s", err);
				return 2;
			}
			if (strlen(optarg) >= VM_NETSPEC_MAX) {
				log_error("--net spec too long");
				return 2;
			}
			o->net_specs[o->nnics++] = optarg;
			break;
		}
		case OPT_JIT:
		case OPT_RNG:
		case OPT_VCONSOLE:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				log_error("invalid --%s '%s': expected on or off",
				          c == OPT_JIT   ? "jit"
				          : c == OPT_RNG ? "rng"
				                         : "virtio-console",
				          optarg);
				return 2;
			}
			*(c == OPT_JIT   ? &o->jit
			  : c == OPT_RNG ? &o->rng
			                 : &o->vconsole) = !strcmp(optarg, "on");
			break;
		case OPT_CONSOLE_INPUT:
			if (strcmp(optarg, "ttyS0") && strcmp(optarg, "hvc0")) {
				log_error("invalid --console-input '%s': expected ttyS0 or hvc0", optarg);
				return 2;
			}
			o->input_hvc0 = !strcmp(optarg, "hvc0");
			break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (o->input_hvc0 && !o->vconsole) {
		log_error("--console-input hvc0 needs the virtio console (--virtio-console on)");
		return 2;
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see cloison run --help)", argv[optind]);
		return 2;
	}
	if (o->storage_dir && !o->incoming) {
		log_error("--storage-dir DIR goes with --incoming");
		return 2;
	}
	if (o->clone_dir && !o->restore) {
		log_error("--clone DIR goes with --restore SNAPSHOT");
		return 2;
	}
	if (o->restore && o->incoming) {
		log_error("--restore and --incoming exclude each other");
		return 2;
	}
	if ((o->restore || o->incoming) && o->machine_opts) {
		log_error("--%s takes the VM's configuration from %s: drop the machine options",
		          o->restore ? "restore" : "incoming", o->restore ? "the saved state" : "the source");
		return 2;
	}
	if (o->restore || o->incoming) return 0;
	if (o->mem < MIN_MEM || (o->mem & 0xfff)) {
		log_error("--mem must be a multiple of 4 KiB and at least %llu MiB",
		          (unsigned long long)(MIN_MEM >> 20));
		return 2;
	}
	if (o->mem > host_memory()) {
		log_error("--mem %llu MiB is more than this host has (%llu MiB)",
		          (unsigned long long)(o->mem >> 20), (unsigned long long)(host_memory() >> 20));
		return 2;
	}
	if (!kernel_given) {
		default_guest_paths(o);
		o->kernel = o->default_kernel;
		if (!initrd_given) o->initrd = o->default_initrd;
		if (access(o->kernel, R_OK) != 0) {
			log_error("no kernel given and the default guest is missing (%s): run `make guest`",
			          o->kernel);
			return 1;
		}
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_stats(const struct machine *m, double seconds, uint64_t insns)
{
	fprintf(stderr, "cloison: stats: %llu instructions in %.3f s host time: %.1f MIPS (%u hart%s)\n",
	        (unsigned long long)insns, seconds, seconds > 0 ? (double)insns / seconds / 1e6 : 0.0,
	        m->nharts, m->nharts > 1 ? "s" : "");
	for (unsigned i = 0; i < m->nharts; i++)
		fprintf(stderr,
		        "cloison: stats: hart %u: %llu instructions, %llu WFI sleeps, stopped at pc 0x%llx "
		        "(%c-mode)\n",
		        i, (unsigned long long)m->harts[i]->instret,
		        (unsigned long long)m->harts[i]->wfi_count, (unsigned long long)m->harts[i]->pc,
		        "USHM"[m->harts[i]->priv]);
	for (unsigned i = 0; i < m->nnics; i++) {
		const struct net_stats *st = &m->nics[i]->stats;
		fprintf(stderr,
		        "cloison: stats: eth%u: rx %llu frames %llu bytes, tx %llu frames %llu bytes, "
		        "dropped rx %llu "
		        "tx %llu, malformed %llu, throttled %.3f s\n",
		        i, (unsigned long long)st->rx_frames, (unsigned long long)st->rx_bytes,
		        (unsigned long long)st->tx_frames, (unsigned long long)st->tx_bytes,
		        (unsigned long long)st->rx_dropped, (unsigned long long)st->tx_dropped,
		        (unsigned long long)st->tx_malformed, (double)st->throttled_ns / 1e9);
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
		p->pcs[p->n++] = __atomic_load_n(&p->m->harts[0]->pc, __ATOMIC_RELAXED);
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
	if (!fs_write_file_atomic(path, 0644, buf, (size_t)n, err, sizeof(err))) log_error("%s", err);
}

/* The configuration of a new VM from the command line. */
static void config_from_opts(const struct run_opts *o, struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->kernel, sizeof(c->kernel), "%s", o->kernel ? o->kernel : "");
	snprintf(c->initrd, sizeof(c->initrd), "%s", o->initrd ? o->initrd : "");
	snprintf(c->firmware, sizeof(c->firmware), "%s", o->firmware ? o->firmware : "");
	snprintf(c->append, sizeof(c->append), "%s", o->append ? o->append : "");
	c->mem = o->mem;
	c->cpus = o->cpus;
	c->jit = o->jit;
	c->rng = o->rng;
	c->vconsole = o->vconsole;
	c->input_hvc0 = o->input_hvc0;
	for (unsigned i = 0; i < o->ndisks; i++) {
		const struct machine_disk *d = &o->disks[i];
		struct vm_disk *vd = &c->disks[i];
		snprintf(vd->path, sizeof(vd->path), "%s", d->path);
		snprintf(vd->format, sizeof(vd->format), "%s", d->format ? d->format : "");
		vd->readonly = d->readonly, vd->no_backing = d->no_backing,
		vd->unsafe_cache = d->unsafe_cache;
		vd->bps = d->bps, vd->iops = d->iops;
	}
	c->ndisks = o->ndisks;
	for (unsigned i = 0; i < o->nnics; i++) {
		snprintf(c->nics[i].spec, sizeof(c->nics[i].spec), "%s", o->net_specs[i]);
		c->nics[i].mac_set = o->nics[i].mac_set;
		memcpy(c->nics[i].mac, o->nics[i].mac, 6);
	}
	c->nnics = o->nnics;
}

/* Firmware, kernel, initrd and device tree into RAM, harts reset to the entry point. */
static bool load_boot_images(struct vm *v, char *err, size_t errlen)
{
	struct boot_config boot = {.firmware = v->cfg.firmware[0] ? v->cfg.firmware : NULL,
	                           .kernel = v->cfg.kernel,
	                           .initrd = v->cfg.initrd[0] ? v->cfg.initrd : NULL,
	                           .cmdline = v->cfg.append};
	return boot_load(v->m, &boot, err, errlen) == 0;
}

int cmd_run(int argc, char **argv)
{
	uint64_t t_start = vm_now_ns();
	struct run_opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc) return rc < 0 ? 0 : rc;

	char err[1024];
	struct console *con = o.console_sock || o.console_log
	                          ? console_open_server(o.console_sock, o.console_log, err, sizeof(err))
	                          : console_open(STDIN_FILENO, STDOUT_FILENO);
	if (!con) {
		log_error("%s", o.console_sock || o.console_log ? err : "out of memory");
		return 1;
	}
	struct vm *v = NULL;
	struct vm_incoming *incoming = NULL;
	bool boot_fresh = false;
	if (o.restore) {
		v = vm_restore(o.restore, o.clone_dir, console_write, con, err, sizeof(err));
	} else if (o.incoming) {
		log_info("waiting for an incoming migration on %s:%s",
		         o.incoming_addr[0] ? o.incoming_addr : "*", o.incoming_port);
		v = vm_incoming(o.incoming_addr, o.incoming_port, o.storage_dir, console_write, con,
		                &incoming, err, sizeof(err));
	} else {
		struct vm_config cfg;
		config_from_opts(&o, &cfg);
		v = vm_create(&cfg, NULL, console_write, con, err, sizeof(err));
		boot_fresh = true;
	}
	if (!v) {
		console_close(con);
		log_error("%s", err);
		return 1;
	}
	struct machine *m = v->m;
	if (o.ips || o.cpu_max) machine_set_cpu_limits(m, o.ips, o.cpu_max);
	/* Loaded before the control socket answers: a resume must never start harts on empty RAM. */
	bool restored = !boot_fresh, rebooting = false;
	if (boot_fresh && !load_boot_images(v, err, sizeof(err))) {
		console_close(con);
		log_error("%s", err);
		vm_destroy(v);
		return 1;
	}
	/* Held before the control socket answers, so a resume sent as soon as it does finds it paused. */
	if (o.start_paused) machine_hold(m); /* the API's resume starts the harts */
	struct control *ctl = NULL;
	if (o.api_sock && !(ctl = control_start(v, o.api_sock, err, sizeof(err)))) {
		vm_incoming_confirm(incoming, false, "the destination cannot serve its control socket");
		console_close(con);
		log_error("%s", err);
		vm_destroy(v);
		return 1;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	double start = now_seconds();
	uint64_t insns = 0;
	const char *profile_path = getenv("CLOISON_PROFILE");
	struct pc_profile profile = {.m = m};
	if (profile_path) pthread_create(&profile.thread, NULL, profile_thread, &profile);
	for (;;) {
		/* A reboot reloads the images; pause and resume are refused until the harts are reset. */
		if (rebooting && !load_boot_images(v, err, sizeof(err))) {
			control_stop(ctl);
			console_close(con);
			log_error("%s", err);
			vm_destroy(v);
			return 1;
		}
		machine_start(m);
		if (restored) {
			restored = false;
			if (o.restore)
				log_info("restored in %.1f ms", (double)(vm_now_ns() - t_start) / 1e6);
			else
				log_info("the migrated VM runs here now");
			if (incoming) vm_incoming_confirm(incoming, true, NULL);
			incoming = NULL;
		}
		while (atomic_load(&m->exit_reason) == MACHINE_RUNNING) {
			if (console_poll(con, m, 10)) machine_request_exit(m, MACHINE_QUIT, 0);
			if (got_signal) machine_request_exit(m, MACHINE_QUIT, 0);
			machine_poll_io(m);
		}
		machine_stop(m);
		insns += machine_instructions(m);
		if (atomic_load(&m->exit_reason) != MACHINE_REBOOT) break;
		log_info("guest requested a reboot");
		machine_clear_ram(m); /* fresh RAM: reads back as zero (also after a restore) */
		rebooting = true;
	}
	double seconds = now_seconds() - start;
	control_stop(ctl);

	console_close(con);
	switch (atomic_load(&m->exit_reason)) {
	case MACHINE_POWEROFF: rc = 0; break;
	case MACHINE_FAIL: rc = (m->exit_code & 0xff) ? (m->exit_code & 0xff) : 1; break;
	case MACHINE_QUIT: rc = got_signal ? 128 + got_signal : 0; break;
	default: rc = 1; break;
	}
	if (v->migrated) log_info("the VM was migrated: it runs on the destination now");
	if (o.stats) print_stats(m, seconds, insns);
	if (o.exit_file) write_exit_file(o.exit_file, rc, atomic_load(&m->exit_reason), v->migrated);
	if (profile_path) profile_dump(&profile, profile_path);
	vm_destroy(v);
	return rc;
}
