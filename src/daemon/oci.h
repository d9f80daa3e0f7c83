/*
 * oci.h — container images in the OCI image layout (a directory with
 * oci-layout, index.json and blobs/, or one tar of it: what `skopeo copy
 * ... oci:DIR:TAG` and `oci-archive:` write) turned into a cloison container
 * image: the layers unpacked in order into a rootfs (layer.h), the config's
 * Entrypoint, Cmd, Env and WorkingDir kept in the manifest.
 *
 * Layouts come from anywhere: every blob is named by a sha256 digest that
 * must match its content and the descriptor's size; JSON is parsed strictly
 * enough to refuse what is not an image; the index may pick among images by
 * their ref name or platform; an OCI tar may hold only the layout's own
 * names, as plain files and directories.
 */
#ifndef CLOISON_DAEMON_OCI_H
#define CLOISON_DAEMON_OCI_H

#include "image_archive.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether dir holds an OCI image layout (an oci-layout file). */
bool oci_layout_is(const char *dir);
/* Whether the tar at path holds an OCI image layout. */
bool oci_archive_is(const char *path);
/* Unpacks an OCI tar into the empty directory dir. */
bool oci_archive_unpack(const char *path, const char *dir, char *err, size_t errlen);
/* Reads the image ref ("" : the only one, else the one for this host's platform) from the layout at
 * dir, unpacks its layers into the existing empty directory rootfs and fills m's container fields,
 * architecture and os. */
bool oci_import(const char *dir, const char *ref, const char *rootfs, struct image_manifest *m, char *err,
                size_t errlen);

#endif
