/*
 * cmd_image.c — `cloison image list|info|import|export|publish|rm`: cloisond's
 * VM images (appliances). `cloison create NAME --image IMAGE` makes a VM from
 * one (cmd_inst.c).
 */
#include "commands.h"
#include "daemon_client.h"
#include "output.h"
#include "usage.h"

#include "util/log.h"
#include "util/parse.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(FILE *out, int rc)
{
	fprintf(
	    out,
	    "Usage: cloison image list [--format table|json|yaml|csv]\n"
	    "   or: cloison image info IMAGE [--format ...]\n"
	    "   or: cloison image import FILE IMAGE [--description D] [--os OS] [--version V]\n"
	    "                            [--append CMDLINE] [--cpus N] [--memory SIZE]\n"
	    "   or: cloison image export IMAGE FILE\n"
	    "   or: cloison image publish INSTANCE IMAGE [--description D] [--os OS] [--version V]\n"
	    "   or: cloison image rm IMAGE\n"
	    "\n"
	    "An image is a disk (qcow2) with a manifest: name, version, OS, default CPUs and memory, how\n"
	    "it boots. import reads a disk (raw, qcow2 without backing file, VMDK, VDI, VHDX) or an\n"
	    "archive export wrote (one tar file: manifest, disk, kernel and initrd when the image has\n"
	    "its own, SHA-256 sums; every member checked). publish turns a stopped VM into an image.\n"
	    "`cloison create web --image IMAGE` makes a VM whose disk is an overlay over the image's.\n"
	    "Paths are on the daemon's host.\n");
	return rc;
}

static int wait_answer(int st, json_t *ans, const char *doing, const char *done, const char *what)
{
	int rc = dc_rc(st);
	if (st == 202) rc = dc_wait_op(ans, doing);
	if (!rc) cli_done("%s %s", done, what);
	json_decref(ans);
	return rc;
}

static bool absolute(const char *path, char *out, size_t len, bool must_exist)
{
	char buf[PATH_MAX];
	if (path[0] == '/') {
		snprintf(out, len, "%s", path);
		return true;
	}
	if (must_exist) {
		if (!realpath(path, buf)) return false;
	} else if (!getcwd(buf, sizeof(buf)) || strlen(buf) + strlen(path) + 2 > sizeof(buf)) {
		return false;
	} else {
		strcat(buf, "/"), strcat(buf, path);
	}
	snprintf(out, len, "%s", buf);
	return true;
}

int cmd_image(int argc, char **argv)
{
	static const struct out_column cols[] = {{"NAME", "name", OUT_TEXT},
	                                         {"VERSION", "version", OUT_TEXT},
	                                         {"OS", "os", OUT_TEXT},
	                                         {"DISK", "disk_size", OUT_SIZE},
	                                         {"STORED", "disk_allocated", OUT_SIZE},
	                                         {"CPUS", "cpus", OUT_TEXT},
	                                         {"MEMORY", "memory", OUT_SIZE},
	                                         {"CREATED", "created_at", OUT_AGE},
	                                         {"DESCRIPTION", "description", OUT_TEXT}};
	enum out_format fmt;
	if (out_take_format("image", &argc, argv, &fmt)) return 2;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	static const struct option longopts[] = {{"description", required_argument, NULL, 'd'},
	                                         {"os", required_argument, NULL, 'o'},
	                                         {"version", required_argument, NULL, 'v'},
	                                         {"append", required_argument, NULL, 'a'},
	                                         {"cpus", required_argument, NULL, 'c'},
	                                         {"memory", required_argument, NULL, 'm'},
	                                         {NULL, 0, NULL, 0}};
	json_t *meta = json_object();
	int c;
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'd': json_object_set_new(meta, "description", json_string(optarg)); break;
		case 'o': json_object_set_new(meta, "os", json_string(optarg)); break;
		case 'v': json_object_set_new(meta, "version", json_string(optarg)); break;
		case 'a': json_object_set_new(meta, "append", json_string(optarg)); break;
		case 'c':
			if (!parse_uint(optarg, 1, 8, &v)) {
				json_decref(meta);
				return cli_usage_error("image", "--cpus takes 1 to 8");
			}
			json_object_set_new(meta, "cpus", json_integer((json_int_t)v));
			break;
		case 'm':
			if (!parse_mem_size(optarg, &v)) {
				json_decref(meta);
				return cli_usage_error("image", "--memory takes a size such as 512M");
			}
			json_object_set_new(meta, "memory", json_integer((json_int_t)v));
			break;
		default: json_decref(meta); return cli_option_error("image", argv, longopts);
		}
	}
	int nargs = argc - optind;
	char **args = argv + optind;
	char path[512], file[PATH_MAX];
	json_t *ans = NULL;
	int rc;
	if (!strcmp(verb, "list") && nargs == 0) {
		int st = dc_call("GET", "/v1/images", NULL, &ans);
		if (st == 200) out_table(stdout, ans, cols, sizeof(cols) / sizeof(cols[0]), fmt);
		rc = dc_rc(st);
		json_decref(ans);
	} else if (!strcmp(verb, "info") && nargs == 1 && strlen(args[0]) < 100) {
		snprintf(path, sizeof(path), "/v1/images/%s", args[0]);
		int st = dc_call("GET", path, NULL, &ans);
		if (st == 200) out_document(stdout, ans, fmt);
		rc = dc_rc(st);
		json_decref(ans);
	} else if (!strcmp(verb, "import") && nargs == 2) {
		if (!absolute(args[0], file, sizeof(file), true)) {
			log_error("%s: no such file", args[0]);
			json_decref(meta);
			return 1;
		}
		json_object_set_new(meta, "source", json_string(file));
		json_object_set_new(meta, "name", json_string(args[1]));
		int st = dc_call("POST", "/v1/images", meta, &ans);
		rc = wait_answer(st, ans, "Importing", "imported image", args[1]);
	} else if (!strcmp(verb, "export") && nargs == 2 && strlen(args[0]) < 100) {
		if (!absolute(args[1], file, sizeof(file), false)) {
			json_decref(meta);
			return cli_usage_error("image", "cannot make '%s' an absolute path", args[1]);
		}
		snprintf(path, sizeof(path), "/v1/images/%s/export", args[0]);
		json_t *body = json_pack("{s:s}", "path", file);
		int st = dc_call("POST", path, body, &ans);
		json_decref(body);
		char what[PATH_MAX + 128];
		snprintf(what, sizeof(what), "%s to %s", args[0], file);
		rc = wait_answer(st, ans, "Exporting", "exported image", what);
	} else if (!strcmp(verb, "publish") && nargs == 2 && strlen(args[0]) < 100) {
		snprintf(path, sizeof(path), "/v1/instances/%s/publish", args[0]);
		json_object_set_new(meta, "image", json_string(args[1]));
		json_object_del(meta, "append"), json_object_del(meta, "cpus"),
		    json_object_del(meta, "memory");
		int st = dc_call("POST", path, meta, &ans);
		rc = wait_answer(st, ans, "Publishing", "published image", args[1]);
	} else if (!strcmp(verb, "rm") && nargs == 1 && strlen(args[0]) < 100) {
		snprintf(path, sizeof(path), "/v1/images/%s", args[0]);
		int st = dc_call("DELETE", path, NULL, NULL);
		if (st && st < 300) cli_done("removed image %s", args[0]);
		rc = dc_rc(st);
	} else {
		rc = cli_usage_error("image", "unknown verb or wrong arguments: '%s'", verb);
	}
	json_decref(meta);
	return rc;
}
