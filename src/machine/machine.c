/*
 * machine.c — board assembly: guest RAM, the MMIO bus, hart threads, the
 * platform clock, interrupt routing, and the end of a run.
 *
 * The bus serializes device accesses with one lock (io_lock); RAM never goes
 * through here (harts reach it through their TLBs).
 */
#include "machine.h"
#include "stats.h"
#include "board.h"

#include "devices.h"
#include "cpu/riscv/isa.h"
#include "virtio/mmio.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "net/pcap.h"
#include "virtio/rng.h"
#include "util/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

uint64_t machine_time(const struct machine *m)
{
	if (atomic_load_explicit(&m->time_frozen, memory_order_acquire)) return m->frozen_ticks;
	return (monotonic_ns() - m->time_origin_ns) / (1000000000ULL / MACHINE_TIMEBASE_HZ);
}

static uint64_t bus_read_time(void *opaque)
{
	return machine_time(opaque);
}

static struct mmio_region *find_region(struct machine *m, uint64_t addr, unsigned size)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		struct mmio_region *r = &m->regions[i];
		if (addr >= r->base && addr - r->base <= r->size - size) return r;
	}
	return NULL;
}

static bool bus_mmio_read(void *opaque, uint64_t addr, unsigned size, uint64_t *val)
{
	struct machine *m = opaque;
	struct mmio_region *r = find_region(m, addr, size);
	if (!r) return false;
	pthread_mutex_lock(&m->io_lock);
	bool ok = r->read(r->dev, addr - r->base, size, val);
	pthread_mutex_unlock(&m->io_lock);
	return ok;
}

static bool bus_mmio_write(void *opaque, uint64_t addr, unsigned size, uint64_t val)
{
	struct machine *m = opaque;
	struct mmio_region *r = find_region(m, addr, size);
	if (!r) return false;
	pthread_mutex_lock(&m->io_lock);
	bool ok = r->write(r->dev, addr - r->base, size, val);
	pthread_mutex_unlock(&m->io_lock);
	return ok;
}

bool machine_add_region(struct machine *m, uint64_t base, uint64_t size, mmio_read_fn rd, mmio_write_fn wr,
                        void *dev)
{
	if (m->nregions == MACHINE_MAX_REGIONS) return false;
	for (unsigned i = 0; i < m->nregions; i++) {
		struct mmio_region *r = &m->regions[i];
		if (base < r->base + r->size && r->base < base + size) return false; /* overlap */
	}
	m->regions[m->nregions++] = (struct mmio_region){base, size, rd, wr, dev};
	return true;
}

uint64_t machine_virtio_base(unsigned slot)
{
	return VIRT_VIRTIO_BASE + 0x1000ULL * slot;
}

static bool virtio_slot_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct virtio_slot *s = dev;
	return virtio_mmio_read(s->transport, off, size, val);
}

static bool virtio_slot_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_slot *s = dev;
	return virtio_mmio_write(s->transport, off, size, val);
}

static void virtio_slot_irq(void *opaque, bool level)
{
	struct virtio_slot *s = opaque;
	machine_set_irq(s->m, s->irq, level);
}

bool machine_add_virtio(struct machine *m, struct virtio_mmio *t)
{
	if (m->nvirtio == MACHINE_MAX_VIRTIO) return false;
	unsigned i = m->nvirtio;
	struct virtio_slot *s = &m->virtio[i];
	*s = (struct virtio_slot){
	    .m = m, .irq = i < 8 ? VIRT_VIRTIO_IRQ + i : VIRT_VIRTIO_IRQ_HIGH + (i - 8), .transport = t};
	t->set_irq = virtio_slot_irq;
	t->irq_opaque = s;
	if (!machine_add_region(m, machine_virtio_base(i), 0x1000, virtio_slot_read, virtio_slot_write, s))
		return false;
	m->nvirtio++;
	return true;
}

void machine_set_irq(struct machine *m, unsigned source, bool level)
{
	plic_set_source(m->plic, source, level);
}

/* A virtio-net device on the backend the config names; its I/O thread starts once it is on the bus. */
#define HUGE_PAGE (2ULL << 20)

/* Asks the host for transparent huge pages over guest RAM (a hint; the host may refuse): a
 * guest touching its memory the first time then takes one host page fault per 2 MiB, not per
 * 4 KiB, and a large working set costs fewer host TLB misses. */
static void advise_huge_pages(void *ram, uint64_t ram_size)
{
	(void)madvise(ram, ram_size, MADV_HUGEPAGE);
}

uint8_t *machine_alloc_ram(uint64_t ram_size)
{
	/* Aligned to a huge page (the slack is unmapped again). 4 KiB past the end stay readable:
	 * the CPU may read a few bytes ahead. */
	uint64_t len = ram_size + 4096;
	uint8_t *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) return NULL;
	uint8_t *ram = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (ram > p) munmap(p, (size_t)(ram - p));
	size_t tail = (size_t)((p + len + HUGE_PAGE) - (ram + len));
	if (tail) munmap(ram + len, tail);
	advise_huge_pages(ram, ram_size);
	return ram;
}

void machine_free_ram(uint8_t *ram, uint64_t ram_size)
{
	if (ram) munmap(ram, ram_size + 4096);
}

/* The board's devices, in the order of their snapshot sections and virtio-mmio slots. */
const struct board_device *const board_devices[] = {
    &clint_board,
    &plic_board,
    &uart_board,
    &rtc_board,
    &vmgenid_board,
    &test_finisher_board,
    &virtio_blk_board,
    &virtio_net_board,
    &virtio_rng_board,
    &virtio_console_board,
    &virtio_balloon_board, /* after the others: boards saved before it existed keep their slots */
    &virtio_vsock_board,   /* likewise, after the balloon */
    &virtio_9p_board,      /* and the shared folders after it */
    &virtio_gpu_board,     /* the display last */
    &virtio_input_board,   /* and its keyboard and tablet */
    NULL,
};

struct machine *machine_create(const struct machine_config *cfg, char *errmsg, size_t errlen)
{
	if (cfg->nharts < 1 || cfg->nharts > MACHINE_MAX_HARTS) {
		snprintf(errmsg, errlen, "the board supports 1 to %d harts", MACHINE_MAX_HARTS);
		return NULL;
	}
	struct machine *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(errmsg, errlen, "out of memory");
		return NULL;
	}
	m->ram_size = cfg->ram_size;
	m->nharts = cfg->nharts;
	m->isa_ext = cfg->isa_ext ? cfg->isa_ext : rv_ext_defaults();
	m->accel = cfg->accel ? cfg->accel : &accel_emulator;
	m->timebase_hz = MACHINE_TIMEBASE_HZ;
	m->console_write = cfg->console_write;
	m->console_opaque = cfg->console_opaque;
	pthread_mutex_init(&m->io_lock, NULL);
	pthread_mutex_init(&m->run_lock, NULL);
	m->time_origin_ns = monotonic_ns();

	m->ram = cfg->ram ? cfg->ram : machine_alloc_ram(cfg->ram_size);
	if (!m->ram) {
		snprintf(errmsg, errlen, "cannot reserve %llu MiB of guest memory: %s",
		         (unsigned long long)(cfg->ram_size >> 20), strerror(errno));
		m->ram = NULL;
		machine_destroy(m);
		return NULL;
	}

	if (!dirty_log_init(&m->dirty, m->ram, m->ram_size)) {
		snprintf(errmsg, errlen, "out of memory");
		machine_destroy(m);
		return NULL;
	}
	struct rv_bus bus = {
	    .dirty = &m->dirty,
	    .ram = m->ram,
	    .ram_base = VIRT_RAM_BASE,
	    .ram_size = m->ram_size,
	    .mmio_read = bus_mmio_read,
	    .mmio_write = bus_mmio_write,
	    .read_time = bus_read_time,
	    .opaque = m,
	};
	if (m->accel->vm_create && !(m->accel_vm = m->accel->vm_create(m, errmsg, errlen))) {
		machine_destroy(m);
		return NULL;
	}
	for (unsigned i = 0; i < m->nharts; i++) {
		m->cpus[i] = m->accel->cpu_create(m, i, &bus, cfg, errmsg, errlen);
		if (!m->cpus[i]) {
			machine_destroy(m);
			return NULL;
		}
	}

	for (const struct board_device *const *d = board_devices; *d; d++)
		if (!(*d)->create(m, cfg, errmsg, errlen)) {
			machine_destroy(m);
			return NULL;
		}
	return m;
}

void machine_destroy(struct machine *m)
{
	if (!m) return;
	/* In reverse: the virtio devices go before the interrupt controller they may still signal. */
	size_t n = 0;
	while (board_devices[n]) n++;
	while (n--) board_devices[n]->destroy(m);
	for (unsigned i = 0; i < m->nharts; i++)
		if (m->cpus[i]) m->accel->cpu_destroy(m->cpus[i]);
	if (m->accel_vm) m->accel->vm_destroy(m->accel_vm);
	machine_free_ram(m->ram, m->ram_size);
	dirty_log_free(&m->dirty);
	pthread_mutex_destroy(&m->io_lock);
	pthread_mutex_destroy(&m->run_lock);
	free(m);
}

bool machine_map_ram_file(struct machine *m, int fd)
{
	void *p =
	    mmap(m->ram, m->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0);
	m->ram_file_backed = p != MAP_FAILED;
	return p != MAP_FAILED;
}

void machine_clear_ram(struct machine *m)
{
	void *p = mmap(m->ram, m->ram_size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		memset(m->ram, 0, m->ram_size); /* keeps the address either way */
	} else {
		m->ram_file_backed = false;
		advise_huge_pages(m->ram, m->ram_size);
	}
}

void machine_reset_harts(struct machine *m, uint64_t entry, uint64_t dtb, uint64_t a2)
{
	for (unsigned i = 0; i < m->nharts; i++) m->accel->reset(m->cpus[i], entry, dtb, a2);
	atomic_store(&m->exit_reason, MACHINE_RUNNING);
	m->exit_code = 0;
	pthread_mutex_lock(&m->io_lock); /* a board reset resets its devices */
	for (unsigned i = 0; i < m->nvirtio; i++) virtio_mmio_reset(m->virtio[i].transport);
	pthread_mutex_unlock(&m->io_lock);
}

struct hart_thread_arg {
	const struct accel_ops *accel;
	struct accel_cpu *cpu;
};

static void *hart_thread(void *arg)
{
	struct hart_thread_arg a = *(struct hart_thread_arg *)arg;
	free(arg);
	a.accel->run(a.cpu);
	return NULL;
}

/* Hart threads (run_lock held). */
void machine_start_harts(struct machine *m)
{
	if (m->harts_running) return;
	for (unsigned i = 0; i < m->nharts; i++) {
		struct hart_thread_arg *a = malloc(sizeof(*a));
		if (!a) abort(); /* a few bytes at VM start */
		*a = (struct hart_thread_arg){m->accel, m->cpus[i]};
		m->accel->request_stop(m->cpus[i], false);
		pthread_create(&m->threads[i], NULL, hart_thread, a);
	}
	m->harts_running = true;
}

void machine_stop_harts(struct machine *m)
{
	if (!m->harts_running) return;
	for (unsigned i = 0; i < m->nharts; i++) m->accel->request_stop(m->cpus[i], true);
	for (unsigned i = 0; i < m->nharts; i++) pthread_join(m->threads[i], NULL);
	m->harts_running = false;
}

void machine_start(struct machine *m)
{
	pthread_mutex_lock(&m->run_lock);
	if (!m->paused) machine_start_harts(m);
	pthread_mutex_unlock(&m->run_lock);
}

void machine_request_exit(struct machine *m, enum machine_exit reason, int code)
{
	int expected = MACHINE_RUNNING;
	if (atomic_compare_exchange_strong(&m->exit_reason, &expected, (int)reason)) m->exit_code = code;
	for (unsigned i = 0; i < m->nharts; i++) m->accel->request_stop(m->cpus[i], true);
}

void machine_stop(struct machine *m)
{
	pthread_mutex_lock(&m->run_lock);
	machine_stop_harts(m);
	pthread_mutex_unlock(&m->run_lock);
}

uint64_t machine_instructions(const struct machine *m)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < m->nharts; i++) n += m->accel->instructions(m->cpus[i]);
	return n;
}

void machine_set_cpu_limits(struct machine *m, uint64_t ips, uint32_t cpu_pct)
{
	m->limit_ips = ips;
	m->limit_cpu_pct = cpu_pct;
	uint32_t per_hart = (uint32_t)((uint64_t)cpu_pct * 100 / m->nharts);
	if (cpu_pct && !per_hart) per_hart = 1;
	if (m->accel->set_limits)
		for (unsigned i = 0; i < m->nharts; i++) m->accel->set_limits(m->cpus[i], ips, per_hart);
}

size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&m->io_lock);
	size_t n = m->vconsole && m->input_to_vconsole ? virtio_console_receive(m->vconsole, buf, len)
	                                               : uart_receive(m->uart, buf, len);
	pthread_mutex_unlock(&m->io_lock);
	return n;
}

const char *machine_console_switch(struct machine *m)
{
	if (m->vconsole) m->input_to_vconsole = !m->input_to_vconsole;
	return m->input_to_vconsole ? "hvc0" : "ttyS0";
}

void machine_poll_io(struct machine *m)
{
	pthread_mutex_lock(&m->io_lock);
	rtc_poll(m->rtc);
	pthread_mutex_unlock(&m->io_lock);
}

void machine_stats(const struct machine *m, struct machine_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->nharts = m->nharts;
	for (unsigned i = 0; i < m->nharts; i++) {
		m->accel->stats(m->cpus[i], &st->harts[i]);
		st->instructions += st->harts[i].instructions;
	}
	st->ndisks = m->ndisks;
	for (unsigned i = 0; i < m->ndisks; i++) st->disks[i] = m->disks[i]->stats;
	st->nnics = m->nnics;
	for (unsigned i = 0; i < m->nnics; i++) st->nics[i] = m->nics[i]->stats;
}

uint64_t machine_hart_pc(const struct machine *m, unsigned i)
{
	struct machine_hart_stats st;
	m->accel->stats(m->cpus[i], &st);
	return st.pc;
}

void machine_set_lease(struct machine *m, const struct lease *l)
{
	if (m->accel->set_lease)
		for (unsigned i = 0; i < m->nharts; i++) m->accel->set_lease(m->cpus[i], l);
	pthread_mutex_lock(&m->io_lock);
	for (unsigned i = 0; i < m->nvirtio; i++) m->virtio[i].transport->lease = l;
	pthread_mutex_unlock(&m->io_lock);
}
