/*
 * board.h — the board's device table. Each kind of device registers, in
 * its own file, how it is built from the board's configuration, how its
 * state goes into a snapshot and comes back, and how it is torn down.
 * machine_create, machine_destroy and the snapshot code only loop over
 * board_devices: a new device is one entry, not edits in four places. The
 * table's order is the order of the snapshot's sections and of the
 * virtio-mmio slots (vda is the first disk).
 */
#ifndef CLOISON_MACHINE_BOARD_H
#define CLOISON_MACHINE_BOARD_H

#include "machine.h"
#include "util/state.h"
#include "virtio/mmio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct board_device {
	const char *name; /* its snapshot sections, one per instance (NULL: it has no state) */
	uint32_t version; /* of those sections: what save writes and the newest load reads */
	/* Builds every instance the configuration asks for; false with err set (the board is then
	 * destroyed, so a half-built device must be reachable by destroy). */
	bool (*create)(struct machine *m, const struct machine_config *cfg, char *err, size_t errlen);
	void (*destroy)(struct machine *m);
	/* Instances on this board (NULL: one). */
	unsigned (*count)(const struct machine *m);
	/* One instance's state, in a section the caller opened (the I/O lock is held). */
	void (*save)(const struct machine *m, unsigned i, struct state_writer *w);
	/* Reads what save wrote in a section of `version` (1 .. the entry's version). */
	void (*load)(struct machine *m, unsigned i, struct state_reader *r, uint32_t version);
	/* Virtio devices: the transport of instance i, saved and loaded by the transport's own code
	 * (which calls the device's save and load); then save and load are NULL. */
	struct virtio_mmio *(*virtio)(const struct machine *m, unsigned i);
};

/*
 * The entry of a device the board has exactly one of, at m->FIELD: built by CREATE (an expression of
 * m), freed by PREFIX_destroy, its state in one section SECTION (version 1) written by PREFIX_save and
 * read by PREFIX_load. WHAT names it in the error when it cannot be built.
 */
#define BOARD_SINGLE_DEVICE(PREFIX, FIELD, SECTION, CREATE, WHAT)                                            \
	static bool PREFIX##_board_create(struct machine *m, const struct machine_config *cfg, char *err,    \
	                                  size_t errlen)                                                     \
	{                                                                                                    \
		(void)cfg;                                                                                   \
		if ((m->FIELD = (CREATE))) return true;                                                      \
		snprintf(err, errlen, "cannot create the %s", WHAT);                                         \
		return false;                                                                                \
	}                                                                                                    \
	static void PREFIX##_board_destroy(struct machine *m)                                                \
	{                                                                                                    \
		PREFIX##_destroy(m->FIELD);                                                                  \
		m->FIELD = NULL;                                                                             \
	}                                                                                                    \
	static void PREFIX##_board_save(const struct machine *m, unsigned i, struct state_writer *w)         \
	{                                                                                                    \
		PREFIX##_save(m->FIELD, w);                                                                  \
	}                                                                                                    \
	static void PREFIX##_board_load(struct machine *m, unsigned i, struct state_reader *r, uint32_t v)   \
	{                                                                                                    \
		PREFIX##_load(m->FIELD, r);                                                                  \
	}                                                                                                    \
	const struct board_device PREFIX##_board = {                                                         \
	    .name = SECTION,                                                                                 \
	    .version = 1,                                                                                    \
	    .create = PREFIX##_board_create,                                                                 \
	    .destroy = PREFIX##_board_destroy,                                                               \
	    .save = PREFIX##_board_save,                                                                     \
	    .load = PREFIX##_board_load,                                                                     \
	}

/* Every kind the board has, in order, NULL-terminated. */
extern const struct board_device *const board_devices[];

/* The entries, each defined beside its device. */
extern const struct board_device clint_board, plic_board, uart_board, rtc_board, vmgenid_board,
    test_finisher_board, virtio_blk_board, virtio_net_board, virtio_rng_board, virtio_gpu_board,
    virtio_input_board, virtio_console_board, virtio_balloon_board, virtio_vsock_board, virtio_9p_board;

#endif
