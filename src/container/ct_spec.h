/*
 * ct_spec.h — what a container is: its root filesystem, command, identity,
 * limits, network and privileges. Parsed from the command line, stored as
 * JSON in the container's directory so later invocations (exec, stats, a
 * restart) see the same definition.
 */
#ifndef CLOISON_CONTAINER_CT_SPEC_H
#define CLOISON_CONTAINER_CT_SPEC_H

#include "container/cgroup.h"

#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_NAME_MAX 63
#define CT_MAX_ARGS 256
#define CT_MAX_ENV 128

enum ct_net_mode { CT_NET_NONE, CT_NET_HOST, CT_NET_VETH };

struct ct_net {
	enum ct_net_mode mode;
	char bridge[16];          /* veth: host bridge the host end joins ("" = none) */
	char network[64];         /* veth: a defined host-only or bridge network (resolved to bridge) */
	struct in_addr addr, gw;  /* inside: eth0 address and default gateway (0 = none) */
	unsigned prefix;          /* addr's prefix length */
	struct in_addr host_addr; /* veth without bridge: address of the host end (0 = none) */
};

struct ct_spec {
	char name[CT_NAME_MAX + 1];
	char rootfs[PATH_MAX];
	bool overlay;   /* copy-on-write layer over a read-only rootfs, kept in the container's directory */
	bool read_only; /* the root mount is read-only */
	char hostname[65];
	char *argv[CT_MAX_ARGS + 1]; /* NULL-terminated; empty = /sbin/init, else /bin/sh */
	int argc;
	char *env[CT_MAX_ENV + 1]; /* "KEY=VALUE" over the defaults (PATH, HOME, ...); NULL-terminated */
	int nenv;
	char cwd[PATH_MAX]; /* where the command starts ("" : /) */
	struct cg_limits limits;
	struct ct_net net;
	bool userns; /* a user namespace: container root maps to uid_base on the host */
	uint32_t uid_base, uid_count;
	uint64_t caps; /* capability bit set kept inside */
};

/* Letters, digits, '-', '_' and '.', starting with a letter or digit, at most CT_NAME_MAX. */
bool ct_name_valid(const char *name);

/* Defaults: no limits, --net none, the documented capability set, hostname = name. */
void ct_spec_defaults(struct ct_spec *s);
/* "none", "host", "veth[,bridge=BR|network=NAME][,ip=A.B.C.D/N][,gw=A.B.C.D][,host-ip=A.B.C.D/N]". */
bool ct_net_parse(const char *text, struct ct_net *n, char *err, size_t errlen);
/* Checks limits and fields; err says which is wrong. */
bool ct_spec_check(const struct ct_spec *s, char *err, size_t errlen);

json_t *ct_spec_to_json(const struct ct_spec *s);
/* Strict: unknown keys and wrong types are errors. The spec owns its argv strings afterwards. */
bool ct_spec_from_json(const json_t *j, struct ct_spec *s, char *err, size_t errlen);
void ct_spec_free(struct ct_spec *s);

#endif
