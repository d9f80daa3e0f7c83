/*
 * join.c — see join.h.
 */
#define _GNU_SOURCE
#include "cluster/join.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK"
#define TIMEOUT_MS 10000

struct join_io {
	gnutls_session_t s;
};

static int server_key(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	const struct join_keys *k = gnutls_session_get_ptr(s);
	bool member = !strcmp(user, "replica");
	const uint8_t *src = member ? k->cluster_key : k->token;
	size_t len = member ? k->cluster_key_len : k->token_len;
	if (!src || !len || (!member && strcmp(user, "cloison"))) return -1;
	key->data = gnutls_malloc(len);
	if (!key->data) return -1;
	memcpy(key->data, src, len);
	key->size = (unsigned)len;
	return 0;
}

static bool io_all(gnutls_session_t s, void *buf, size_t len, bool writing)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = writing ? gnutls_record_send(s, p, len) : gnutls_record_recv(s, p, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
		if (n <= 0) return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_json(gnutls_session_t s, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	if (!text) return false;
	size_t len = strlen(text);
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	bool ok = io_all(s, hdr, 4, true) && io_all(s, text, len, true);
	free(text);
	return ok;
}

static json_t *recv_json(gnutls_session_t s, char *err, size_t errlen)
{
	uint8_t hdr[4];
	if (!io_all(s, hdr, 4, false)) return snprintf(err, errlen, "the peer closed the connection"), NULL;
	size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len > JOIN_MAX_MESSAGE) return snprintf(err, errlen, "message of %zu bytes: too long", len), NULL;
	char *buf = malloc(len + 1);
	if (!buf) return snprintf(err, errlen, "out of memory"), NULL;
	json_t *j = NULL;
	if (!io_all(s, buf, len, false)) {
		snprintf(err, errlen, "the peer closed the connection");
	} else {
		json_error_t je;
		j = json_loadb(buf, len, 0, &je);
		if (!json_is_object(j)) {
			json_decref(j);
			j = NULL;
			snprintf(err, errlen, "the peer sent malformed JSON");
		}
	}
	free(buf);
	return j;
}

static bool handshake(gnutls_session_t s, int fd, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, TIMEOUT_MS);
	int rc;
	do {
		rc = gnutls_handshake(s);
	} while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		snprintf(err, errlen, "TLS handshake failed (%s): is the join token right?",
		         gnutls_strerror(rc));
		return false;
	}
	return true;
}

bool join_read_payload(struct join_io *io, int fd, uint64_t len)
{
	uint8_t buf[65536];
	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		if (!io_all(io->s, buf, n, false) || write(fd, buf, n) != (ssize_t)n) return false;
		len -= n;
	}
	return true;
}

bool join_serve(int fd, const struct join_keys *keys, join_handler handle, void *ctx, char *err,
                size_t errlen)
{
	gnutls_psk_server_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	bool ok = false;
	if (gnutls_psk_allocate_server_credentials(&cred) < 0 || gnutls_init(&s, GNUTLS_SERVER) < 0) {
		snprintf(err, errlen, "GnuTLS: cannot set up a session");
		goto out;
	}
	gnutls_psk_set_server_credentials_function(cred, server_key);
	gnutls_session_set_ptr(s, (void *)keys);
	if (gnutls_priority_set_direct(s, PRIORITY, NULL) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred) < 0) {
		snprintf(err, errlen, "GnuTLS: cannot set the session's parameters");
		goto out;
	}
	if (!handshake(s, fd, err, errlen)) goto out;
	const char *user = gnutls_psk_server_get_username(s);
	json_t *req = recv_json(s, err, errlen);
	if (!req) goto out;
	char herr[512] = "";
	struct join_io io = {s};
	json_t *answer = handle(ctx, user && !strcmp(user, "replica"), req, &io, herr, sizeof(herr));
	json_decref(req);
	if (!answer) answer = json_pack("{s:s}", "error", herr[0] ? herr : "refused");
	ok = answer && send_json(s, answer);
	if (!ok) snprintf(err, errlen, "cannot answer the peer");
	json_decref(answer);
	gnutls_bye(s, GNUTLS_SHUT_WR);
out:
	if (s) gnutls_deinit(s);
	if (cred) gnutls_psk_free_server_credentials(cred);
	return ok;
}

static int connect_to(const char *addr, char *err, size_t errlen)
{
	char host[256];
	const char *port = JOIN_PORT;
	snprintf(host, sizeof(host), "%s", addr);
	char *colon = strrchr(host, ':');
	if (colon && strchr(host, ':') == colon) { /* ADDR:PORT (one colon: not a bare IPv6 address) */
		*colon = 0;
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc) return snprintf(err, errlen, "%s: %s", addr, gai_strerror(rc)), -1;
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen)) {
			snprintf(err, errlen, "cannot connect to %s port %s: %s", host, port,
			         strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static bool send_file(gnutls_session_t s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return false;
	uint8_t buf[65536];
	ssize_t n;
	bool ok = true;
	while (ok && (n = read(fd, buf, sizeof(buf))) > 0) ok = io_all(s, buf, (size_t)n, true);
	close(fd);
	return ok && n == 0;
}

json_t *join_ask(const char *addr, bool member, const uint8_t *key, size_t key_len, json_t *request,
                 const char *payload_path, char *err, size_t errlen)
{
	int fd = connect_to(addr, err, errlen);
	if (fd < 0) return NULL;
	gnutls_psk_client_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	json_t *answer = NULL;
	gnutls_datum_t k = {.data = (unsigned char *)key, .size = (unsigned)key_len};
	if (gnutls_psk_allocate_client_credentials(&cred) < 0 || gnutls_init(&s, GNUTLS_CLIENT) < 0 ||
	    gnutls_psk_set_client_credentials(cred, member ? "replica" : "cloison", &k, GNUTLS_PSK_KEY_RAW) <
	        0 ||
	    gnutls_priority_set_direct(s, PRIORITY, NULL) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred) < 0) {
		snprintf(err, errlen, "GnuTLS: cannot set up a session");
		goto out;
	}
	if (!handshake(s, fd, err, errlen)) goto out;
	if (!send_json(s, request) || (payload_path && !send_file(s, payload_path))) {
		snprintf(err, errlen, "cannot send the request to %s", addr);
		goto out;
	}
	answer = recv_json(s, err, errlen);
out:
	if (s) gnutls_deinit(s);
	if (cred) gnutls_psk_free_client_credentials(cred);
	close(fd);
	return answer;
}

bool join_token_new(char *buf, size_t len)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[43];
	if (len < 44 || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) return false;
	for (size_t i = 0; i < sizeof(raw); i++) buf[i] = chars[raw[i] & 63];
	buf[sizeof(raw)] = 0;
	return true;
}
