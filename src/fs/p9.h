/*
 * p9.h — a 9P2000.L file server over one host directory (a shared folder):
 * one request message in, one reply message out, no transport of its own
 * (virtio/9p.c carries it).
 *
 * The guest is untrusted and confined to the directory: every path is
 * resolved beneath it with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so
 * neither ".." nor a symbolic link (whatever it points to; the guest reads and
 * follows links itself) nor a bind of /proc leads out; names with '/' are
 * refused; device nodes, FIFOs and sockets are never opened and cannot be
 * made; setuid and setgid bits are dropped and ownership stays the host's. A
 * read-only share refuses every change with EROFS.
 */
#ifndef CLOISON_FS_P9_H
#define CLOISON_FS_P9_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P9_MAX_MSIZE (512u << 10)
#define P9_MIN_MSIZE 4096u
#define P9_MAX_FIDS 4096

struct p9_fid;

struct p9_server {
	int root_fd; /* O_PATH of the shared directory */
	bool readonly;
	uint32_t msize;      /* negotiated by Tversion */
	struct p9_fid *fids; /* P9_MAX_FIDS slots, by fid number hash */
	uint64_t requests, errors;
};

/* Opens the shared directory. False with err set. */
bool p9_server_open(struct p9_server *s, const char *dir, bool readonly, char *err, size_t errlen);
void p9_server_close(struct p9_server *s);
/* Forgets every fid (Tversion, a device reset). */
void p9_server_reset(struct p9_server *s);
/* Serves one request: req[0..len) is the message as the guest sent it; the reply goes into out (cap
 * bytes: Linux sizes each reply buffer for the reply it expects). Returns the reply's length; a
 * malformed request gets an Rlerror (EPROTO) with its tag, a reply that does not fit one with ENOBUFS,
 * and 0 comes back when not even a header could be read or an Rlerror would not fit. */
size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *out, size_t cap);

#endif
