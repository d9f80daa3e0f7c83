/*
 * images.h — cloisond's VM images (see images.c): the /v1/images routes, an
 * instance's publish action, and what a definition naming an image becomes.
 * Lock held for all three.
 */
#ifndef CLOISON_DAEMON_IMAGES_H
#define CLOISON_DAEMON_IMAGES_H

#include "daemon/daemon.h"
#include "http/http_server.h"
#include "util/error.h"

#include <jansson.h>

/* /v1/images[/NAME[/export]]; seg[1] is "images". */
void api_images(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                struct http_response *r);
/* POST /v1/instances/NAME/publish {"image", ...}: a stopped VM's first disk (flattened), boot and sizes. */
void images_publish(struct daemon *d, struct instance *in, json_t *body, struct http_response *r);
/* For a definition whose vm names an image: puts the instance's root disk (overlay: a qcow2 overlay over
 * the image's disk, in the instance's directory) first among the disks and fills the boot, CPUs and memory
 * the definition leaves out from the image. True with overlay "" when no image is named; false with e set. */
bool images_apply(struct daemon *d, json_t *def, char *overlay, size_t overlay_len, struct error *e);
/* Makes that overlay, once the instance (and its directory) exists. */
bool images_make_overlay(struct daemon *d, const char *image, const char *overlay, struct error *e);

#endif
