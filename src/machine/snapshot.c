/*
 * snapshot.c — the board's side of the lifecycle: pausing and resuming
 * (harts, guest time, devices), every component's state in and out of
 * snapshot sections, and dirty-page tracking rounds for live migration.
 *
 * Pausing joins the hart threads, so a paused board has no thread in guest
 * code; devices are frozen under the I/O lock after their in-flight
 * requests completed, so guest memory and queue state agree.
 */
#include "board.h"
#include "devices.h"
#include "machine.h"

#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "util/clock.h"
#include "util/log.h"

#include <stdio.h>
#include <time.h>

#define MACHINE_STATE_VERSION 1

/* Guest time stands still at `ticks` until thawed. */
static void freeze_time(struct machine *m)
{
	m->frozen_ticks = machine_time(m);
	atomic_store_explicit(&m->time_frozen, true, memory_order_release);
}

static void thaw_time(struct machine *m)
{
	m->time_origin_ns = monotonic_ns() - m->frozen_ticks * (1000000000ULL / MACHINE_TIMEBASE_HZ);
	atomic_store_explicit(&m->time_frozen, false, memory_order_release);
}

static void freeze_devices(struct machine *m, bool frozen)
{
	pthread_mutex_lock(&m->io_lock);
	for (unsigned i = 0; i < m->nvirtio; i++) virtio_mmio_set_frozen(m->virtio[i].transport, frozen);
	pthread_mutex_unlock(&m->io_lock);
}

bool machine_pause(struct machine *m, bool flush)
{
	pthread_mutex_lock(&m->run_lock);
	if (m->paused || atomic_load(&m->exit_reason) != MACHINE_RUNNING) {
		pthread_mutex_unlock(&m->run_lock);
		return false;
	}
	machine_stop_harts(m);
	freeze_time(m);
	bool ok = true;
	for (unsigned i = 0; i < m->ndisks; i++) /* no vCPU can queue more now */
		if (!virtio_blk_drain(m->disks[i]) && flush) ok = false;
	freeze_devices(m, true);
	m->paused = true;
	pthread_mutex_unlock(&m->run_lock);
	return ok;
}

bool machine_resume(struct machine *m)
{
	pthread_mutex_lock(&m->run_lock);
	bool ok = m->paused && atomic_load(&m->exit_reason) == MACHINE_RUNNING;
	if (ok) {
		m->paused = false;
		freeze_devices(m, false);
		thaw_time(m);
		machine_start_harts(m);
	}
	pthread_mutex_unlock(&m->run_lock);
	return ok;
}

void machine_hold(struct machine *m)
{
	pthread_mutex_lock(&m->run_lock);
	if (!m->harts_running && !m->paused) {
		freeze_time(m);
		freeze_devices(m, true);
		m->paused = true;
	}
	pthread_mutex_unlock(&m->run_lock);
}

bool machine_is_paused(struct machine *m)
{
	pthread_mutex_lock(&m->run_lock);
	bool p = m->paused;
	pthread_mutex_unlock(&m->run_lock);
	return p;
}

void machine_save_state(struct machine *m, struct state_writer *w)
{
	pthread_mutex_lock(&m->io_lock);
	state_begin(w, "machine", MACHINE_STATE_VERSION);
	state_put_u64(w, m->ram_size);
	state_put_u32(w, m->nharts);
	state_put_u32(w, m->nvirtio);
	state_put_u64(w, machine_time(m));
	state_put_bool(w, m->input_to_vconsole);
	state_end(w);
	for (unsigned i = 0; i < m->nharts; i++) {
		state_begin(w, m->accel->section, m->accel->section_version);
		m->accel->save(m->cpus[i], w);
		state_end(w);
	}
	for (const struct board_device *const *d = board_devices; *d; d++) {
		if (!(*d)->name) continue;
		unsigned n = (*d)->count ? (*d)->count(m) : 1;
		for (unsigned i = 0; i < n; i++) {
			state_begin(w, (*d)->name, (*d)->version);
			if ((*d)->virtio)
				virtio_mmio_save((*d)->virtio(m, i), w);
			else
				(*d)->save(m, i, w);
			state_end(w);
		}
	}
	pthread_mutex_unlock(&m->io_lock);
}

bool machine_load_state(struct machine *m, struct state_reader *r)
{
	state_section(r, "machine", MACHINE_STATE_VERSION);
	uint64_t ram = state_get_u64(r);
	uint32_t nharts = state_get_u32(r), nvirtio = state_get_u32(r);
	uint64_t ticks = state_get_u64(r);
	bool to_vconsole = state_get_bool(r);
	if (!r->failed && (ram != m->ram_size || nharts != m->nharts || nvirtio != m->nvirtio))
		state_fail(r,
		           "the saved machine (%llu MiB, %u harts, %u virtio devices) differs from this one "
		           "(%llu MiB, %u harts, %u virtio devices)",
		           (unsigned long long)(ram >> 20), nharts, nvirtio,
		           (unsigned long long)(m->ram_size >> 20), m->nharts, m->nvirtio);
	if (!state_section_done(r)) return false;
	for (unsigned i = 0; i < m->nharts; i++) {
		state_section(r, m->accel->section, m->accel->section_version);
		if (!r->failed) m->accel->load(m->cpus[i], r);
		if (!state_section_done(r)) return false;
	}
	pthread_mutex_lock(&m->io_lock);
	for (const struct board_device *const *d = board_devices; *d && !r->failed; d++) {
		if (!(*d)->name) continue;
		unsigned n = (*d)->count ? (*d)->count(m) : 1;
		for (unsigned i = 0; i < n && !r->failed; i++) {
			uint32_t version = state_section(r, (*d)->name, (*d)->version);
			if (r->failed) break;
			if ((*d)->virtio)
				virtio_mmio_load((*d)->virtio(m, i), r, version);
			else
				(*d)->load(m, i, r, version);
			state_section_done(r);
		}
	}
	pthread_mutex_unlock(&m->io_lock);
	if (r->failed) return false;
	m->input_to_vconsole = to_vconsole && m->vconsole;
	m->frozen_ticks = ticks;
	thaw_time(m);
	return true;
}

void machine_new_generation(struct machine *m)
{
	pthread_mutex_lock(&m->io_lock);
	vmgenid_change(m->vmgenid);
	pthread_mutex_unlock(&m->io_lock);
}

bool machine_set_disks_locked(struct machine *m, bool locked)
{
	bool ok = true;
	for (unsigned i = 0; i < m->ndisks; i++)
		if (!block_set_locked(m->disks[i]->backend, locked)) ok = false;
	return ok;
}

void machine_dirty_start(struct machine *m)
{
	pthread_mutex_lock(&m->run_lock);
	bool running = m->harts_running;
	machine_stop_harts(m);
	for (unsigned i = 0; i < m->nharts; i++) m->accel->ram_changed(m->cpus[i]);
	dirty_log_start(&m->dirty);
	if (m->accel->dirty_track && !m->accel->dirty_track(m, true))
		log_error("%s cannot track written pages: live migration sends stale memory", m->accel->name);
	if (running) machine_start_harts(m);
	pthread_mutex_unlock(&m->run_lock);
}

uint64_t machine_dirty_harvest(struct machine *m, uint64_t *out)
{
	pthread_mutex_lock(&m->run_lock);
	bool running = m->harts_running;
	machine_stop_harts(m);
	if (m->accel->dirty_collect) m->accel->dirty_collect(m);
	uint64_t n = dirty_log_harvest(&m->dirty, out);
	/* Pages written through a write TLB entry are marked only when the entry is filled. */
	for (unsigned i = 0; i < m->nharts; i++) m->accel->ram_changed(m->cpus[i]);
	if (running && atomic_load(&m->exit_reason) == MACHINE_RUNNING) machine_start_harts(m);
	pthread_mutex_unlock(&m->run_lock);
	return n;
}

void machine_dirty_stop(struct machine *m)
{
	if (m->accel->dirty_track) m->accel->dirty_track(m, false);
	dirty_log_stop(&m->dirty);
}
