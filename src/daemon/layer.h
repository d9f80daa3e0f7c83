/*
 * layer.h — a root filesystem as a tar: unpacking a rootfs tarball or an OCI
 * image layer into a directory (a container image's rootfs/), and packing a
 * directory back into one tar.
 *
 * Tarballs come from anywhere. Every name and hard-link target is checked
 * first (no absolute path, no `..` component; the parent is resolved beneath
 * the directory without following a symlink), then libarchive writes the
 * entry with its own guards against `..` and extracting through symlinks.
 * Device nodes and sockets are skipped (a container gets its own /dev);
 * extended attributes other than user.* and security.capability are dropped;
 * total size and entry count are bounded. An OCI layer's whiteouts
 * (`.wh.NAME`, `.wh..wh..opq`) remove what lower layers put there, before the
 * layer's own entries are written.
 */
#ifndef CLOISON_DAEMON_LAYER_H
#define CLOISON_DAEMON_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAYER_MAX_BYTES (64ull << 30)
#define LAYER_MAX_ENTRIES 4000000u

enum layer_kind {
	LAYER_TARBALL, /* a plain rootfs tarball: every entry is a file */
	LAYER_OCI,     /* an OCI layer: `.wh.` entries are whiteouts over what is already there */
};

struct layer_stats {
	uint64_t entries, bytes; /* written */
	uint64_t skipped;        /* device nodes and sockets */
	uint64_t whiteouts;
};

/* Unpacks the tar at path (uncompressed, gzip, xz, zstd or bzip2) into the existing directory dir.
 * False with err set; dir then holds part of it. stats may be NULL. */
bool layer_unpack(const char *path, const char *dir, enum layer_kind kind, struct layer_stats *stats,
                  char *err, size_t errlen);
/* Writes the tree at dir (symlinks kept as links, not followed) as a pax tar at path. */
bool layer_pack(const char *dir, const char *path, char *err, size_t errlen);
/* Whether the file at path reads as a tar, compressed or not. */
bool layer_is_tar(const char *path);

#endif
