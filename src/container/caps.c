/*
 * caps.c — see caps.h. Raw prctl/capset: the kernel's interface is small
 * and the set is a plain 64-bit mask.
 */
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof(names) / sizeof(names[0])))

uint64_t caps_default(void)
{
	static const int keep[] = {
	    CAP_CHOWN,      CAP_DAC_OVERRIDE, CAP_FOWNER,      CAP_FSETID,           CAP_KILL,
	    CAP_SETGID,     CAP_SETUID,       CAP_SETPCAP,     CAP_NET_BIND_SERVICE, CAP_NET_RAW,
	    CAP_SYS_CHROOT, CAP_MKNOD,        CAP_AUDIT_WRITE, CAP_SETFCAP,          CAP_SYS_BOOT};
	uint64_t set = 0;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) set |= 1ull << keep[i];
	return set;
}

int caps_from_name(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4)) name += 4;
	for (int i = 0; i < NCAPS; i++)
		if (!strcasecmp(name, names[i])) return i;
	return -1;
}

const char *caps_name(int cap)
{
	return cap >= 0 && cap < NCAPS ? names[cap] : "?";
}

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = NCAPS - 1;
	if (f) {
		if (fscanf(f, "%d", &last) != 1) last = NCAPS - 1;
		fclose(f);
	}
	return last > 63 ? 63 : last;
}

bool caps_apply(uint64_t set, char *err, size_t errlen)
{
	int last = last_cap();
	for (int c = 0; c <= last; c++) {
		if (set & (1ull << c)) continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL) {
			snprintf(err, errlen, "dropping CAP_%s from the bounding set: %s", caps_name(c),
			         strerror(errno));
			return false;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		snprintf(err, errlen, "clearing ambient capabilities: %s", strerror(errno));
		return false;
	}
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	for (int w = 0; w < 2; w++) {
		uint32_t bits = (uint32_t)(set >> (32 * w));
		data[w].effective = data[w].permitted = data[w].inheritable = bits;
	}
	if (syscall(SYS_capset, &hdr, data)) {
		snprintf(err, errlen, "setting capabilities: %s", strerror(errno));
		return false;
	}
	return true;
}
