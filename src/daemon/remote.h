/*
 * remote.h — cloisond's remote listener (`cloisond --listen ADDR:PORT`):
 * the REST API of the unix socket over HTTPS only, every request but the
 * web interface's static files authenticated by an API token (tokens.h),
 * failed attempts limited per client address and logged, the consoles as
 * WebSockets, the web interface at /ui/. GNU libmicrohttpd serves it
 * (TLS by GnuTLS, one thread per connection: API handlers may wait).
 */
#ifndef CLOISON_DAEMON_REMOTE_H
#define CLOISON_DAEMON_REMOTE_H

#include "daemon/daemon.h"

struct remote;

struct remote_config {
	const char *listen;               /* ADDR:PORT */
	const char *cert_file, *key_file; /* both NULL: STATE_DIR/tls/, made at first start */
	unsigned failures_per_minute;     /* failed authentications an address may make (0: 10) */
};

/* Starts serving; NULL with err set (bad address, port taken, unusable certificate). */
struct remote *remote_start(struct daemon *d, const struct remote_config *cfg, char *err, size_t errlen);
/* Where it listens and the certificate's fingerprint, for the daemon's first line. */
const char *remote_describe(const struct remote *r);
/* Stops listening and ends the open WebSockets; for the daemon's exit (connections are left to it). */
void remote_stop(struct remote *r);

#endif
