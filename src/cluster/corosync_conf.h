/*
 * corosync_conf.h — the files cloisond's own corosync runs from, in the
 * cluster directory of its state directory: corosync.conf (knet, the nodes of
 * the replicated state, a 1 s token so a failed host is noticed in about 2 s,
 * traffic authenticated and encrypted with the cluster's key) and that key.
 */
#ifndef CLOISON_CLUSTER_COROSYNC_CONF_H
#define CLOISON_CLUSTER_COROSYNC_CONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* DIR/corosync.conf for the nodes in `state` (written atomically). */
bool corosync_conf_write(const char *dir, const json_t *state, char *err, size_t errlen);
/* A new random key in DIR/authkey (0400); keeps an existing one. */
bool corosync_authkey_create(const char *dir, char *err, size_t errlen);
/* The key's bytes (at most cap); false with err set. */
bool corosync_authkey_load(const char *dir, uint8_t *buf, size_t cap, size_t *len, char *err, size_t errlen);
/* The key as read from DIR/authkey, base64 (malloc'd); NULL with err set. And back. */
char *corosync_authkey_export(const char *dir, char *err, size_t errlen);
bool corosync_authkey_import(const char *dir, const char *b64, char *err, size_t errlen);

#endif
