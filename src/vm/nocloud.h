/*
 * nocloud.h — cloud-init's NoCloud seed: a small ISO 9660 disk labelled
 * "cidata" holding meta-data (instance id, host name, SSH public keys) and
 * user-data (the user's cloud-config, or an empty one), made with Debian's
 * genisoimage. A guest with cloud-init reads it at first boot: it sets the
 * host name, the default user's keys and runs the user's configuration.
 */
#ifndef CLOISON_VM_NOCLOUD_H
#define CLOISON_VM_NOCLOUD_H

#include <stdbool.h>
#include <stddef.h>

struct nocloud {
	const char *instance_id; /* changes make cloud-init run again */
	const char *hostname;    /* "" : none */
	const char *user_data;   /* the cloud-config text, or NULL for an empty one */
	const char *ssh_keys;    /* public keys, one per line, or NULL */
};

/* Writes the seed image to path (replacing what is there). False with err set: a missing tool, a host
 * name or key that would not make valid YAML. */
bool nocloud_write(const char *path, const struct nocloud *n, char *err, size_t errlen);

#endif
