/*
 * image_archive.h — a VM image (an appliance) on disk and in transit: its
 * manifest (name, version, architecture, OS, default CPUs and memory, how it
 * boots, description), and the one-file form `cloison image export` writes
 * and `import` reads: a tar holding manifest.json, disk.qcow2, the optional
 * kernel and initrd, and SHA256SUMS over them. A container image (a root
 * filesystem for cloison's containers) holds rootfs.tar instead of the disk
 * and is unpacked into rootfs/ (layer.h).
 *
 * Archives come from anywhere: reading one accepts only those names, as
 * regular files, within size limits, once each; every checksum must match
 * and the manifest must parse strictly, or nothing is kept. Nothing is ever
 * written outside the directory it is unpacked into.
 */
#ifndef CLOISON_DAEMON_IMAGE_ARCHIVE_H
#define CLOISON_DAEMON_IMAGE_ARCHIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_FORMAT "cloison-image/1"
#define IMAGE_NAME_MAX 63

#define IMAGE_CT_ARGS 64
#define IMAGE_CT_ENV 64

struct image_manifest {
	char name[IMAGE_NAME_MAX + 1];
	bool container; /* a container image: rootfs/ instead of disk.qcow2, architecture the host's */
	char version[64], os[128], architecture[16], description[512];
	uint32_t cpus;     /* 0: the creator's choice */
	uint64_t memory;   /* bytes; 0: the creator's choice */
	char append[1024]; /* kernel command line ("" : cloison's default) */
	bool kernel,
	    initrd; /* the image brings its own (files "kernel", "initrd"); else the default guest's */
	int64_t created_at;
	/* A container image's defaults: the command (an OCI image's Entrypoint then Cmd), its environment
	 * ("KEY=VALUE") and working directory. */
	char ct_argv[IMAGE_CT_ARGS][256];
	int ct_argc;
	char ct_env[IMAGE_CT_ENV][512];
	int ct_nenv;
	char ct_workdir[256];
};

/* The architecture containers run on here, as Debian and OCI name it (amd64, arm64...). */
const char *image_host_architecture(void);

/* Parses and range-checks a manifest (unknown members refused). False with err set. */
bool image_manifest_parse(const char *text, size_t len, struct image_manifest *m, char *err, size_t errlen);
json_t *image_manifest_json(const struct image_manifest *m);
/* Writes DIR/manifest.json atomically. */
bool image_manifest_save(const char *dir, const struct image_manifest *m, char *err, size_t errlen);
bool image_manifest_load(const char *dir, struct image_manifest *m, char *err, size_t errlen);

typedef void (*image_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Writes the image in DIR as one tar file at path (through a partial file renamed when complete). */
bool image_archive_write(const char *dir, const char *path, image_progress_fn progress, void *ctx, char *err,
                         size_t errlen);
/* Whether the qcow2 image at path names a backing file (which could be any file on this host). */
bool image_qcow2_names_backing(const char *path);
/* Unpacks an archive into the empty directory DIR and checks it (names, types, sizes, checksums, the
 * manifest; disk.qcow2 must be a qcow2 image without a backing file). False with err set; DIR may then
 * hold partial files, which the caller removes. */
bool image_archive_read(const char *path, const char *dir, image_progress_fn progress, void *ctx, char *err,
                        size_t errlen);

#endif
