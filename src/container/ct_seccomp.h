/*
 * ct_seccomp.h — loads the default container system-call filter, compiled
 * at build time from ct_seccomp_rules.c (see there for what it blocks).
 */
#ifndef CLOISON_CONTAINER_CT_SECCOMP_H
#define CLOISON_CONTAINER_CT_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

/* Loads the filter into the calling thread (no_new_privs must be set). */
bool ct_seccomp_apply(char *err, size_t errlen);

#endif
