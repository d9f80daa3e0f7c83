/*
 * tokens.c — see tokens.h.
 */
#define _GNU_SOURCE
#include "daemon/tokens.h"

#include "daemon/api_internal.h"
#include "util/log.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TOKEN_PREFIX "cloison_"
#define TOKEN_BYTES 32

struct token_entry {
	char name[TOKEN_NAME_MAX + 1];
	unsigned char hash[32];
	int64_t created_at;
};

struct token_table {
	pthread_mutex_t lock; /* checks run outside the daemon's lock */
	struct token_entry *v;
	size_t n;
};

static bool sha256(const char *text, unsigned char out[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), out) == 0;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", in[i]);
}

static bool from_hex(const char *in, unsigned char *out, size_t n)
{
	if (strlen(in) != 2 * n) return false;
	for (size_t i = 0; i < n; i++)
		if (sscanf(in + 2 * i, "%2hhx", &out[i]) != 1) return false;
	return true;
}

static bool table_add(struct token_table *t, const char *name, const unsigned char hash[32],
                      int64_t created_at)
{
	struct token_entry *v = realloc(t->v, (t->n + 1) * sizeof(*v));
	if (!v) return false;
	t->v = v;
	snprintf(v[t->n].name, sizeof(v[t->n].name), "%s", name);
	memcpy(v[t->n].hash, hash, 32);
	v[t->n].created_at = created_at;
	t->n++;
	return true;
}

static void load_one(void *opaque, const char *name, const char *hash_hex, int64_t created_at)
{
	unsigned char hash[32];
	if (from_hex(hash_hex, hash, sizeof(hash)))
		table_add(opaque, name, hash, created_at);
	else
		log_warn("token '%s': its stored hash is malformed; it is ignored", name);
}

bool tokens_load(struct daemon *d, char *err, size_t errlen)
{
	struct token_table *t = calloc(1, sizeof(*t));
	if (!t) return snprintf(err, errlen, "out of memory"), false;
	pthread_mutex_init(&t->lock, NULL);
	d->tokens = t;
	return db_tokens_list(d->db, load_one, t, err, errlen);
}

bool tokens_check(struct daemon *d, const char *token, char *name)
{
	unsigned char hash[32];
	if (!d->tokens || strncmp(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) ||
	    strlen(token) != strlen(TOKEN_PREFIX) + 2 * TOKEN_BYTES || !sha256(token, hash))
		return false;
	struct token_table *t = d->tokens;
	bool found = false;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		unsigned char diff = 0; /* every byte compared: the time says nothing about near misses */
		for (size_t k = 0; k < 32; k++) diff |= hash[k] ^ t->v[i].hash[k];
		if (!diff && !found) {
			found = true;
			snprintf(name, TOKEN_NAME_MAX + 1, "%s", t->v[i].name);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

static bool token_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > TOKEN_NAME_MAX) return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@", name[i]))
			return false;
	return name[0] != '.' && name[0] != '-';
}

static void create(struct daemon *d, json_t *body, struct http_response *r)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name || !token_name_valid(name))
		return api_fail(r, ERR_INVALID,
		                "a token needs a name: 1 to %d letters, digits, '-', '_', '.', '@'",
		                TOKEN_NAME_MAX);
	unsigned char secret[TOKEN_BYTES], hash[32];
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
		return api_fail(r, ERR_INTERNAL, "no random bytes for a token");
	char token[sizeof(TOKEN_PREFIX) + 2 * TOKEN_BYTES], hash_hex[65];
	memcpy(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	to_hex(secret, sizeof(secret), token + strlen(TOKEN_PREFIX));
	if (!sha256(token, hash)) return api_fail(r, ERR_INTERNAL, "cannot hash the token");
	to_hex(hash, sizeof(hash), hash_hex);
	int64_t now = (int64_t)time(NULL);
	struct error e = {0};
	if (!db_token_insert(d->db, name, hash_hex, now, &e)) return api_fail_error(r, &e);
	pthread_mutex_lock(&d->tokens->lock);
	bool added = table_add(d->tokens, name, hash, now);
	pthread_mutex_unlock(&d->tokens->lock);
	if (!added) {
		char err[256];
		db_token_delete(d->db, name, err, sizeof(err));
		return api_fail(r, ERR_INTERNAL, "out of memory");
	}
	log_notice("created API token '%s'", name);
	api_reply(r, 201,
	          json_pack("{s:s, s:s, s:I}", "name", name, "token", token, "created_at", (json_int_t)now));
	explicit_bzero(token, sizeof(token));
	explicit_bzero(secret, sizeof(secret));
}

static void revoke(struct daemon *d, const char *name, struct http_response *r)
{
	struct token_table *t = d->tokens;
	pthread_mutex_lock(&t->lock);
	size_t i = 0;
	while (i < t->n && strcmp(t->v[i].name, name)) i++;
	bool found = i < t->n;
	pthread_mutex_unlock(&t->lock);
	if (!found) return api_fail(r, ERR_NOT_FOUND, "no token named '%.80s'", name);
	char err[256];
	if (!db_token_delete(d->db, name, err, sizeof(err))) return api_fail(r, ERR_INTERNAL, "%s", err);
	pthread_mutex_lock(&t->lock); /* entries change only under the daemon's lock too: i still names it */
	t->v[i] = t->v[--t->n];       /* from now on the token opens nothing */
	pthread_mutex_unlock(&t->lock);
	log_notice("revoked API token '%s'", name);
	api_reply(r, 200, json_pack("{s:s}", "revoked", name));
}

void tokens_api(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                struct http_response *r)
{
	if (n == 2 && !strcmp(method, "GET")) {
		json_t *a = json_array();
		pthread_mutex_lock(&d->tokens->lock);
		for (size_t i = 0; i < d->tokens->n; i++)
			json_array_append_new(a, json_pack("{s:s, s:I}", "name", d->tokens->v[i].name,
			                                   "created_at",
			                                   (json_int_t)d->tokens->v[i].created_at));
		pthread_mutex_unlock(&d->tokens->lock);
		return api_reply(r, 200, a);
	}
	if (n == 2 && !strcmp(method, "POST")) return create(d, body, r);
	if (n == 3 && !strcmp(method, "DELETE")) return revoke(d, seg[2], r);
	api_fail(r, n <= 3 ? ERR_METHOD : ERR_NOT_FOUND,
	         "/v1/tokens takes GET or POST, /v1/tokens/NAME takes DELETE");
}
