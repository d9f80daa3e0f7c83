/*
 * tls_cert.h — the remote listener's certificate and key: the files the
 * administrator named, else STATE_DIR/tls/server.{crt,key}, made at first
 * start as a self-signed ECDSA P-256 certificate for this host's name,
 * localhost and the loopback addresses (GnuTLS), valid ten years. Clients
 * pin it by its SHA-256 fingerprint, which the daemon logs.
 */
#ifndef CLOISON_DAEMON_TLS_CERT_H
#define CLOISON_DAEMON_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>

struct tls_identity {
	char *cert_pem, *key_pem; /* malloc'd, NUL-terminated */
	char fingerprint[96];     /* SHA-256 of the certificate (DER), "AB:CD:..." */
};

/* cert_file and key_file both given: read them; both NULL: the ones in dir, made when missing. */
bool tls_identity_load(const char *cert_file, const char *key_file, const char *dir, struct tls_identity *id,
                       char *err, size_t errlen);
void tls_identity_free(struct tls_identity *id);

#endif
