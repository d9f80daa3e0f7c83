/*
 * test_finisher.c — SiFive test finisher ("sifive,test0"/syscon): the
 * guest powers off, reboots, or reports a failure code by writing one word.
 */
#include "devices.h"
#include "board.h"

#include <stdio.h>

#define FINISHER_FAIL 0x3333
#define FINISHER_PASS 0x5555
#define FINISHER_RESET 0x7777

static bool finisher_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	(void)dev;
	(void)off;
	(void)size;
	*val = 0;
	return true;
}

static bool finisher_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct machine *m = dev;
	(void)size;
	if (off != 0) return true;
	switch (val & 0xffff) {
	case FINISHER_PASS: machine_request_exit(m, MACHINE_POWEROFF, 0); break;
	case FINISHER_RESET: machine_request_exit(m, MACHINE_REBOOT, 0); break;
	case FINISHER_FAIL: machine_request_exit(m, MACHINE_FAIL, (int)((val >> 16) & 0xffff)); break;
	default: break;
	}
	return true;
}

bool test_finisher_create(struct machine *m, uint64_t base)
{
	return machine_add_region(m, base, 0x1000, finisher_read, finisher_write, m);
}

static bool test_finisher_board_create(struct machine *m, const struct machine_config *cfg, char *err,
                                       size_t errlen)
{
	if (test_finisher_create(m, VIRT_TEST_BASE)) return true;
	snprintf(err, errlen, "cannot create the test finisher");
	return false;
}

/* Its region belongs to the bus; nothing else to free. */
static void test_finisher_board_destroy(struct machine *m)
{
}

const struct board_device test_finisher_board = {
    .create = test_finisher_board_create,
    .destroy = test_finisher_board_destroy,
};
