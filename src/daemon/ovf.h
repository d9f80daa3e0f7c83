/*
 * ovf.h — virtual appliances made by other products: the OVF descriptor
 * (DMTF's XML, read with libxml2) and the OVA file that carries it with its
 * disks (a tar: the .ovf first, an optional .mf of digests, the disk files).
 * images.c turns one into a cloison image.
 *
 * Both come from anywhere: the XML is parsed without network access or
 * entity expansion; file references must be plain names; an OVA member that
 * is not a plain file with such a name is refused; the .mf digests (SHA-1 or
 * SHA-256), when present, must all match.
 */
#ifndef CLOISON_DAEMON_OVF_H
#define CLOISON_DAEMON_OVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ovf_appliance {
	char name[64], os[128], description[512];
	uint32_t cpus;        /* 0: the descriptor does not say */
	uint64_t memory;      /* bytes; 0: the descriptor does not say */
	char disk[256];       /* the file of the first disk */
	char disk_format[16]; /* "vmdk", "raw", "qcow2" (from the disk's format URI) */
};

/* Parses a descriptor. False with err set (not XML, not OVF, no disk, a reference that is not a plain
 * file name). */
bool ovf_parse(const char *xml, size_t len, struct ovf_appliance *a, char *err, size_t errlen);
/* Whether the tar at path starts with a .ovf member (an OVA). */
bool ova_is(const char *path);
/* Unpacks an OVA into the empty directory dir; the .ovf member's name in ovf (cap bytes). */
bool ova_unpack(const char *path, const char *dir, char *ovf, size_t cap, char *err, size_t errlen);
/* Checks the digests of DIR/MF (lines "SHA256(file)= hex" or "SHA1(file)= hex") against the files beside
 * it; true when there is no such file. */
bool ovf_check_manifest(const char *dir, const char *mf, char *err, size_t errlen);
/* Reads DIR/NAME (at most max bytes) into a malloc'd NUL-terminated buffer; NULL with err set. */
char *ovf_read_file(const char *dir, const char *name, size_t max, size_t *len, char *err, size_t errlen);

#endif
