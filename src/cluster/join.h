/*
 * join.h — the channel a new host joins a cluster by: TCP to a member,
 * protected by TLS 1.3 with the cluster's join token as pre-shared key
 * (GnuTLS), so each side proves it knows the token and the cluster key
 * travels encrypted. One request and one answer, both a JSON object framed
 * by a 4-byte length.
 */
#ifndef CLOISON_CLUSTER_JOIN_H
#define CLOISON_CLUSTER_JOIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOIN_PORT "5406"
#define JOIN_MAX_MESSAGE (1 << 20)

/* The keys a member accepts: the join token (user "cloison": a new host joining) and the cluster key
 * (user "replica": a member pushing a replica). */
struct join_keys {
	const uint8_t *token, *cluster_key;
	size_t token_len, cluster_key_len;
};

/* What a handler reads a request's payload with (bytes that follow the JSON request). */
struct join_io;
/* Copies `len` payload bytes to fd; false when the peer sent fewer. */
bool join_read_payload(struct join_io *io, int fd, uint64_t len);

/* The member's side, on an accepted connection: handshake, read the request, answer with what handle
 * returns (a new reference; NULL: {"error": err}). `member` says the peer used the cluster key. Closes
 * nothing. False with err set when the peer did not complete the exchange (wrong key, garbage, timeout). */
typedef json_t *(*join_handler)(void *ctx, bool member, json_t *request, struct join_io *io, char *err,
                                size_t errlen);
bool join_serve(int fd, const struct join_keys *keys, join_handler handle, void *ctx, char *err,
                size_t errlen);

/* The other side: connects to addr (port JOIN_PORT unless given as ADDR:PORT), sends request (and the
 * content of payload_path after it, when not NULL) with the join token (member false) or the cluster key
 * (member true), returns the answer (new reference) or NULL with err set. */
json_t *join_ask(const char *addr, bool member, const uint8_t *key, size_t key_len, json_t *request,
                 const char *payload_path, char *err, size_t errlen);

/* A new random join token (43 characters, 256 bits) into buf (at least 48 bytes). */
bool join_token_new(char *buf, size_t len);

#endif
