/*
 * accel_kvm.c — KVM as an accelerator (accel.h) on riscv64 Linux hosts: the
 * host kernel runs the harts in VS-mode with the processor's hypervisor
 * extension (real hardware, or a guest of cloison's own engine, which offers
 * H). Guest RAM is one memory slot; each hart is a vCPU on its own thread.
 *
 * KVM implements the SBI (timer, IPIs, remote fences, hart state, reset), so
 * the board boots the kernel without firmware and has no CLINT. What KVM hands
 * back: MMIO exits, dispatched to the board's device models through the same
 * rv_bus callbacks the emulator's harts use; SBI calls it leaves to user space
 * (the legacy console); system events (shutdown, reset). The PLIC's S-mode
 * lines become KVM_INTERRUPT. The harts' ISA is what KVM reports, and the
 * device tree says so.
 *
 * A hart's snapshot section ("kvm-hart") holds what the ONE_REG interface
 * exposes: core registers and mode, supervisor CSRs, the timer, FP and vector
 * registers, and the hart's run state. Speed limits and run leases are
 * emulator features: not offered here. Elsewhere accel_kvm is NULL.
 */
#include "accel.h"

#if defined(__riscv) && __riscv_xlen == 64

#include "machine.h"
#include "stats.h"

#include "cpu/riscv/isa.h"
#include "util/log.h"
#include "util/state.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct kvm_vm {
	int kvm_fd, vm_fd, run_size;
};

struct accel_cpu {
	struct machine *m;
	struct kvm_vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	struct rv_bus bus;
	_Atomic int stop;
	_Atomic bool irq_level; /* the S-mode external interrupt line, as last given to KVM */
	pthread_t thread;
	_Atomic bool thread_set;
	_Atomic uint64_t exits, mmio_exits;
	unsigned vlenb; /* 0 without V */
	bool reported_bus_error;
	/* The guest's time when its thread last stopped: set back when it runs again, so the guest's
	 * clock stands still while the board is paused (as the emulator's does). */
	uint64_t stopped_time;
	bool time_saved;
};

#define REG_CORE(name) (KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CORE | KVM_REG_RISCV_CORE_REG(name))
#define REG_CSR(name) (KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CSR | KVM_REG_RISCV_CSR_REG(name))
#define REG_TIMER(name)                                                                                      \
	(KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_TIMER | KVM_REG_RISCV_TIMER_REG(name))
#define REG_CONFIG(name)                                                                                     \
	(KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CONFIG | KVM_REG_RISCV_CONFIG_REG(name))
#define REG_FP_D(i) (KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_FP_D | (i))
#define REG_FCSR (KVM_REG_RISCV | KVM_REG_SIZE_U32 | KVM_REG_RISCV_FP_D | 32)
#define REG_ISA_EXT(id) (KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_ISA_EXT | (id))
#define REG_VCSR(name)                                                                                       \
	(KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_VECTOR | KVM_REG_RISCV_VECTOR_CSR_REG(name))

static bool get_reg(int fd, uint64_t id, void *val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)val};
	return ioctl(fd, KVM_GET_ONE_REG, &r) == 0;
}

static bool set_reg(int fd, uint64_t id, const void *val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)val};
	return ioctl(fd, KVM_SET_ONE_REG, &r) == 0;
}

static bool set_u64(int fd, uint64_t id, uint64_t v)
{
	return set_reg(fd, id, &v);
}

/* ---- the VM ---- */

static void *kvm_vm_create(struct machine *m, char *err, size_t errlen)
{
	struct kvm_vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vm->vm_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		snprintf(err, errlen,
		         "cannot open /dev/kvm: %s (is kvm.ko loaded, with the hypervisor extension?)",
		         strerror(errno));
		goto fail;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm speaks another API version");
		goto fail;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vm_fd < 0 || vm->run_size <= 0) {
		snprintf(err, errlen, "KVM refuses to create a VM: %s", strerror(errno));
		goto fail;
	}
	struct kvm_userspace_memory_region slot = {
	    .slot = 0,
	    .guest_phys_addr = VIRT_RAM_BASE,
	    .memory_size = m->ram_size,
	    .userspace_addr = (uintptr_t)m->ram,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
		snprintf(err, errlen, "KVM refuses guest memory (%llu MiB): %s",
		         (unsigned long long)(m->ram_size >> 20), strerror(errno));
		goto fail;
	}
	return vm;
fail:
	if (vm->vm_fd >= 0) close(vm->vm_fd);
	if (vm->kvm_fd >= 0) close(vm->kvm_fd);
	free(vm);
	return NULL;
}

/* Live migration: the memory slot with or without KVM's dirty-page log. */
static bool kvm_dirty_track(struct machine *m, bool on)
{
	struct kvm_vm *vm = m->accel_vm;
	struct kvm_userspace_memory_region slot = {
	    .slot = 0,
	    .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
	    .guest_phys_addr = VIRT_RAM_BASE,
	    .memory_size = m->ram_size,
	    .userspace_addr = (uintptr_t)m->ram,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) == 0) return true;
	log_error("kvm: dirty-page log %s: %s", on ? "on" : "off", strerror(errno));
	return false;
}

/* KVM's log of the slot (one bit per page, in 64-bit words as the board's) into the board's. */
static void kvm_dirty_collect(struct machine *m)
{
	struct kvm_vm *vm = m->accel_vm;
	size_t words = (m->dirty.npages + 63) / 64;
	uint64_t *bits = calloc(words, sizeof(uint64_t));
	struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bits};
	if (!bits || ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		/* Unknown: every page may have been written. */
		log_error("kvm: reading the dirty-page log: %s", bits ? strerror(errno) : "out of memory");
		dirty_log_mark(&m->dirty, 0, m->ram_size);
	} else {
		for (size_t w = 0; w < words; w++)
			if (bits[w]) atomic_fetch_or(&m->dirty.bits[w], bits[w]);
	}
	free(bits);
}

static void kvm_vm_destroy(void *p)
{
	struct kvm_vm *vm = p;
	close(vm->vm_fd);
	close(vm->kvm_fd);
	free(vm);
}

/* ---- the harts' ISA, as KVM gives it ---- */

/* KVM's multi-letter extensions that cloison's table (cpu/riscv/isa.h) also knows. */
static const struct {
	unsigned id;
	const char *name;
} kvm_extensions[] = {
    {KVM_RISCV_ISA_EXT_SVPBMT, "svpbmt"},     {KVM_RISCV_ISA_EXT_SSTC, "sstc"},
    {KVM_RISCV_ISA_EXT_SVINVAL, "svinval"},   {KVM_RISCV_ISA_EXT_ZIHINTPAUSE, "zihintpause"},
    {KVM_RISCV_ISA_EXT_ZICBOM, "zicbom"},     {KVM_RISCV_ISA_EXT_ZICBOZ, "zicboz"},
    {KVM_RISCV_ISA_EXT_ZBB, "zbb"},           {KVM_RISCV_ISA_EXT_SVNAPOT, "svnapot"},
    {KVM_RISCV_ISA_EXT_ZBA, "zba"},           {KVM_RISCV_ISA_EXT_ZBS, "zbs"},
    {KVM_RISCV_ISA_EXT_ZICNTR, "zicntr"},     {KVM_RISCV_ISA_EXT_ZICSR, "zicsr"},
    {KVM_RISCV_ISA_EXT_ZIFENCEI, "zifencei"}, {KVM_RISCV_ISA_EXT_ZIHPM, "zihpm"},
    {KVM_RISCV_ISA_EXT_ZICOND, "zicond"},     {KVM_RISCV_ISA_EXT_ZBC, "zbc"},
    {KVM_RISCV_ISA_EXT_ZKT, "zkt"},           {KVM_RISCV_ISA_EXT_ZVBB, "zvbb"},
    {KVM_RISCV_ISA_EXT_ZVKT, "zvkt"},         {KVM_RISCV_ISA_EXT_ZFH, "zfh"},
    {KVM_RISCV_ISA_EXT_ZFHMIN, "zfhmin"},     {KVM_RISCV_ISA_EXT_ZIHINTNTL, "zihintntl"},
    {KVM_RISCV_ISA_EXT_ZVFHMIN, "zvfhmin"},   {KVM_RISCV_ISA_EXT_ZFA, "zfa"},
    {KVM_RISCV_ISA_EXT_SSCOFPMF, "sscofpmf"}, {KVM_RISCV_ISA_EXT_ZIMOP, "zimop"},
    {KVM_RISCV_ISA_EXT_ZCA, "zca"},           {KVM_RISCV_ISA_EXT_ZCB, "zcb"},
    {KVM_RISCV_ISA_EXT_ZCD, "zcd"},           {KVM_RISCV_ISA_EXT_ZCMOP, "zcmop"},
    {KVM_RISCV_ISA_EXT_ZAWRS, "zawrs"},
};

struct isa_query {
	int fd;
	unsigned long letters;
};

static bool vcpu_has(const char *name, void *opaque)
{
	const struct isa_query *q = opaque;
	if (!name[1]) return (q->letters >> (name[0] - 'a')) & 1; /* a single letter */
	for (size_t i = 0; i < sizeof(kvm_extensions) / sizeof(kvm_extensions[0]); i++) {
		if (strcmp(kvm_extensions[i].name, name)) continue;
		uint64_t on = 0;
		return get_reg(q->fd, REG_ISA_EXT(kvm_extensions[i].id), &on) && on;
	}
	return false;
}

/* The board's ISA (for the device tree) and timebase, from the first vCPU. */
static bool learn_isa(struct machine *m, struct accel_cpu *c, char *err, size_t errlen)
{
	struct isa_query q = {.fd = c->fd};
	uint64_t freq = 0;
	if (!get_reg(c->fd, REG_CONFIG(isa), &q.letters) || !get_reg(c->fd, REG_TIMER(frequency), &freq) ||
	    !freq) {
		snprintf(err, errlen, "KVM does not report the vCPU's ISA or timer: %s", strerror(errno));
		return false;
	}
	m->isa_ext = rv_ext_from(vcpu_has, &q);
	m->timebase_hz = freq;
	return true;
}

/* ---- harts ---- */

static void on_kick(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static void install_kick_handler(void)
{
	struct sigaction sa = {.sa_handler = on_kick}; /* no SA_RESTART: KVM_RUN returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

static struct accel_cpu *kvm_cpu_create(struct machine *m, unsigned index, const struct rv_bus *bus,
                                        const struct machine_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, install_kick_handler);
	struct kvm_vm *vm = m->accel_vm;
	struct accel_cpu *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->m = m;
	c->vm = vm;
	c->index = index;
	c->bus = *bus;
	c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
	if (c->fd < 0) {
		snprintf(err, errlen, "KVM refuses vCPU %u: %s", index, strerror(errno));
		free(c);
		return NULL;
	}
	c->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		snprintf(err, errlen, "cannot map vCPU %u's run area: %s", index, strerror(errno));
		close(c->fd);
		free(c);
		return NULL;
	}
	if (index == 0 && !learn_isa(m, c, err, errlen)) {
		munmap(c->run, (size_t)vm->run_size);
		close(c->fd);
		free(c);
		return NULL;
	}
	uint64_t vlenb = 0;
	if (RV_HAS(m->isa_ext, V) && get_reg(c->fd, REG_VCSR(vlenb), &vlenb)) c->vlenb = (unsigned)vlenb;
	return c;
}

static void kvm_cpu_destroy(struct accel_cpu *c)
{
	munmap(c->run, (size_t)c->vm->run_size);
	close(c->fd);
	free(c);
}

static void kvm_reset(struct accel_cpu *c, uint64_t pc, uint64_t a1, uint64_t a2)
{
	static const uint64_t csrs[] = {REG_CSR(sstatus),  REG_CSR(sie),  REG_CSR(stvec),
	                                REG_CSR(sscratch), REG_CSR(sepc), REG_CSR(scause),
	                                REG_CSR(stval),    REG_CSR(sip),  REG_CSR(satp)};
	bool ok = set_u64(c->fd, REG_CORE(regs.pc), pc) && set_u64(c->fd, REG_CORE(regs.a0), c->index) &&
	          set_u64(c->fd, REG_CORE(regs.a1), a1) && set_u64(c->fd, REG_CORE(regs.a2), a2) &&
	          set_u64(c->fd, REG_CORE(mode), KVM_RISCV_MODE_S);
	for (size_t i = 0; i < sizeof(csrs) / sizeof(csrs[0]); i++) ok &= set_u64(c->fd, csrs[i], 0);
	/* Hart 0 boots; the others wait for the kernel to start them through SBI HSM. */
	struct kvm_mp_state mp = {.mp_state = c->index ? KVM_MP_STATE_STOPPED : KVM_MP_STATE_RUNNABLE};
	ok &= ioctl(c->fd, KVM_SET_MP_STATE, &mp) == 0;
	if (!ok) log_error("kvm: resetting vCPU %u: %s", c->index, strerror(errno));
	struct kvm_interrupt irq = {.irq = KVM_INTERRUPT_UNSET};
	ioctl(c->fd, KVM_INTERRUPT, &irq);
	atomic_store(&c->irq_level, false);
	atomic_store(&c->stop, 0);
	c->time_saved = false; /* a new boot keeps the clock running from now */
}

/* An MMIO access KVM could not satisfy from RAM: to the board's devices. */
static void handle_mmio(struct accel_cpu *c)
{
	struct kvm_run *run = c->run;
	unsigned len = run->mmio.len;
	uint64_t v = 0;
	bool ok;
	if (len != 1 && len != 2 && len != 4 && len != 8) {
		ok = false;
	} else if (run->mmio.is_write) {
		memcpy(&v, run->mmio.data, len);
		ok = c->bus.mmio_write(c->bus.opaque, run->mmio.phys_addr, len, v);
	} else {
		ok = c->bus.mmio_read(c->bus.opaque, run->mmio.phys_addr, len, &v);
		memcpy(run->mmio.data, &v, len);
	}
	/* KVM offers no way to raise an access fault from here: the access reads zero, writes nothing. */
	if (!ok && !c->reported_bus_error) {
		c->reported_bus_error = true;
		log_warn("kvm: vCPU %u: %s of %u bytes at 0x%llx hits no device (reported once)", c->index,
		         run->mmio.is_write ? "write" : "read", len, (unsigned long long)run->mmio.phys_addr);
	}
}

/* SBI calls KVM leaves to user space: the legacy console (putchar, getchar). */
static void handle_sbi(struct accel_cpu *c)
{
	struct kvm_run *run = c->run;
	if (run->riscv_sbi.extension_id == 1) { /* console_putchar */
		uint8_t ch = (uint8_t)run->riscv_sbi.args[0];
		if (c->m->console_write) c->m->console_write(c->m->console_opaque, &ch, 1);
		run->riscv_sbi.ret[0] = 0;
	} else {
		run->riscv_sbi.ret[0] = (unsigned long)-2; /* SBI_ERR_NOT_SUPPORTED */
	}
}

static void kvm_run_loop(struct accel_cpu *c)
{
	c->thread = pthread_self();
	atomic_store(&c->thread_set, true);
	struct kvm_run *run = c->run;
	/* The guest's time is the VM's (KVM keeps one offset): every vCPU sets the same value back. */
	if (c->time_saved && !set_reg(c->fd, REG_TIMER(time), &c->stopped_time))
		log_warn("kvm: vCPU %u: the guest's clock cannot be set back: %s", c->index, strerror(errno));
	c->time_saved = false;
	while (!atomic_load(&c->stop)) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				continue;
			}
			log_error("kvm: vCPU %u: KVM_RUN: %s", c->index, strerror(errno));
			machine_request_exit(c->m, MACHINE_ERROR, 1);
			break;
		}
		atomic_fetch_add(&c->exits, 1);
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO:
			atomic_fetch_add(&c->mmio_exits, 1);
			handle_mmio(c);
			break;
		case KVM_EXIT_RISCV_SBI: handle_sbi(c); break;
		case KVM_EXIT_SYSTEM_EVENT:
			machine_request_exit(c->m,
			                     run->system_event.type == KVM_SYSTEM_EVENT_RESET
			                         ? MACHINE_REBOOT
			                         : MACHINE_POWEROFF,
			                     0);
			break;
		case KVM_EXIT_INTR: break;
		default:
			log_error("kvm: vCPU %u stopped: exit reason %u", c->index, run->exit_reason);
			machine_request_exit(c->m, MACHINE_ERROR, 1);
			atomic_store(&c->stop, 1);
			break;
		}
	}
	atomic_store(&c->thread_set, false);
	c->time_saved = get_reg(c->fd, REG_TIMER(time), &c->stopped_time);
}

static void kvm_request_stop(struct accel_cpu *c, bool stop)
{
	atomic_store(&c->stop, stop);
	if (!stop) return;
	c->run->immediate_exit = 1; /* a KVM_RUN about to start returns at once */
	if (atomic_load(&c->thread_set)) pthread_kill(c->thread, SIGUSR1);
}

static void kvm_set_irq(struct accel_cpu *c, unsigned irq, bool level)
{
	if (irq != RV_IRQ_SEI) return; /* M-mode lines: there is no M-mode in a KVM guest */
	if (atomic_exchange(&c->irq_level, level) == level) return;
	struct kvm_interrupt i = {.irq = level ? KVM_INTERRUPT_SET : KVM_INTERRUPT_UNSET};
	if (ioctl(c->fd, KVM_INTERRUPT, &i) < 0)
		log_error("kvm: vCPU %u: KVM_INTERRUPT: %s", c->index, strerror(errno));
}

static uint64_t kvm_instructions(const struct accel_cpu *c)
{
	(void)c;
	return 0; /* the hardware's instret is the guest's own */
}

static void kvm_stats(const struct accel_cpu *c, struct machine_hart_stats *st)
{
	*st = (struct machine_hart_stats){.engine.block_runs = atomic_load(&c->exits),
	                                  .engine.tlb_misses = atomic_load(&c->mmio_exits),
	                                  .priv = 1};
}

/* ---- snapshots: section "kvm-hart" version 1 ---- */

/* The registers a section holds, in order: pc, x1-x31, mode; the CSRs; the timer; f0-f31 and fcsr
 * (32-bit); with V, vstart, vl, vtype, vcsr, vlenb and the 32 registers. */
static uint64_t core_id(unsigned i)
{
	return i == 0 ? REG_CORE(regs.pc) : i == 32 ? REG_CORE(mode) : REG_CORE(regs.pc) + i;
}

static const uint64_t csr_ids[] = {REG_CSR(sstatus), REG_CSR(sie),       REG_CSR(stvec), REG_CSR(sscratch),
                                   REG_CSR(sepc),    REG_CSR(scause),    REG_CSR(stval), REG_CSR(sip),
                                   REG_CSR(satp),    REG_CSR(scounteren)};
static const uint64_t timer_ids[] = {REG_TIMER(time), REG_TIMER(compare), REG_TIMER(state)};
static const uint64_t vcsr_ids[] = {REG_VCSR(vstart), REG_VCSR(vl), REG_VCSR(vtype), REG_VCSR(vcsr)};

static uint64_t vreg_id(const struct accel_cpu *c, unsigned i)
{
	uint64_t size = c->vlenb == 16   ? KVM_REG_SIZE_U128
	                : c->vlenb == 32 ? KVM_REG_SIZE_U256
	                : c->vlenb == 64 ? KVM_REG_SIZE_U512
	                                 : KVM_REG_SIZE_U1024;
	return KVM_REG_RISCV | size | KVM_REG_RISCV_VECTOR | KVM_REG_RISCV_VECTOR_REG(i);
}

static void kvm_save(struct accel_cpu *c, struct state_writer *w)
{
	bool ok = true;
	uint64_t v;
	for (unsigned i = 0; i <= 32; i++) ok &= get_reg(c->fd, core_id(i), &v), state_put_u64(w, v);
	for (size_t i = 0; i < sizeof(csr_ids) / sizeof(csr_ids[0]); i++)
		ok &= get_reg(c->fd, csr_ids[i], &v), state_put_u64(w, v);
	for (size_t i = 0; i < sizeof(timer_ids) / sizeof(timer_ids[0]); i++)
		ok &= get_reg(c->fd, timer_ids[i], &v), state_put_u64(w, v);
	for (unsigned i = 0; i < 32; i++) ok &= get_reg(c->fd, REG_FP_D(i), &v), state_put_u64(w, v);
	uint32_t fcsr = 0;
	ok &= get_reg(c->fd, REG_FCSR, &fcsr);
	state_put_u32(w, fcsr);
	state_put_u32(w, c->vlenb);
	if (c->vlenb) {
		for (size_t i = 0; i < sizeof(vcsr_ids) / sizeof(vcsr_ids[0]); i++)
			ok &= get_reg(c->fd, vcsr_ids[i], &v), state_put_u64(w, v);
		uint8_t buf[128];
		for (unsigned i = 0; i < 32; i++) {
			ok &= get_reg(c->fd, vreg_id(c, i), buf);
			state_put_bytes(w, buf, c->vlenb);
		}
	}
	struct kvm_mp_state mp = {0};
	ok &= ioctl(c->fd, KVM_GET_MP_STATE, &mp) == 0;
	state_put_u32(w, mp.mp_state);
	if (!ok) {
		log_error("kvm: vCPU %u's registers cannot be read: %s", c->index, strerror(errno));
		w->failed = true;
	}
}

static void kvm_load(struct accel_cpu *c, struct state_reader *r)
{
	uint64_t core[33], csr[10], timer[3], f[32], vcsr[4] = {0};
	for (unsigned i = 0; i <= 32; i++) core[i] = state_get_u64(r);
	for (unsigned i = 0; i < 10; i++) csr[i] = state_get_u64(r);
	for (unsigned i = 0; i < 3; i++) timer[i] = state_get_u64(r);
	for (unsigned i = 0; i < 32; i++) f[i] = state_get_u64(r);
	uint32_t fcsr = state_get_u32(r), vlenb = state_get_u32(r);
	static uint8_t vregs[32 * 128];
	if (!r->failed && vlenb != c->vlenb) {
		state_fail(r, "kvm: saved with VLEN %u, this vCPU has %u", 8 * vlenb, 8 * c->vlenb);
		return;
	}
	if (vlenb) {
		for (unsigned i = 0; i < 4; i++) vcsr[i] = state_get_u64(r);
		for (unsigned i = 0; i < 32; i++) state_get_bytes(r, vregs + i * vlenb, vlenb);
	}
	uint32_t mp_state = state_get_u32(r);
	if (r->failed) return;
	if (core[32] > KVM_RISCV_MODE_S || (core[0] & 1) ||
	    (mp_state != KVM_MP_STATE_RUNNABLE && mp_state != KVM_MP_STATE_STOPPED)) {
		state_fail(r, "kvm: vCPU state out of range (mode %llu, pc 0x%llx, run state %u)",
		           (unsigned long long)core[32], (unsigned long long)core[0], mp_state);
		return;
	}
	/* KVM checks each value as it takes it; a refusal names the register kind. */
	const char *what = NULL;
	for (unsigned i = 0; i <= 32 && !what; i++)
		if (!set_reg(c->fd, core_id(i), &core[i])) what = "core registers";
	for (unsigned i = 0; i < 10 && !what; i++)
		if (!set_reg(c->fd, csr_ids[i], &csr[i])) what = "supervisor CSRs";
	for (unsigned i = 0; i < 32 && !what; i++)
		if (!set_reg(c->fd, REG_FP_D(i), &f[i])) what = "FP registers";
	if (!what && !set_reg(c->fd, REG_FCSR, &fcsr)) what = "fcsr";
	for (unsigned i = 0; i < 4 && vlenb && !what; i++)
		if (!set_reg(c->fd, vcsr_ids[i], &vcsr[i])) what = "vector CSRs";
	for (unsigned i = 0; i < 32 && vlenb && !what; i++)
		if (!set_reg(c->fd, vreg_id(c, i), vregs + i * vlenb)) what = "vector registers";
	/* The timer last: its time sets the guest's clock (htimedelta), then the compare and state. */
	static const char *const timer_what[] = {"timer time", "timer compare", "timer state"};
	for (unsigned i = 0; i < 3 && !what; i++) {
		/* KVM refuses to cancel a timer that is not set: a stopped one is left alone (it is). */
		if (i == 2 && timer[i] != KVM_RISCV_TIMER_STATE_ON) continue;
		if (!set_reg(c->fd, timer_ids[i], &timer[i])) what = timer_what[i];
	}
	struct kvm_mp_state mp = {.mp_state = mp_state};
	if (!what && ioctl(c->fd, KVM_SET_MP_STATE, &mp) < 0) what = "run state";
	if (what) state_fail(r, "kvm: vCPU %u refuses the saved %s: %s", c->index, what, strerror(errno));
}

static void kvm_ram_changed(struct accel_cpu *c)
{
	(void)c; /* KVM maps guest RAM through the memory slot: it follows the host's mappings */
}

static const struct accel_ops kvm_ops = {
    .name = "kvm",
    .section = "kvm-hart",
    .section_version = 1,
    .provides_sbi = true,
    .vm_create = kvm_vm_create,
    .vm_destroy = kvm_vm_destroy,
    .cpu_create = kvm_cpu_create,
    .cpu_destroy = kvm_cpu_destroy,
    .reset = kvm_reset,
    .run = kvm_run_loop,
    .request_stop = kvm_request_stop,
    .set_irq = kvm_set_irq,
    .stats = kvm_stats,
    .instructions = kvm_instructions,
    .save = kvm_save,
    .load = kvm_load,
    .ram_changed = kvm_ram_changed,
    .dirty_track = kvm_dirty_track,
    .dirty_collect = kvm_dirty_collect,
};

const struct accel_ops *const accel_kvm = &kvm_ops;

#else

const struct accel_ops *const accel_kvm = NULL;

#endif
