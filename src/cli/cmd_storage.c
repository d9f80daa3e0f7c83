/*
 * cmd_storage.c — `cloison pool …` and `cloison volume …`: cloisond's
 * storage pools (named directories) and the volumes (image files) in them,
 * through the daemon's API. Volumes are named POOL/VOLUME; a copy is an
 * operation whose progress is shown on a terminal.
 *
 * Exit status: 0 done; 1 refused or failed; 2 usage; 3 daemon unreachable.
 */
#include "commands.h"
#include "daemon_client.h"
#include "output.h"
#include "usage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pool_usage(FILE *out, int rc)
{
	fprintf(out, "Usage: cloison pool list [--format table|json|yaml|csv]\n"
	             "   or: cloison pool create NAME DIRECTORY\n"
	             "   or: cloison pool info NAME [--format table|json|yaml|csv]\n"
	             "   or: cloison pool rm NAME          (the pool must hold no volumes)\n"
	             "\n"
	             "A storage pool is a directory of disk images (volumes) cloisond manages; the pool\n"
	             "'default' lives in the daemon's state directory.\n");
	return rc;
}

static int get_print(const char *path, enum out_format fmt)
{
	json_t *j = NULL;
	int st = dc_call("GET", path, NULL, &j);
	if (st == 200) out_document(stdout, j, fmt);
	json_decref(j);
	return dc_rc(st);
}

int cmd_pool(int argc, char **argv)
{
	static const struct out_column cols[] = {{"NAME", "name", OUT_TEXT},
	                                         {"VOLUMES", "volumes", OUT_TEXT},
	                                         {"SIZE", "capacity", OUT_SIZE},
	                                         {"FREE", "available", OUT_SIZE},
	                                         {"PATH", "path", OUT_TEXT}};
	enum out_format fmt;
	if (out_take_format("pool", &argc, argv, &fmt)) return 2;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return pool_usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	char path[256];
	if (!strcmp(verb, "list") && argc == 2) {
		json_t *a = NULL;
		int st = dc_call("GET", "/v1/storage-pools", NULL, &a);
		if (st == 200) out_table(stdout, a, cols, sizeof(cols) / sizeof(cols[0]), fmt);
		json_decref(a);
		return dc_rc(st);
	}
	if (!strcmp(verb, "create") && argc == 4) {
		json_t *body = json_pack("{s:s, s:s}", "name", argv[2], "path", argv[3]), *ans = NULL;
		int st = dc_call("POST", "/v1/storage-pools", body, &ans);
		json_decref(body);
		if (st == 201)
			cli_done("created pool %s at %s", argv[2],
			         json_string_value(json_object_get(ans, "path")));
		json_decref(ans);
		return dc_rc(st);
	}
	if ((!strcmp(verb, "info") || !strcmp(verb, "rm")) && argc == 3 && strlen(argv[2]) < 100) {
		snprintf(path, sizeof(path), "/v1/storage-pools/%s", argv[2]);
		if (verb[0] == 'i') return get_print(path, fmt);
		int st = dc_call("DELETE", path, NULL, NULL);
		if (st < 300 && st) cli_done("removed pool %s", argv[2]);
		return dc_rc(st);
	}
	return cli_usage_error("pool", "unknown verb or wrong arguments: '%s'", verb);
}

static int volume_usage(FILE *out, int rc)
{
	fprintf(out,
	        "Usage: cloison volume list [POOL] [--format table|json|yaml|csv]\n"
	        "   or: cloison volume create POOL/NAME [SIZE] [--backing POOL/VOLUME|/path] "
	        "[--preallocation off|falloc|full]\n"
	        "   or: cloison volume copy SOURCE POOL/NAME   (SOURCE: POOL/VOLUME or /path/to/image)\n"
	        "   or: cloison volume info POOL/NAME [--format table|json|yaml|csv]\n"
	        "   or: cloison volume rm POOL/NAME\n"
	        "\n"
	        "Volumes named *.qcow2 are qcow2 images (dynamic; --backing makes an overlay), any other\n"
	        "name a raw image (sparse unless preallocated). SIZE takes K, M, G, T suffixes. A VM uses\n"
	        "a volume by its path (`cloison volume info` shows it): --disk PATH.\n");
	return rc;
}

/* "POOL/NAME" into an API path (suffix appended); false if it is not one. */
static bool volume_path(const char *ref, char *out, size_t len)
{
	const char *slash = strchr(ref, '/');
	if (!slash || slash == ref || !slash[1] || strchr(slash + 1, '/') || strlen(ref) > 160) return false;
	snprintf(out, len, "/v1/storage-pools/%.*s/volumes/%s", (int)(slash - ref), ref, slash + 1);
	return true;
}

static int list_volumes(const char *pool, enum out_format fmt)
{
	json_t *pools = NULL, *all = json_array();
	int st = 200;
	if (pool) {
		pools = json_pack("[{s:s}]", "name", pool);
	} else if ((st = dc_call("GET", "/v1/storage-pools", NULL, &pools)) != 200) {
		json_decref(pools);
		json_decref(all);
		return dc_rc(st);
	}
	size_t i;
	json_t *p;
	json_array_foreach(pools, i, p)
	{
		char path[256];
		snprintf(path, sizeof(path), "/v1/storage-pools/%.100s/volumes",
		         json_string_value(json_object_get(p, "name")));
		json_t *vols = NULL;
		st = dc_call("GET", path, NULL, &vols);
		if (st == 200) json_array_extend(all, vols);
		json_decref(vols);
		if (st != 200) break;
	}
	json_decref(pools);
	static const struct out_column cols[] = {{"VOLUME", "volume", OUT_TEXT},
	                                         {"FORMAT", "format", OUT_TEXT},
	                                         {"SIZE", "virtual-size", OUT_SIZE},
	                                         {"USED", "actual-size", OUT_SIZE},
	                                         {"USED BY", "used_by", OUT_TEXT}};
	json_t *v;
	if (fmt == OUT_TABLE || fmt == OUT_CSV) json_array_foreach(all, i, v)
		{
			json_object_set_new(v, "volume",
			                    json_sprintf("%s/%s",
			                                 json_string_value(json_object_get(v, "pool")),
			                                 json_string_value(json_object_get(v, "name"))));
		}
	if (st == 200) out_table(stdout, all, cols, sizeof(cols) / sizeof(cols[0]), fmt);
	json_decref(all);
	return dc_rc(st);
}

int cmd_volume(int argc, char **argv)
{
	enum out_format fmt;
	if (out_take_format("volume", &argc, argv, &fmt)) return 2;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return volume_usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	char path[256];
	if (!strcmp(verb, "list") && argc <= 3) return list_volumes(argc == 3 ? argv[2] : NULL, fmt);
	if ((!strcmp(verb, "info") || !strcmp(verb, "rm")) && argc == 3) {
		if (!volume_path(argv[2], path, sizeof(path)))
			return cli_usage_error("volume", "'%s' is not POOL/NAME", argv[2]);
		if (verb[0] == 'i') return get_print(path, fmt);
		int st = dc_call("DELETE", path, NULL, NULL);
		if (st < 300 && st) cli_done("removed volume %s", argv[2]);
		return dc_rc(st);
	}
	bool copy = !strcmp(verb, "copy");
	if ((copy && argc == 4) || (!strcmp(verb, "create") && argc >= 3)) {
		const char *ref = argv[copy ? 3 : 2];
		if (!volume_path(ref, path, sizeof(path)))
			return cli_usage_error("volume", "'%s' is not POOL/NAME", ref);
		*strrchr(path, '/') = 0; /* the collection */
		json_t *body = json_pack("{s:s}", "name", strrchr(ref, '/') + 1);
		if (copy) json_object_set_new(body, "source", json_string(argv[2]));
		for (int i = 3; !copy && i < argc; i++) {
			if ((!strcmp(argv[i], "--backing") || !strcmp(argv[i], "--preallocation")) &&
			    i + 1 < argc) {
				json_object_set_new(body, argv[i][2] == 'b' ? "backing" : "preallocation",
				                    json_string(argv[i + 1]));
				i++;
			} else if (argv[i][0] != '-' && !json_object_get(body, "size")) {
				json_object_set_new(body, "size", json_string(argv[i]));
			} else {
				json_decref(body);
				return cli_usage_error("volume", "unexpected argument '%s'", argv[i]);
			}
		}
		json_t *ans = NULL;
		int st = dc_call("POST", path, body, &ans);
		json_decref(body);
		int rc = dc_rc(st);
		if (st == 202) rc = dc_wait_op(ans, "copying");
		if (st == 202 && !rc) cli_done("copied %s to volume %s", argv[2], ref);
		if (st == 201 && fmt == OUT_TABLE)
			cli_done("created volume %s at %s", ref,
			         json_string_value(json_object_get(ans, "path")));
		else if (st == 201)
			out_document(stdout, ans, fmt);
		json_decref(ans);
		return rc;
	}
	return cli_usage_error("volume", "unknown verb or wrong arguments: '%s'", verb);
}
