/*
 * tls_cert.c — see tls_cert.h.
 */
#define _GNU_SOURCE
#include "daemon/tls_cert.h"

#include "util/fs.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PEM_MAX (64 * 1024)

static bool gfail(int rc, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, gnutls_strerror(rc));
	return false;
}

static char *datum_text(gnutls_datum_t *d)
{
	char *s = malloc(d->size + 1);
	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = 0;
	}
	gnutls_free(d->data);
	return s;
}

/* A new key and a self-signed certificate in PEM. */
static bool make_identity(struct tls_identity *id, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	bool ok = false;
	int rc;
	char host[HOST_NAME_MAX + 1] = "localhost", cn[HOST_NAME_MAX + 32];
	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "cloisond on %s", host);
	unsigned char serial[16];
	if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial))
		return snprintf(err, errlen, "no random bytes for a serial number"), false;
	serial[0] &= 0x7f; /* a positive number */
	struct in_addr v4;
	struct in6_addr v6;
	inet_pton(AF_INET, "127.0.0.1", &v4);
	inet_pton(AF_INET6, "::1", &v6);
	time_t now = time(NULL);
	gnutls_datum_t out = {0};
	if ((rc = gnutls_x509_privkey_init(&key)) ||
	    (rc = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0))) {
		gfail(rc, "cannot make a key", err, errlen);
		goto out;
	}
	if ((rc = gnutls_x509_crt_init(&crt)) || (rc = gnutls_x509_crt_set_version(crt, 3)) ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, now + 10 * 365 * 86400L)) ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "cloison", 7)) ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn))) ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host, strlen(host),
	                                               GNUTLS_FSAN_APPEND)) ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
	                                               GNUTLS_FSAN_APPEND)) ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, &v4, sizeof(v4),
	                                               GNUTLS_FSAN_APPEND)) ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, &v6, sizeof(v6),
	                                               GNUTLS_FSAN_APPEND)) ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) ||
	    (rc = gnutls_x509_crt_set_key(crt, key)) ||
	    (rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0))) {
		gfail(rc, "cannot make a certificate", err, errlen);
		goto out;
	}
	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out))) {
		gfail(rc, "cannot write the certificate", err, errlen);
		goto out;
	}
	id->cert_pem = datum_text(&out);
	if ((rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &out))) {
		gfail(rc, "cannot write the key", err, errlen);
		goto out;
	}
	id->key_pem = datum_text(&out);
	ok = id->cert_pem && id->key_pem;
	if (!ok) snprintf(err, errlen, "out of memory");
out:
	if (crt) gnutls_x509_crt_deinit(crt);
	if (key) gnutls_x509_privkey_deinit(key);
	return ok;
}

/* Checks that the PEM texts are a certificate and a key that belong together; the fingerprint. */
static bool check_identity(struct tls_identity *id, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t cred;
	int rc = gnutls_certificate_allocate_credentials(&cred);
	if (rc) return gfail(rc, "TLS credentials", err, errlen);
	gnutls_datum_t c = {(unsigned char *)id->cert_pem, (unsigned)strlen(id->cert_pem)};
	gnutls_datum_t k = {(unsigned char *)id->key_pem, (unsigned)strlen(id->key_pem)};
	rc = gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cred);
	if (rc < 0) return gfail(rc, "the certificate and key do not make a TLS identity", err, errlen);
	gnutls_x509_crt_t crt;
	unsigned char fp[32];
	size_t fplen = sizeof(fp);
	if ((rc = gnutls_x509_crt_init(&crt))) return gfail(rc, "certificate", err, errlen);
	rc = gnutls_x509_crt_import(crt, &c, GNUTLS_X509_FMT_PEM);
	if (!rc) rc = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen);
	gnutls_x509_crt_deinit(crt);
	if (rc) return gfail(rc, "the certificate", err, errlen);
	for (size_t i = 0; i < fplen && 3 * i + 3 <= sizeof(id->fingerprint); i++)
		sprintf(id->fingerprint + 3 * i, "%02X%s", fp[i], i + 1 < fplen ? ":" : "");
	return true;
}

bool tls_identity_load(const char *cert_file, const char *key_file, const char *dir, struct tls_identity *id,
                       char *err, size_t errlen)
{
	*id = (struct tls_identity){0};
	char cert_path[PATH_MAX], key_path[PATH_MAX];
	if (cert_file && key_file) {
		snprintf(cert_path, sizeof(cert_path), "%s", cert_file);
		snprintf(key_path, sizeof(key_path), "%s", key_file);
	} else {
		snprintf(cert_path, sizeof(cert_path), "%.4000s/server.crt", dir);
		snprintf(key_path, sizeof(key_path), "%.4000s/server.key", dir);
		if (access(cert_path, F_OK) && access(key_path, F_OK)) {
			if (!mkdir_p(dir, 0700))
				return snprintf(err, errlen, "%s: %s", dir, strerror(errno)), false;
			if (!make_identity(id, err, errlen) ||
			    !fs_write_file_atomic(key_path, 0600, id->key_pem, strlen(id->key_pem), err,
			                          errlen) ||
			    !fs_write_file_atomic(cert_path, 0644, id->cert_pem, strlen(id->cert_pem), err,
			                          errlen)) {
				tls_identity_free(id);
				return false;
			}
			log_notice("made a self-signed certificate for the remote API: %s", cert_path);
		}
	}
	char e2[512];
	if (!id->cert_pem && !(id->cert_pem = fs_read_text(cert_path, PEM_MAX, e2, sizeof(e2)))) {
		snprintf(err, errlen, "TLS certificate: %s", e2);
		return false;
	}
	if (!id->key_pem && !(id->key_pem = fs_read_text(key_path, PEM_MAX, e2, sizeof(e2)))) {
		snprintf(err, errlen, "TLS key: %s", e2);
		tls_identity_free(id);
		return false;
	}
	if (!check_identity(id, e2, sizeof(e2))) {
		snprintf(err, errlen, "%s and %s: %s", cert_path, key_path, e2);
		tls_identity_free(id);
		return false;
	}
	return true;
}

void tls_identity_free(struct tls_identity *id)
{
	if (id->key_pem) explicit_bzero(id->key_pem, strlen(id->key_pem));
	free(id->cert_pem);
	free(id->key_pem);
	id->cert_pem = id->key_pem = NULL;
}
