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

#define JOIN_PORT "5406"
#define JOIN_MAX_MESSAGE (1 << 20)

/* The member's side, on an accepted connection: handshake (token as key), read the request, answer
 * with what handle returns (a new reference; NULL: {"error": err}). Closes nothing. False with err
 * set when the peer did not complete the exchange (wrong token, garbage, timeout). */
typedef json_t *(*join_handler)(void *ctx, json_t *request, char *err, size_t errlen);
bool join_serve(int fd, const char *token, join_handler handle, void *ctx, char *err, size_t errlen);

/* The new host's side: connects to addr (port JOIN_PORT unless given as ADDR:PORT), sends request,
 * returns the answer (new reference) or NULL with err set. */
json_t *join_ask(const char *addr, const char *token, json_t *request, char *err, size_t errlen);

/* A new random join token (43 characters, 256 bits) into buf (at least 48 bytes). */
bool join_token_new(char *buf, size_t len);

#endif
