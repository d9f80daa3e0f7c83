/*
 * image_file.h — whole-file image work shared by `cloison disk` and
 * cloisond's storage pools: creating a raw or qcow2 image (static or
 * dynamic, optionally an overlay of a backing file), copying an image into
 * a new file, describing one in qemu-img's JSON shape, and resolving the
 * backing file an image names. Errors come back in err; nothing prints.
 */
#ifndef CLOISON_IMAGE_FILE_H
#define CLOISON_IMAGE_FILE_H

#include "block.h"
#include "image_ops.h"

#include <jansson.h>

struct image_create_opts {
	const char *format;         /* "raw" or "qcow2" */
	uint64_t size;              /* bytes (rounded up to 512); 0 with a backing file: its size */
	const char *prealloc;       /* raw: NULL/"off" (sparse), "falloc" or "full" (static) */
	unsigned cluster_bits;      /* qcow2: 0 = 16 */
	unsigned version;           /* qcow2: 0 = 3 */
	unsigned refcount_order;    /* qcow2: 0 = 4 */
	const char *backing;        /* qcow2: backing file as stored (relative to the image's directory) */
	const char *backing_format; /* NULL: probed from the file */
};

/* The formats cloison reads and writes itself. */
bool image_format_native(const char *fmt);

/* Where the backing file `name` stored in `image` lives (relative names are relative to the image's
 * directory). False if it does not fit. */
bool image_backing_path(const char *image, const char *name, char *out, size_t len);

/*
 * Creates a new image at path (never overwriting). With a backing file the image is a qcow2 overlay
 * and takes the backing file's size unless one is given. On success o->size holds the size made
 * (and o->backing_format the backing file's format when it was probed). Returns 0, or -1 with err.
 */
int image_create(const char *path, struct image_create_opts *o, block_progress_fn progress, void *ctx,
                 char *err, size_t errlen);

/* Copies what src shows (through its backing chain) into a new image at dst made with o (its size is
 * src's). The copy is written to a partial file beside dst (image_part_begin), synced, and renamed to
 * dst only when complete: dst is never a half-written image, even if the process is killed. A failed
 * copy leaves no file behind. Returns 0, or -1 with err. */
int image_convert(struct block_backend *src, const char *dst, const struct image_create_opts *o,
                  block_progress_fn progress, void *ctx, char *err, size_t errlen);

/* A new image written by anyone (this file, qemu-img) goes to a partial file first: DIR/.NAME.part-PID
 * beside dst, in *part. Partial files for dst whose writer died are removed first. False if the name
 * does not fit. */
bool image_part_begin(const char *dst, char *part, size_t len);
/* Removes the partial files in dir whose writer died (of the image `name` only, when not NULL). */
void image_part_sweep(const char *dir, const char *name);
/* Syncs a complete partial file and renames it to dst (never replacing a file there), then syncs the
 * directory. Returns 0, or -1 with err (the partial file stays: the caller removes it). */
int image_part_commit(const char *part, const char *dst, char *err, size_t errlen);

/* qemu-img info's JSON for an open image (filename, format, virtual-size, actual-size, backing...). */
json_t *image_info_json(struct block_backend *b, const char *path, const char *fmt);

#endif
