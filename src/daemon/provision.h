/*
 * provision.h — first-boot provisioning of cloisond's VMs: a definition's
 * "vm": {"cloud_init": {"user_data", "ssh_keys", "hostname"}} becomes a
 * NoCloud seed disk (vm/nocloud.h) in the instance's directory, read-only,
 * after the VM's other disks. Lock held.
 */
#ifndef CLOISON_DAEMON_PROVISION_H
#define CLOISON_DAEMON_PROVISION_H

#include "daemon/daemon.h"
#include "util/error.h"

#include <jansson.h>

/* Takes "cloud_init" out of the definition and names the seed disk in its place (its path in seed, ""
 * when there is none). False with e set for a malformed cloud_init. */
bool provision_apply(struct daemon *d, json_t *def, char *seed, size_t seed_len, struct error *e);
/* Writes that seed once the instance exists. */
bool provision_write(const char *seed, const char *name, json_t *cloud_init, struct error *e);

#endif
