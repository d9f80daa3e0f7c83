/*
 * cmd_disk.c — `cloison disk create|info|check|convert|resize|rebase|commit`:
 * the user's view of the image tools (option parsing, tables, JSON,
 * progress, exit codes). The work itself is in src/block/.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "usage.h"

#include "block/block.h"
#include "block/image_file.h"
#include "block/qcow2.h"
#include "block/qcow2_internal.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static bool is_foreign(const char *fmt)
{
	static const char *const known[] = {"vmdk", "vdi", "vhd", "vpc", "vhdx", "qed", NULL};
	for (int i = 0; known[i]; i++)
		if (!strcmp(fmt, known[i])) return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

/* The format of a file the user named: -f if given, else its magic. */
static const char *user_format(const char *path, const char *given)
{
	if (given) return given;
	char err[512];
	const char *f = block_probe_format(path, err, sizeof(err));
	if (!f) log_error("%s", err);
	return f;
}

static void human_size(uint64_t v, char *out, size_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double d = (double)v;
	int u = 0;
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%llu B", (unsigned long long)v);
	else
		snprintf(out, n, "%.3g %s", d, units[u]);
}

/* ---- progress ---- */

struct progress {
	bool on;
	int last_permille;
};

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	if (!p->on) return;
	int permille = total ? (int)(done * 1000 / total) : 1000;
	if (permille == p->last_permille) return;
	p->last_permille = permille;
	int width = 40, fill = permille * width / 1000;
	fprintf(stderr, "\r    [%.*s%*s] %5.1f%%", fill, "########################################",
	        width - fill, "", permille / 10.0);
	if (done >= total) fputc('\n', stderr);
	fflush(stderr);
}

/* ---- create ---- */

struct create_opts {
	uint64_t cluster_size;
	unsigned version, refcount_order;
	const char *prealloc;
};

static bool parse_o(char *spec, struct create_opts *o)
{
	for (char *save = NULL, *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (!v) {
			log_error("-o expects key=value, got '%s'", kv);
			return false;
		}
		*v++ = 0;
		uint64_t n;
		if (!strcmp(kv, "cluster_size")) {
			if (!parse_disk_size(v, &n) || n < 512 || n > (2u << 20) || (n & (n - 1))) {
				log_error("cluster_size must be a power of two from 512 to 2M");
				return false;
			}
			o->cluster_size = n;
		} else if (!strcmp(kv, "compat")) {
			if (!strcmp(v, "1.1") || !strcmp(v, "v3"))
				o->version = 3;
			else if (!strcmp(v, "0.10") || !strcmp(v, "v2"))
				o->version = 2;
			else {
				log_error("compat must be 1.1 or 0.10");
				return false;
			}
		} else if (!strcmp(kv, "refcount_bits")) {
			if (!parse_uint(v, 1, 64, &n) || (n & (n - 1))) {
				log_error("refcount_bits must be a power of two up to 64");
				return false;
			}
			o->refcount_order = (unsigned)__builtin_ctzll(n);
		} else if (!strcmp(kv, "preallocation")) {
			if (strcmp(v, "off") && strcmp(v, "falloc") && strcmp(v, "full")) {
				log_error("preallocation must be off, falloc or full");
				return false;
			}
			o->prealloc = v;
		} else {
			log_error("unknown -o option '%s' (known: cluster_size, compat, refcount_bits, "
			          "preallocation)",
			          kv);
			return false;
		}
	}
	return true;
}

static void create_usage(FILE *f)
{
	fprintf(f,
	        "Usage: cloison disk create [-f raw|qcow2] [-o OPTIONS] [-b BACKING [-F FMT]] FILE [SIZE]\n"
	        "\n"
	        "Creates a disk image. SIZE takes K, M, G, T suffixes (bare: bytes). The format defaults to\n"
	        "qcow2 for *.qcow2 names and raw otherwise. With -b the image is a qcow2 overlay (linked\n"
	        "clone) of BACKING, whose size it takes unless SIZE is given; BACKING is stored as written,\n"
	        "relative to FILE's directory, with its format (-F, or probed from the file you named).\n"
	        "\n"
	        "  -o cluster_size=64K,compat=1.1|0.10,refcount_bits=16   qcow2 layout\n"
	        "  -o preallocation=off|falloc|full                       raw: sparse (dynamic) or static\n"
	        "  -p                                                     show progress\n");
}

static int disk_create(int argc, char **argv)
{
	const char *fmt = NULL, *backing = NULL, *backing_fmt = NULL;
	struct create_opts co = {0};
	struct progress pr = {.on = false, .last_permille = -1};
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int c;
	opterr = 0; /* errors are ours */
	while ((c = getopt_long(argc, argv, "f:o:b:F:ph", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'o':
			if (!parse_o(optarg, &co)) return 2;
			break;
		case 'b': backing = optarg; break;
		case 'F': backing_fmt = optarg; break;
		case 'p': pr.on = true; break;
		case 'h': create_usage(stdout); return 0;
		default:
			if (optopt && strchr("fobF", optopt))
				return cli_usage_error("disk create", "option '-%c' needs a value", optopt);
			return cli_option_error("disk create", argv, longopts);
		}
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage_error("disk create", "expected FILE [SIZE]");
	const char *path = argv[optind];
	if (!fmt) fmt = backing || ends_with(path, ".qcow2") ? "qcow2" : "raw";
	if (!image_format_native(fmt)) {
		log_error("cannot create '%s' images (supported: raw, qcow2)", fmt);
		return 2;
	}
	uint64_t size = 0;
	if (optind + 1 < argc && !parse_disk_size(argv[optind + 1], &size)) {
		log_error("bad size '%s' (e.g. 10G, 512M)", argv[optind + 1]);
		return 2;
	}
	if (!size && !backing) {
		log_error("give a size (e.g. `cloison disk create %s 10G`)", path);
		return 2;
	}
	struct image_create_opts io = {
	    .format = fmt,
	    .size = size,
	    .prealloc = co.prealloc,
	    .cluster_bits = co.cluster_size ? (unsigned)__builtin_ctzll(co.cluster_size) : 0,
	    .version = co.version,
	    .refcount_order = co.refcount_order,
	    .backing = backing,
	    .backing_format = backing_fmt,
	};
	char err[1024];
	if (image_create(path, &io, progress_cb, &pr, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	size = io.size;
	char hs[32];
	human_size(size, hs, sizeof(hs));
	cli_done("Formatting '%s', fmt=%s size=%llu (%s)%s%s", path, fmt, (unsigned long long)size, hs,
	         backing ? " backing_file=" : "", backing ? backing : "");
	return 0;
}

/* ---- info ---- */

static void print_info(json_t *o)
{
	char hs[32];
	printf("image: %s\n", json_string_value(json_object_get(o, "filename")));
	printf("file format: %s\n", json_string_value(json_object_get(o, "format")));
	uint64_t vs = (uint64_t)json_integer_value(json_object_get(o, "virtual-size"));
	human_size(vs, hs, sizeof(hs));
	printf("virtual size: %s (%llu bytes)\n", hs, (unsigned long long)vs);
	human_size((uint64_t)json_integer_value(json_object_get(o, "actual-size")), hs, sizeof(hs));
	printf("disk size: %s\n", hs);
	json_t *cs = json_object_get(o, "cluster-size");
	if (cs) printf("cluster_size: %lld\n", (long long)json_integer_value(cs));
	json_t *bf = json_object_get(o, "backing-filename");
	if (bf) printf("backing file: %s\n", json_string_value(bf));
	json_t *bff = json_object_get(o, "backing-filename-format");
	if (bff) printf("backing file format: %s\n", json_string_value(bff));
	json_t *d = json_object_get(json_object_get(o, "format-specific"), "data");
	if (d) {
		printf("Format specific information:\n");
		printf("    compat: %s\n", json_string_value(json_object_get(d, "compat")));
		printf("    refcount bits: %lld\n",
		       (long long)json_integer_value(json_object_get(d, "refcount-bits")));
		printf("    snapshots: %lld\n",
		       (long long)json_integer_value(json_object_get(d, "snapshots")));
		printf("    corrupt: %s\n", json_is_true(json_object_get(d, "corrupt")) ? "true" : "false");
		printf("    dirty: %s\n", json_is_true(json_object_get(o, "dirty-flag")) ? "true" : "false");
	}
}

static int disk_info(int argc, char **argv)
{
	const char *fmt = NULL;
	bool json = false, chain = false, force_share = false;
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},          {"output", required_argument, NULL, 'O'},
	    {"backing-chain", no_argument, NULL, 'c'}, {"force-share", no_argument, NULL, 'U'},
	    {"help", no_argument, NULL, 'h'},          {0}};
	int c;
	while ((c = getopt_long(argc, argv, "f:Uh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'j': json = true; break;
		case 'O': json = !strcmp(optarg, "json"); break;
		case 'c': chain = true; break;
		case 'U': force_share = true; break;
		case 'h':
			printf("Usage: cloison disk info [-f FMT] [--json] [--backing-chain] "
			       "[-U|--force-share] FILE\n");
			return 0;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		log_error("usage: cloison disk info [-f FMT] [--json] [--backing-chain] FILE");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s", argv[optind]);
	json_t *list = json_array();
	int rc = 0;
	char next_fmt[32];
	for (int depth = 0; depth < 16; depth++) {
		const char *f = user_format(path, fmt);
		if (!f) {
			rc = 1;
			break;
		}
		if (!image_format_native(f)) {
			log_error("'%s' is a %s image: `cloison disk convert` imports it (through qemu-img)",
			          path, f);
			rc = 1;
			break;
		}
		char err[1024];
		struct block_backend *b =
		    block_open(path, f,
		               BLOCK_OPEN_READONLY | BLOCK_OPEN_NO_BACKING | QCOW2_OPEN_FOR_CHECK |
		                   (force_share ? BLOCK_OPEN_NO_LOCK : 0),
		               err, sizeof(err));
		if (!b) {
			log_error("%s", err);
			rc = 1;
			break;
		}
		json_array_append_new(list, image_info_json(b, path, f));
		const struct qcow2_header *h = qcow2_header_of(b);
		char next[4096] = "";
		if (chain && h && h->backing_file[0]) {
			image_backing_path(path, h->backing_file, next, sizeof(next));
			snprintf(next_fmt, sizeof(next_fmt), "%s", h->backing_format);
			fmt = next_fmt[0] ? next_fmt : NULL; /* outlives the backend closed below */
		}
		block_close(b);
		if (!next[0]) break;
		memcpy(path, next, sizeof(path));
	}
	if (rc == 0) {
		if (json) {
			json_t *out = chain ? json_incref(list) : json_incref(json_array_get(list, 0));
			char *s = json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
			printf("%s\n", s);
			free(s);
			json_decref(out);
		} else {
			for (size_t i = 0; i < json_array_size(list); i++) {
				if (i) printf("\n");
				print_info(json_array_get(list, i));
			}
		}
	}
	json_decref(list);
	return rc;
}

/* ---- check ---- */

static void check_log(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static int disk_check(int argc, char **argv)
{
	const char *fmt = NULL, *repair_s = NULL;
	bool json = false, quiet = cli_quiet; /* -q is taken by main.c */
	static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
	                                         {"output", required_argument, NULL, 'O'},
	                                         {"repair", required_argument, NULL, 'r'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {0}};
	int c;
	while ((c = getopt_long(argc, argv, "f:r:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'r': repair_s = optarg; break;
		case 'j': json = true; break;
		case 'O': json = !strcmp(optarg, "json"); break;
		case 'q': quiet = true; break;
		case 'h':
			printf("Usage: cloison disk check [-f FMT] [-r leaks|all] [--json] [-q] FILE\n"
			       "Exit status: 0 consistent, 2 corrupt, 3 leaked clusters only, 1 check "
			       "failed, 63 "
			       "format has nothing to check.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		log_error("usage: cloison disk check [-f FMT] [-r leaks|all] FILE");
		return 2;
	}
	unsigned repair = 0;
	if (repair_s && !strcmp(repair_s, "leaks"))
		repair = QCOW2_REPAIR_LEAKS;
	else if (repair_s && !strcmp(repair_s, "all"))
		repair = QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS;
	else if (repair_s) {
		log_error("-r takes leaks or all");
		return 2;
	}
	const char *path = argv[optind];
	const char *f = user_format(path, fmt);
	if (!f) return 1;
	if (strcmp(f, "qcow2")) {
		log_error("'%s' is %s: only qcow2 images hold metadata to check", path, f);
		return 63;
	}
	char err[1024];
	struct block_backend *b = block_open(
	    path, "qcow2", (repair ? 0 : BLOCK_OPEN_READONLY) | BLOCK_OPEN_NO_BACKING | QCOW2_OPEN_FOR_CHECK,
	    err, sizeof(err));
	if (!b) {
		log_error("%s", err);
		return 1;
	}
	struct qcow2_check_result r, after;
	int rc = qcow2_check(b, repair, &r, &after, quiet ? NULL : check_log, NULL);
	block_close(b);
	if (rc) {
		log_error("checking '%s' failed: %s", path, strerror(-rc));
		return 1;
	}
	struct qcow2_check_result *now = repair ? &after : &r;
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "filename", json_string(path));
		json_object_set_new(o, "format", json_string("qcow2"));
		json_object_set_new(o, "check-errors", json_integer((json_int_t)now->check_errors));
		json_object_set_new(o, "corruptions", json_integer((json_int_t)now->corruptions));
		json_object_set_new(o, "leaks", json_integer((json_int_t)now->leaks));
		json_object_set_new(o, "corruptions-fixed", json_integer((json_int_t)r.corruptions_fixed));
		json_object_set_new(o, "leaks-fixed", json_integer((json_int_t)r.leaks_fixed));
		json_object_set_new(o, "allocated-clusters",
		                    json_integer((json_int_t)now->allocated_clusters));
		json_object_set_new(o, "total-clusters", json_integer((json_int_t)now->total_clusters));
		json_object_set_new(o, "image-end-offset", json_integer((json_int_t)now->image_end_offset));
		char *s = json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else if (!quiet) {
		if (repair && (r.corruptions_fixed || r.leaks_fixed))
			printf("The following inconsistencies were found and repaired:\n\n"
			       "    %llu leaked clusters\n    %llu corruptions\n\nDouble checking the fixed "
			       "image now...\n",
			       (unsigned long long)r.leaks_fixed, (unsigned long long)r.corruptions_fixed);
		if (!now->corruptions && !now->leaks && !now->check_errors)
			printf("No errors were found on the image.\n");
		if (now->corruptions)
			printf("\n%llu errors were found on the image.\n"
			       "Data may be corrupted, or further writes to the image may corrupt it.\n",
			       (unsigned long long)now->corruptions);
		if (now->leaks)
			printf("\n%llu leaked clusters were found on the image.\n"
			       "This means waste of disk space, but no harm to data.\n",
			       (unsigned long long)now->leaks);
		if (now->check_errors)
			printf("\n%llu internal errors have occurred during the check.\n",
			       (unsigned long long)now->check_errors);
		if (now->total_clusters)
			printf("%llu/%llu = %.2f%% allocated\n", (unsigned long long)now->allocated_clusters,
			       (unsigned long long)now->total_clusters,
			       100.0 * (double)now->allocated_clusters / (double)now->total_clusters);
		printf("Image end offset: %llu\n", (unsigned long long)now->image_end_offset);
	}
	if (now->check_errors) return 1;
	if (now->corruptions) return 2;
	if (now->leaks) return 3;
	return 0;
}

/* ---- convert ---- */

static int run_qemu_img(char *const argv[])
{
	pid_t pid;
	int rc = posix_spawnp(&pid, "qemu-img", NULL, NULL, argv, environ);
	if (rc) {
		log_error("qemu-img is needed to import this format and was not found (apt-get install "
		          "qemu-utils)");
		return 1;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) return 1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int disk_convert(int argc, char **argv)
{
	const char *src_fmt = NULL, *dst_fmt = NULL;
	struct create_opts co = {0};
	struct progress pr = {.on = isatty(2) && !cli_quiet, .last_permille = -1};
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "f:O:o:ph", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': src_fmt = optarg; break;
		case 'O': dst_fmt = optarg; break;
		case 'o':
			if (!parse_o(optarg, &co)) return 2;
			break;
		case 'p': pr.on = true; break;
		case 'h':
			printf("Usage: cloison disk convert [-f FMT] [-O raw|qcow2] [-o OPTIONS] [-p] SOURCE "
			       "DEST\n"
			       "Copies the content of SOURCE (through its backing chain) into a new image "
			       "DEST,\n"
			       "keeping it sparse. VMDK, VDI, VHD, VHDX and QED sources are read through "
			       "qemu-img.\n");
			return 0;
		default: return 2;
		}
	}
	if (argc - optind != 2) {
		log_error("usage: cloison disk convert [-f FMT] [-O raw|qcow2] SOURCE DEST");
		return 2;
	}
	const char *src = argv[optind], *dst = argv[optind + 1];
	if (!dst_fmt) dst_fmt = ends_with(dst, ".qcow2") ? "qcow2" : "raw";
	if (!image_format_native(dst_fmt)) {
		log_error("cannot write '%s' images (supported: raw, qcow2)", dst_fmt);
		return 2;
	}
	if (!access(dst, F_OK)) {
		log_error("'%s' exists: remove it first (convert never overwrites)", dst);
		return 1;
	}
	const char *f = user_format(src, src_fmt);
	if (!f) return 1;
	if (is_foreign(f)) {
		log_error("importing the %s image '%s' through qemu-img", f, src);
		char part[4096], err[1024];
		if (!image_part_begin(dst, part, sizeof(part))) {
			log_error("'%s': path too long", dst);
			return 1;
		}
		char *args[] = {"qemu-img", "convert",       pr.on ? "-p" : "-q", "-f",         (char *)f,
		                "-O",       (char *)dst_fmt, (char *)src,         (char *)part, NULL};
		int rc = run_qemu_img(args);
		if (!rc && image_part_commit(part, dst, err, sizeof(err))) {
			log_error("%s", err);
			rc = 1;
		}
		if (rc) unlink(part);
		return rc;
	}
	if (!image_format_native(f)) {
		log_error("unknown source format '%s'", f);
		return 2;
	}
	char err[1024];
	struct block_backend *s = block_open(src, f, BLOCK_OPEN_READONLY, err, sizeof(err));
	if (!s) {
		log_error("%s", err);
		return 1;
	}
	struct image_create_opts io = {
	    .format = dst_fmt,
	    .prealloc = co.prealloc,
	    .cluster_bits = co.cluster_size ? (unsigned)__builtin_ctzll(co.cluster_size) : 0,
	    .version = co.version,
	    .refcount_order = co.refcount_order,
	};
	int rc = image_convert(s, dst, &io, progress_cb, &pr, err, sizeof(err));
	block_close(s);
	if (rc) {
		log_error("converting '%s' failed: %s", src, err);
		return 1;
	}
	cli_done("converted '%s' to '%s' (%s)", src, dst, dst_fmt);
	return 0;
}

/* ---- resize ---- */

static int disk_resize(int argc, char **argv)
{
	const char *fmt = NULL;
	bool shrink = false;
	static const struct option longopts[] = {
	    {"shrink", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 's': shrink = true; break;
		case 'h': printf("Usage: cloison disk resize [-f FMT] [--shrink] FILE [+|-]SIZE\n"); return 0;
		default: return 2;
		}
	}
	/* getopt stops at "-1G": take it as the size, as qemu-img does */
	if (argc - optind != 2) {
		log_error("usage: cloison disk resize [-f FMT] [--shrink] FILE [+|-]SIZE");
		return 2;
	}
	const char *path = argv[optind], *spec = argv[optind + 1];
	const char *f = user_format(path, fmt);
	if (!f) return 1;
	if (!image_format_native(f)) {
		log_error("cannot resize %s images", f);
		return 1;
	}
	char err[1024];
	struct block_backend *b = block_open(path, f, BLOCK_OPEN_NO_BACKING, err, sizeof(err));
	if (!b) {
		log_error("%s", err);
		return 1;
	}
	uint64_t delta, size;
	int sign = spec[0] == '+' ? 1 : spec[0] == '-' ? -1 : 0;
	if (!parse_disk_size(spec + (sign != 0), &delta)) {
		log_error("bad size '%s'", spec);
		block_close(b);
		return 2;
	}
	size = sign > 0 ? b->size + delta : sign < 0 ? (delta > b->size ? 0 : b->size - delta) : delta;
	size = (size + 511) & ~511ULL;
	int rc = 0;
	if (size == 0) {
		log_error("a disk cannot shrink to nothing");
		rc = 2;
	} else if (size < b->size && !shrink) {
		log_error("shrinking loses the data past the new end: say --shrink if you mean it");
		rc = 2;
	} else if (size < b->size && qcow2_is_backend(b)) {
		log_error("shrinking qcow2 images is not supported");
		rc = 1;
	} else {
		int e = b->drv->resize(b, size);
		if (e) {
			log_error("resizing '%s' failed: %s", path, strerror(-e));
			rc = 1;
		} else {
			cli_done("Image resized.");
		}
	}
	block_close(b);
	return rc;
}

/* ---- rebase ---- */

static int disk_rebase(int argc, char **argv)
{
	const char *fmt = NULL, *backing = NULL, *backing_fmt = NULL;
	bool unsafe = false;
	struct progress pr = {.on = isatty(2) && !cli_quiet, .last_permille = -1};
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "f:b:F:uph", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'b': backing = optarg; break;
		case 'F': backing_fmt = optarg; break;
		case 'u': unsafe = true; break;
		case 'p': pr.on = true; break;
		case 'h':
			printf("Usage: cloison disk rebase [-f qcow2] -b BACKING [-F FMT] [-u] [-p] FILE\n"
			       "Makes BACKING (\"\" for none) the backing file of FILE. Safe mode (default) "
			       "first\n"
			       "copies into FILE whatever would otherwise change; -u only rewrites the "
			       "header.\n");
			return 0;
		default: return 2;
		}
	}
	if (argc - optind != 1 || !backing) {
		log_error("usage: cloison disk rebase [-f qcow2] -b BACKING [-F FMT] [-u] FILE");
		return 2;
	}
	const char *path = argv[optind];
	const char *f = user_format(path, fmt);
	if (!f) return 1;
	if (strcmp(f, "qcow2")) {
		log_error("only qcow2 images have a backing file");
		return 1;
	}
	char bpath[4096] = "";
	if (backing[0] && !image_backing_path(path, backing, bpath, sizeof(bpath))) {
		log_error("backing file path too long");
		return 1;
	}
	if (backing[0] && !backing_fmt && !(backing_fmt = user_format(bpath, NULL))) return 1;
	if (backing[0] && !image_format_native(backing_fmt)) {
		log_error("backing format '%s' is not supported", backing_fmt);
		return 1;
	}
	char err[1024];
	struct block_backend *top =
	    block_open(path, "qcow2", unsafe ? BLOCK_OPEN_NO_BACKING : 0, err, sizeof(err));
	if (!top) {
		log_error("%s", err);
		return 1;
	}
	int rc = 0;
	if (!unsafe) {
		struct block_backend *nb = NULL;
		if (backing[0] &&
		    !(nb = block_open(bpath, backing_fmt, BLOCK_OPEN_READONLY, err, sizeof(err)))) {
			log_error("new backing file: %s", err);
			block_close(top);
			return 1;
		}
		rc = image_rebase(top, nb, progress_cb, &pr);
		block_close(nb);
	}
	if (rc == 0) rc = qcow2_set_backing(top, backing[0] ? backing : NULL, backing_fmt);
	block_close(top);
	if (rc) {
		log_error("rebasing '%s' failed: %s", path, strerror(-rc));
		return 1;
	}
	if (backing[0])
		cli_done("rebased '%s' onto '%s'", path, backing);
	else
		cli_done("'%s' stands alone now (no backing file)", path);
	return 0;
}

/* ---- commit ---- */

static int disk_commit(int argc, char **argv)
{
	const char *fmt = NULL;
	bool keep = false;
	struct progress pr = {.on = isatty(2) && !cli_quiet, .last_permille = -1};
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "f:dph", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'd': keep = true; break;
		case 'p': pr.on = true; break;
		case 'h':
			printf("Usage: cloison disk commit [-f qcow2] [-d] [-p] FILE\n"
			       "Writes FILE's changes into its backing file, then empties FILE (-d: leaves "
			       "it).\n");
			return 0;
		default: return 2;
		}
	}
	if (argc - optind != 1) {
		log_error("usage: cloison disk commit [-f qcow2] [-d] FILE");
		return 2;
	}
	const char *path = argv[optind];
	const char *f = user_format(path, fmt);
	if (!f) return 1;
	char err[1024];
	struct block_backend *top =
	    strcmp(f, "qcow2")
	        ? NULL
	        : block_open(path, "qcow2", BLOCK_OPEN_NO_BACKING | (keep ? BLOCK_OPEN_READONLY : 0), err,
	                     sizeof(err));
	if (!top) {
		if (strcmp(f, "qcow2"))
			log_error("'%s' is %s: only qcow2 overlays can be committed", path, f);
		else
			log_error("%s", err);
		return 1;
	}
	const struct qcow2_header *h = qcow2_header_of(top);
	if (!h->backing_file[0] || !h->backing_format[0]) {
		log_error("'%s' has %s", path,
		          h->backing_file[0] ? "a backing file without a recorded format"
		                             : "no backing file");
		block_close(top);
		return 1;
	}
	char bpath[4096];
	image_backing_path(path, h->backing_file, bpath, sizeof(bpath));
	struct block_backend *base = block_open(bpath, h->backing_format, 0, err, sizeof(err));
	if (!base) {
		log_error("backing file: %s", err);
		block_close(top);
		return 1;
	}
	int rc = image_commit(top, base, keep, progress_cb, &pr);
	block_close(base);
	block_close(top);
	if (rc) {
		log_error("committing '%s' failed: %s", path, strerror(-rc));
		return 1;
	}
	cli_done("Image committed.");
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} subs[] = {
    {"create", disk_create, "create a raw or qcow2 image, or a qcow2 overlay (-b)"},
    {"info", disk_info, "show an image's format, sizes and backing file (--json)"},
    {"check", disk_check, "check a qcow2 image's metadata; -r leaks|all repairs"},
    {"convert", disk_convert, "copy an image into a new raw or qcow2 image"},
    {"resize", disk_resize, "grow (or, raw, shrink) an image"},
    {"rebase", disk_rebase, "change an overlay's backing file"},
    {"commit", disk_commit, "write an overlay's changes into its backing file"},
};

int cmd_disk(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *out = argc < 2 ? stderr : stdout;
		fprintf(out, "Usage: cloison disk COMMAND [OPTIONS]\n\nCommands:\n");
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			fprintf(out, "  %-8s %s\n", subs[i].name, subs[i].summary);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (!strcmp(argv[1], subs[i].name)) {
			optind = 1;
			return subs[i].fn(argc - 1, argv + 1);
		}
	}
	log_error("unknown disk command '%s' (see `cloison disk --help`)", argv[1]);
	return 2;
}
