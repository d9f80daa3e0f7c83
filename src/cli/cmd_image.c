/*
 * cmd_image.c — `cloison image list|info|build|import|export|publish|rm`: cloisond's
 * VM images (appliances). `cloison create NAME --image IMAGE` makes a VM from
 * one (cmd_inst.c). build runs a recipe (tools/image/RECIPE.sh, a script that
 * prints the image archive it made or found in its cache) and imports the result.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "daemon_client.h"
#include "output.h"
#include "usage.h"

#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static int usage(FILE *out, int rc)
{
	fprintf(
	    out,
	    "Usage: cloison image list [--format table|json|yaml|csv]\n"
	    "   or: cloison image info IMAGE [--format ...]\n"
	    "   or: cloison image build debian [IMAGE] [--suite trixie] [--archive-only]\n"
	    "   or: cloison image import SOURCE IMAGE [--description D] [--os OS] [--version V]\n"
	    "                            [--append CMDLINE] [--cpus N] [--memory SIZE] [--tag REF]\n"
	    "   or: cloison image export IMAGE FILE\n"
	    "   or: cloison image publish INSTANCE IMAGE [--description D] [--os OS] [--version V]\n"
	    "   or: cloison image rm IMAGE\n"
	    "\n"
	    "An image is a disk (qcow2) with a manifest: name, version, OS, default CPUs and memory, how\n"
	    "it boots. import reads a disk (raw, qcow2 without backing file, VMDK, VDI, VHDX), an OVA or\n"
	    "OVF appliance, or an archive export wrote (one tar file: manifest, disk, kernel and initrd\n"
	    "when the image has its own, SHA-256 sums; every member checked). A container image is a\n"
	    "root filesystem instead: import reads a rootfs tarball (.tar, .tar.gz, .tar.xz, ...) or an\n"
	    "OCI image layout, a directory or its tar (`skopeo copy ... oci:DIR:REF`; --tag REF picks\n"
	    "one image of several). publish turns a stopped VM or container into an image.\n"
	    "build makes a Debian system image from Debian's archive (debootstrap here, its second\n"
	    "stage in a cloison VM; root, minutes; cached by recipe under ~/.cache/cloison/images) and\n"
	    "imports it as IMAGE (default debian-13); --archive-only prints the archive's path instead.\n"
	    "`cloison create web --image IMAGE` makes a VM whose disk is an overlay over the image's.\n"
	    "Paths are on the daemon's host.\n");
	return rc;
}

/* The directory holding image/RECIPE.sh: $CLOISON_TOOLS, the source tree, the installed copy. */
static bool recipe_path(const char *recipe, char *out, size_t len)
{
	const char *dirs[] = {getenv("CLOISON_TOOLS"), CLOISON_SOURCE_TOOLS, CLOISON_INSTALLED_TOOLS};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !dirs[i][0]) continue;
		snprintf(out, len, "%s/image/%s.sh", dirs[i], recipe);
		if (access(out, R_OK) == 0) return true;
	}
	return false;
}

/* Runs the recipe (its progress on stderr) and reads the archive path it prints last. */
static int run_recipe(const char *script, const char *suite, char *archive, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		log_error("cannot find the cloison binary: %s", strerror(errno));
		return 1;
	}
	self[n] = 0;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC)) return log_error("pipe: %s", strerror(errno)), 1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	char *argv[] = {"bash", (char *)script, self, (char *)suite, NULL};
	pid_t pid;
	int err = posix_spawnp(&pid, "bash", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (err) {
		close(fds[0]);
		log_error("cannot run %s: %s", script, strerror(err));
		return 1;
	}
	FILE *f = fdopen(fds[0], "r");
	char line[PATH_MAX];
	archive[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0]) snprintf(archive, len, "%s", line);
	}
	if (f)
		fclose(f);
	else
		close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || archive[0] != '/') {
		log_error("the %s recipe failed", script);
		return 1;
	}
	return 0;
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
	static const struct out_column cols[] = {
	    {"NAME", "name", OUT_TEXT},         {"TYPE", "type", OUT_TEXT},
	    {"VERSION", "version", OUT_TEXT},   {"OS", "os", OUT_TEXT},
	    {"DISK", "disk_size", OUT_SIZE},    {"STORED", "disk_allocated", OUT_SIZE},
	    {"CPUS", "cpus", OUT_TEXT},         {"MEMORY", "memory", OUT_SIZE},
	    {"CREATED", "created_at", OUT_AGE}, {"DESCRIPTION", "description", OUT_TEXT}};
	enum out_format fmt;
	if (out_take_format("image", &argc, argv, &fmt)) return 2;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	static const struct option longopts[] = {
	    {"description", required_argument, NULL, 'd'}, {"os", required_argument, NULL, 'o'},
	    {"version", required_argument, NULL, 'v'},     {"append", required_argument, NULL, 'a'},
	    {"cpus", required_argument, NULL, 'c'},        {"memory", required_argument, NULL, 'm'},
	    {"suite", required_argument, NULL, 's'},       {"archive-only", no_argument, NULL, 'A'},
	    {"tag", required_argument, NULL, 't'},         {NULL, 0, NULL, 0}};
	const char *suite = "trixie";
	bool archive_only = false;
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
		case 's': suite = optarg; break;
		case 'A': archive_only = true; break;
		case 't': json_object_set_new(meta, "tag", json_string(optarg)); break;
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
	} else if (!strcmp(verb, "build") && (nargs == 1 || nargs == 2)) {
		char script[PATH_MAX], archive[PATH_MAX];
		if (strcmp(args[0], "debian") || !recipe_path(args[0], script, sizeof(script))) {
			json_decref(meta);
			return cli_usage_error("image", "no recipe '%s' (there is: debian)", args[0]);
		}
		rc = run_recipe(script, suite, archive, sizeof(archive));
		if (!rc && archive_only) {
			printf("%s\n", archive);
		} else if (!rc) {
			const char *name = nargs == 2 ? args[1] : "debian-13";
			json_object_set_new(meta, "source", json_string(archive));
			json_object_set_new(meta, "name", json_string(name));
			int st = dc_call("POST", "/v1/images", meta, &ans);
			rc = wait_answer(st, ans, "Importing", "built and imported image", name);
		}
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
