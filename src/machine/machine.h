/*
 * machine.h — the `virt`-style board: RAM, the MMIO bus, the devices on it,
 * the harts, and how a run ends (poweroff, reboot, failure).
 *
 * The memory map follows QEMU's `virt` so Debian's OpenSBI and kernels run
 * unchanged; the device tree (fdt.c) describes exactly what is built here.
 */
#ifndef CLOISON_MACHINE_H
#define CLOISON_MACHINE_H

#include "cpu/riscv/hart.h"
#include "machine/accel.h"
#include "net/netdev.h"
#include "util/dirty_log.h"
#include "util/state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRT_TEST_BASE 0x00100000ULL
#define VIRT_RTC_BASE 0x00101000ULL
#define VIRT_VMGENID_BASE 0x00102000ULL
#define VIRT_CLINT_BASE 0x02000000ULL
#define VIRT_CLINT_SIZE 0x10000ULL
#define VIRT_PLIC_BASE 0x0c000000ULL
#define VIRT_PLIC_SIZE 0x600000ULL
#define VIRT_UART_BASE 0x10000000ULL
#define VIRT_VIRTIO_BASE 0x10001000ULL /* virtio-mmio slots, 0x1000 apart */
#define VIRT_RAM_BASE 0x80000000ULL

#define VIRT_UART_IRQ 10
#define VIRT_RTC_IRQ 11
#define VIRT_VMGENID_IRQ 12
#define VIRT_VIRTIO_IRQ 1       /* first slot's PLIC source (slots 0-7: 1-8) */
#define VIRT_VIRTIO_IRQ_HIGH 32 /* slots 8 and up: 32 and up (10 to 12 are taken) */

#define MACHINE_MAX_HARTS 8
#define MACHINE_MAX_REGIONS 32
#define PLIC_NUM_SOURCES 96 /* source 0 is reserved */

/* A device's MMIO handlers; offsets are relative to the region base. */
typedef bool (*mmio_read_fn)(void *dev, uint64_t off, unsigned size, uint64_t *val);
typedef bool (*mmio_write_fn)(void *dev, uint64_t off, unsigned size, uint64_t val);

struct mmio_region {
	uint64_t base, size;
	mmio_read_fn read;
	mmio_write_fn write;
	void *dev;
};

enum machine_exit {
	MACHINE_RUNNING = 0,
	MACHINE_POWEROFF,
	MACHINE_REBOOT,
	MACHINE_FAIL,  /* guest reported failure through the test finisher */
	MACHINE_QUIT,  /* the user asked (console escape, signal) */
	MACHINE_ERROR, /* host-side problem */
};

struct clint;
struct plic;
struct virtio_mmio;
struct virtio_rng;
struct virtio_gpu;
struct virtio_input;
struct virtio_balloon;
struct virtio_vsock;
struct virtio_9p;
struct virtio_blk;
struct virtio_console;
struct virtio_net;

#define MACHINE_MAX_DISKS 6

struct machine_disk {
	const char *path;
	const char
	    *format; /* NULL: by name (*.qcow2) else raw, refusing files that look like another format */
	bool readonly;
	bool no_backing;    /* never open a backing file the image names */
	bool unsafe_cache;  /* guest flushes do nothing */
	bool no_lock;       /* no flock: a cluster's ownership and the VM's lease guard the image */
	uint64_t bps, iops; /* read/write limits in bytes/s and requests/s (0: none) */
};

#define MACHINE_MAX_NICS 4
#define MACHINE_MAX_SHARES 4

struct machine_share {
	const char *path; /* the host directory */
	const char *tag;  /* what the guest mounts it by */
	bool readonly;
};
#define MACHINE_MAX_VIRTIO 16

/* A virtio-mmio slot: its transport and the PLIC line it drives. */
struct virtio_slot {
	struct machine *m;
	unsigned irq;
	struct virtio_mmio *transport;
};
struct uart;
struct goldfish_rtc;
struct vmgenid;

/* Where console output goes; the CLI provides it. */
typedef void (*console_write_fn)(void *opaque, const uint8_t *buf, size_t len);

struct machine {
	uint8_t *ram;
	uint64_t ram_size;
	bool ram_file_backed; /* mapped from a memory file (restore): untouched pages are not zero */
	unsigned nharts;
	uint64_t isa_ext;              /* the extensions every hart offers (cpu/riscv/isa.h) */
	const struct accel_ops *accel; /* what runs the harts (accel.h) */
	void *accel_vm;                /* its board-wide state, or NULL */
	struct accel_cpu *cpus[MACHINE_MAX_HARTS];
	uint64_t timebase_hz; /* the harts' time CSR frequency, as the device tree says */
	pthread_t threads[MACHINE_MAX_HARTS];

	struct mmio_region regions[MACHINE_MAX_REGIONS];
	unsigned nregions;
	pthread_mutex_t io_lock; /* serializes all device state */

	struct clint *clint;
	struct plic *plic;
	struct uart *uart;
	struct goldfish_rtc *rtc;
	struct vmgenid *vmgenid;
	struct virtio_slot virtio[MACHINE_MAX_VIRTIO];
	unsigned nvirtio;
	struct virtio_rng *rng;
	struct virtio_gpu *gpu;                 /* NULL: no display */
	struct virtio_input *keyboard, *tablet; /* with a display: its keyboard and pointer */
	struct virtio_balloon *balloon;
	struct virtio_vsock *vsock;
	struct virtio_console *vconsole;
	_Atomic bool input_to_vconsole; /* the keyboard feeds hvc0 instead of the UART */
	struct virtio_blk *disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct virtio_net *nics[MACHINE_MAX_NICS];
	unsigned nnics;
	struct virtio_9p *shares[MACHINE_MAX_SHARES];
	unsigned nshares;

	/* Platform timer: 10 MHz ticks from the host monotonic clock; it stands still while paused. */
	uint64_t time_origin_ns;
	_Atomic bool time_frozen;
	uint64_t frozen_ticks;

	/* Run control: whether hart threads exist, whether the VM is paused (run_lock guards both). */
	pthread_mutex_t run_lock;
	bool harts_running, paused;
	struct dirty_log dirty; /* pages written while live migration tracks them */

	_Atomic int exit_reason; /* enum machine_exit */
	int exit_code;           /* for MACHINE_FAIL */

	console_write_fn console_write;
	void *console_opaque;

	/* Speed limits (machine_set_cpu_limits). */
	uint64_t limit_ips;     /* instructions per second, per hart; 0: none */
	uint32_t limit_cpu_pct; /* percent of one host CPU for all harts together; 0: none */
};

#define MACHINE_TIMEBASE_HZ 10000000ULL

struct machine_config {
	uint64_t ram_size;
	unsigned nharts;
	console_write_fn console_write;
	void *console_opaque;
	const struct accel_ops *accel; /* NULL: the emulator (accel.h) */
	bool jit;                      /* translate hot guest code to host code (the emulator) */
	uint64_t isa_ext;         /* ISA extensions of the harts (cpu/riscv/isa.h); 0: rv_ext_defaults() */
	bool rng;                 /* a virtio entropy device */
	bool balloon;             /* a virtio memory balloon */
	bool free_page_reporting; /* ... whose guest hands free memory back on its own */
	bool vconsole;            /* a virtio console (hvc0) alongside the UART */
	bool input_to_vconsole;   /* keyboard input starts on hvc0 */
	uint32_t vsock_cid;       /* a virtio socket device with this guest CID (0: none) */
	uint32_t display_width, display_height; /* a virtio GPU with this mode (0: none) */
	const char *vsock_path; /* ... and the unix socket host programs reach it by (NULL: none) */
	struct machine_disk disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct net_config nics[MACHINE_MAX_NICS]; /* a MAC is drawn at random when none is set */
	unsigned nnics;
	struct machine_share shares[MACHINE_MAX_SHARES]; /* host folders (virtio-9p) */
	unsigned nshares;
	uint8_t *ram; /* NULL, or guest RAM already filled (from machine_alloc_ram): the board takes it, even
	                 on failure */
};

/* Reserves guest RAM (zero, lazily backed, with the padding harts need). NULL on failure. */
uint8_t *machine_alloc_ram(uint64_t ram_size);
void machine_free_ram(uint8_t *ram, uint64_t ram_size);

/* Creates the board. Returns NULL and sets errmsg on failure. */
struct machine *machine_create(const struct machine_config *cfg, char *errmsg, size_t errlen);
void machine_destroy(struct machine *m);

/* Resets every hart to `entry` with a0 = hartid, a1 = dtb, a2 = a2 value. */
void machine_reset_harts(struct machine *m, uint64_t entry, uint64_t dtb, uint64_t a2);

/* Runs all harts on host threads until the guest stops; the caller's thread
 * must call machine_poll_io() meanwhile (console input, RTC alarm). */
void machine_start(struct machine *m);
void machine_stop(struct machine *m);
void machine_request_exit(struct machine *m, enum machine_exit reason, int code);
uint64_t machine_instructions(const struct machine *m);
/* Makes every hart and device obey a run lease (util/lease.h; NULL: none), before machine_start. */
struct lease;
void machine_set_lease(struct machine *m, const struct lease *l);
/* Caps the harts' speed inside the emulator (any thread, takes effect at once): `ips` instructions per
 * second per hart, and `cpu_pct` percent of one host CPU shared evenly by the harts (0: no cap). */
void machine_set_cpu_limits(struct machine *m, uint64_t ips, uint32_t cpu_pct);
/* The memory balloon: asks the guest to keep `guest_bytes` of its RAM (0 or the RAM size: all of it),
 * and copies the balloon's numbers into *out (asking the guest to refresh its statistics for next
 * time). Both false when the board has no balloon. */
bool machine_balloon_set_memory(struct machine *m, uint64_t guest_bytes);
bool machine_balloon_report(struct machine *m, struct virtio_balloon *out);

/* Pause: harts stop, guest time stands still, in-flight disk requests complete (and with `flush`,
 * reach the host's disk), devices stop touching guest memory. False if already paused, stopped, or a
 * disk flush failed (then the VM is paused anyway). Resume undoes it. Both take run_lock. */
bool machine_pause(struct machine *m, bool flush);
bool machine_resume(struct machine *m);
bool machine_is_paused(struct machine *m);
/* Marks a machine that has not started yet as paused: machine_start will not run it until resumed. */
void machine_hold(struct machine *m);
/* Snapshot of every component's state as sections (the machine must be paused). The caller frames it
 * (header, its own sections, "end"). */
void machine_save_state(struct machine *m, struct state_writer *w);
/* Loads what machine_save_state wrote into a machine built from the same configuration, before it
 * starts. False with r->err set on any mismatch or out-of-range field. */
bool machine_load_state(struct machine *m, struct state_reader *r);
/* Dirty-page tracking for live migration: start marks every page; harvest moves the marks into `out`
 * (one bit per page) with the harts briefly stopped so no write TLB entry outlives the round.
 * Returns the number of dirty pages. */
void machine_dirty_start(struct machine *m);
uint64_t machine_dirty_harvest(struct machine *m, uint64_t *out);
void machine_dirty_stop(struct machine *m);

/* Releases (or takes back) the locks on the disk images, with the machine paused: a migration's
 * destination opens them. False if a disk's lock could not be taken back. */
bool machine_set_disks_locked(struct machine *m, bool locked);
/* A new identity for a clone: a new VM generation ID, announced to the guest by an interrupt (Linux
 * reseeds its RNG). Takes io_lock. */
void machine_new_generation(struct machine *m);
/* Guest RAM becomes a private copy-on-write mapping of `fd` (a memory file of ram_size bytes): pages
 * load when first touched. Before the harts start. False with errno set. */
bool machine_map_ram_file(struct machine *m, int fd);
/* Guest RAM reads as zero again (reboot). */
void machine_clear_ram(struct machine *m);

/* Bus. */
bool machine_add_region(struct machine *m, uint64_t base, uint64_t size, mmio_read_fn rd, mmio_write_fn wr,
                        void *dev);
uint64_t machine_time(const struct machine *m);

/* Puts a virtio transport in the next free virtio-mmio slot. */
bool machine_add_virtio(struct machine *m, struct virtio_mmio *t);
uint64_t machine_virtio_base(unsigned slot);

/* Interrupt routing: devices raise PLIC sources (caller holds io_lock). */
void machine_set_irq(struct machine *m, unsigned source, bool level);

/* Console input from the host (takes io_lock). Returns bytes accepted. */
size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len);
/* Switches keyboard input between the UART and the virtio console; returns the new target's name
 * (unchanged, "ttyS0", when there is no virtio console). */
const char *machine_console_switch(struct machine *m);
/* Periodic host-side work: RTC alarms. Takes io_lock. */
void machine_poll_io(struct machine *m);

#endif
