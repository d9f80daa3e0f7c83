/*
 * ct_seccomp.c — see ct_seccomp.h.
 */
#include "ct_seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "ct_seccomp_bpf.h"

bool ct_seccomp_apply(char *err, size_t errlen)
{
	struct sock_fprog prog = {.len = sizeof(ct_seccomp_prog) / sizeof(ct_seccomp_prog[0]),
	                          .filter = (struct sock_filter *)ct_seccomp_prog};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0)) {
		snprintf(err, errlen, "seccomp: loading the default filter: %s", strerror(errno));
		return false;
	}
	return true;
}
