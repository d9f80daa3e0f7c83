/*
 * hart.c — hart lifecycle (init, reset, destroy) and the cross-thread
 * signals: interrupt lines, the machine timer compare, kicks.
 */
#include "internal.h"
#include "isa.h"
#include "jit.h"
#include "util/populate.h"

#include <stdlib.h>
#include <sys/mman.h>

#define MISA_RV64 (2ULL << 62)
#define MISA_EXT(c) (1ULL << ((c) - 'A'))

struct rv_hart *rv_hart_alloc(void)
{
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *p = MAP_FAILED;
#ifdef MAP_32BIT
	p = mmap(NULL, sizeof(struct rv_hart), PROT_READ | PROT_WRITE, flags | MAP_32BIT, -1, 0);
#endif
	if (p == MAP_FAILED) p = mmap(NULL, sizeof(struct rv_hart), PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void rv_hart_release(struct rv_hart *h)
{
	if (h) munmap(h, sizeof(*h));
}

bool rv_hart_init(struct rv_hart *h, uint64_t hartid, const struct rv_bus *bus)
{
	/* All but the TLB sets (21 MiB), whose entries are cleared when a set is first selected. */
	const size_t tlb = offsetof(struct rv_hart, tlb), tlb_end = tlb + sizeof(h->tlb);
	mem_populate(h, tlb); /* cleared whole: no fault per page */
	mem_populate((char *)h + tlb_end, sizeof(*h) - tlb_end);
	memset(h, 0, tlb);
	memset((char *)h + tlb_end, 0, sizeof(*h) - tlb_end);
	for (unsigned i = 0; i < RV_TLB_NSETS; i++) { /* nothing to flush until it is in use */
		struct rv_tlb_set *s = &h->tlb[i];
		s->log.n = s->local_log.n = s->mega_log.n = s->mega_local_log.n = 0;
	}
	h->hartid = hartid;
	h->bus = *bus;
	pthread_mutex_init(&h->wait_lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wait_cond, &attr);
	pthread_condattr_destroy(&attr);
	h->s_code_local = true;
	for (unsigned i = 0; i < RV_JCACHE_TABLES; i++) {
		h->jcache[i].log.n = RV_TLB_FILL_LOG + 1; /* contents unknown: the first flush clears all */
		h->jcache[i].regions = ~0ULL;
	}
	h->ext = rv_ext_defaults();
	rv_hart_reset(h, bus->ram_base);
	return rv_hart_alloc_cache(h);
}

void rv_hart_set_extensions(struct rv_hart *h, uint64_t ext)
{
	h->ext = ext;
	h->vlenb = rv_ext_vlen(ext) / 8;
	h->misa = (h->misa & ~(MISA_EXT('V') | MISA_EXT('H'))) | (RV_HAS(ext, V) ? MISA_EXT('V') : 0) |
	          (RV_HAS(ext, H) ? MISA_EXT('H') : 0);
	h->mideleg = RV_HAS(ext, H) ? RV_VS_IRQS : 0;
	rv_jit_new_epoch(h);
}

uint64_t rv_hart_instret(const struct rv_hart *h)
{
	return h->instret + rv_run_retired(h);
}

void rv_hart_reset(struct rv_hart *h, uint64_t pc)
{
	memset(h->x, 0, sizeof(h->x));
	memset(h->f, 0, sizeof(h->f));
	h->pc = pc;
	h->fflags = h->frm = 0;
	h->mstatus = (2ULL << 32) | (2ULL << 34); /* UXL = SXL = 64 */
	h->misa = MISA_RV64 | MISA_EXT('I') | MISA_EXT('M') | MISA_EXT('A') | MISA_EXT('F') | MISA_EXT('D') |
	          MISA_EXT('C') | MISA_EXT('S') | MISA_EXT('U') | (RV_HAS(h->ext, V) ? MISA_EXT('V') : 0) |
	          (RV_HAS(h->ext, H) ? MISA_EXT('H') : 0);
	h->medeleg = h->mie = h->mtvec = h->mcounteren = 0;
	h->mideleg = RV_HAS(h->ext, H) ? RV_VS_IRQS : 0; /* VS-level interrupts: read-only delegated */
	h->mscratch = h->mepc = h->mcause = h->mtval = h->mcountinhibit = 0;
	h->menvcfg = RV_HAS(h->ext, SVADU) ? MENVCFG_ADUE : 0; /* firmware that knows no Svadu keeps it */
	h->stvec = h->scounteren = h->sscratch = h->sepc = h->scause = h->stval = h->satp = 0;
	h->senvcfg = 0;
	h->stimecmp = UINT64_MAX;
	h->mip_sw = 0;
	memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
	memset(h->pmpaddr, 0, sizeof(h->pmpaddr));
	h->instret = 0;
	h->resv_valid = false;
	rv_trigger_reset(h);
	rv_hpm_reset(h);
	rv_vector_reset(h);
	rv_hyp_reset(h);
	atomic_store(&h->mtimecmp, UINT64_MAX);
	h->priv = RV_PRIV_M;
	rv_jit_new_epoch(h);
	rv_tlb_flush_all(h);
	rv_tlb_select(h);
}

bool rv_hart_jit_available(void)
{
	return rv_jit_available();
}

bool rv_hart_enable_jit(struct rv_hart *h)
{
	return h->jit || rv_jit_init(h);
}

void rv_hart_destroy(struct rv_hart *h)
{
	rv_jit_free(h);
	rv_hart_free_cache(h);
	pthread_mutex_destroy(&h->wait_lock);
	pthread_cond_destroy(&h->wait_cond);
}

void rv_hart_kick(struct rv_hart *h)
{
	atomic_store(&h->kick, 1);
	pthread_mutex_lock(&h->wait_lock);
	pthread_cond_broadcast(&h->wait_cond);
	pthread_mutex_unlock(&h->wait_lock);
}

void rv_hart_set_irq(struct rv_hart *h, unsigned irq, bool level)
{
	uint64_t bit = 1ULL << irq, old;
	if (level)
		old = atomic_fetch_or(&h->irq_lines, bit);
	else
		old = atomic_fetch_and(&h->irq_lines, ~bit);
	if (level && !(old & bit)) rv_hart_kick(h);
}

void rv_hart_set_mtimecmp(struct rv_hart *h, uint64_t value)
{
	atomic_store(&h->mtimecmp, value);
	rv_hart_kick(h); /* a sleeping hart must recompute its deadline */
}
