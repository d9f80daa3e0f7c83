/*
 * test_output.c — the CLI's output formats (src/cli/output.c): human sizes,
 * durations and floats, tables without JSON inside, and YAML and CSV that
 * carry the exact values.
 */
#define _GNU_SOURCE
#include "check.h"

#include "cli/output.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* What f printed into a memory stream. */
#define CAPTURE(buf, call)                                                                                   \
	do {                                                                                                 \
		size_t len_;                                                                                 \
		FILE *f = open_memstream(&(buf), &len_);                                                     \
		call;                                                                                        \
		fclose(f);                                                                                   \
	} while (0)

/* Whether text has the line "KEY  VALUE" (the key padded with spaces, at least two). */
static bool has_field(const char *text, const char *key, const char *value)
{
	for (const char *line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t k = strlen(key), v = strlen(value);
		if (strncmp(line, key, k) || line[k] != ' ' || line[k + 1] != ' ') continue;
		const char *p = line + k;
		while (*p == ' ') p++;
		if (!strncmp(p, value, v) && p[v] == '\n') return true;
	}
	return false;
}

static void test_units(void)
{
	char b[64];
	out_size(b, sizeof(b), 134217728);
	CHECK(!strcmp(b, "128 MiB"));
	out_size(b, sizeof(b), 512);
	CHECK(!strcmp(b, "512 B"));
	out_size(b, sizeof(b), 1536);
	CHECK(!strcmp(b, "1.50 KiB"));
	out_size(b, sizeof(b), 208007168);
	CHECK(!strcmp(b, "198 MiB"));
	out_duration(b, sizeof(b), 3.269509346);
	CHECK(!strcmp(b, "3.27 s"));
	out_duration(b, sizeof(b), 8.2199103699999991);
	CHECK(!strcmp(b, "8.22 s"));
	out_duration(b, sizeof(b), 125);
	CHECK(!strcmp(b, "2m05s"));
	out_duration(b, sizeof(b), 3725);
	CHECK(!strcmp(b, "1h02m"));
	out_duration(b, sizeof(b), 3 * 86400 + 4 * 3600 + 10);
	CHECK(!strcmp(b, "3d04h"));
	setenv("TZ", "UTC", 1);
	out_time(b, sizeof(b), 1796189390);
	CHECK(!strcmp(b, "2026-12-02 05:29:50"));
}

static void test_take_format(void)
{
	char *argv[] = {"list", "--format", "yaml", "web", NULL};
	int argc = 4;
	enum out_format f;
	CHECK_EQ(out_take_format("list", &argc, argv, &f), 0);
	CHECK_EQ(f, OUT_YAML);
	CHECK_EQ(argc, 2);
	CHECK(!strcmp(argv[1], "web") && argv[2] == NULL);
	char *argv2[] = {"info", "--format=csv", NULL};
	argc = 2;
	CHECK_EQ(out_take_format("info", &argc, argv2, &f), 0);
	CHECK_EQ(f, OUT_CSV);
	CHECK_EQ(argc, 1);
	char *argv3[] = {"info", "--format", "xml", NULL};
	argc = 3;
	FILE *saved = stderr;
	stderr = fopen("/dev/null", "w");
	CHECK_EQ(out_take_format("info", &argc, argv3, &f), 2);
	fclose(stderr);
	stderr = saved;
}

static const char stats_json[] =
    "{\"name\":\"web\",\"cpu_ns\":2776060677,\"memory_bytes\":208007168,\"started_at\":1796189390,"
    "\"engine\":{\"state\":\"running\",\"uptime_s\":8.2199103699999991,\"ratio\":0.123456789,"
    "\"harts\":[{\"instructions\":3648457331,\"throttled_s\":0.0}],\"disks\":[]},\"tags\":[\"a\",\"b\"]}";

static void test_document(void)
{
	setenv("TZ", "UTC", 1);
	json_t *doc = json_loads(stats_json, 0, NULL);
	CHECK(doc != NULL);
	char *text = NULL;
	CAPTURE(text, out_document(f, doc, OUT_TABLE));
	CHECK(has_field(text, "memory_bytes", "198 MiB"));
	CHECK(has_field(text, "cpu_ns", "2.78 s"));
	CHECK(has_field(text, "started_at", "2026-12-02 05:29:50"));
	CHECK(has_field(text, "engine.uptime_s", "8.22 s"));
	CHECK(has_field(text, "engine.ratio", "0.12"));
	CHECK(has_field(text, "engine.harts.0.instructions", "3648457331"));
	CHECK(has_field(text, "engine.harts.0.throttled_s", "0.00 s"));
	CHECK(has_field(text, "engine.disks", "-"));
	CHECK(has_field(text, "tags", "a, b"));
	CHECK(strstr(text, "name                         web\n") != NULL); /* aligned to the longest key */
	CHECK(strchr(text, '{') == NULL && strchr(text, '"') == NULL);     /* no JSON inside */
	free(text);

	CAPTURE(text, out_document(f, doc, OUT_CSV));
	CHECK(!strncmp(text, "key,value\nname,web\n", 19));
	CHECK(strstr(text, "engine.uptime_s,8.2199103699999991\n") != NULL); /* exact */
	CHECK(strstr(text, "tags,\"[\"\"a\"\",\"\"b\"\"]\"\n") != NULL);     /* quoted */
	free(text);

	CAPTURE(text, out_document(f, doc, OUT_YAML));
	CHECK(strstr(text, "name: \"web\"\n") != NULL);
	CHECK(strstr(text, "engine:\n  state: \"running\"\n  uptime_s: 8.2199103699999991\n") != NULL);
	CHECK(strstr(text, "  harts:\n    - instructions: 3648457331\n      throttled_s: 0.0\n") != NULL);
	CHECK(strstr(text, "  disks: []\n") != NULL);
	CHECK(strstr(text, "tags:\n  - \"a\"\n  - \"b\"\n") != NULL);
	free(text);

	CAPTURE(text, out_document(f, doc, OUT_JSON));
	json_t *back = json_loads(text, 0, NULL);
	CHECK(back && json_equal(back, doc));
	json_decref(back);
	free(text);
	json_decref(doc);
}

static void test_table(void)
{
	json_t *rows =
	    json_loads("[{\"name\":\"web\",\"status\":{\"state\":\"running\",\"pid\":42},\"mem\":134217728},"
	               "{\"name\":\"db, main\",\"status\":{\"state\":\"stopped\",\"pid\":0},\"mem\":1024}]",
	               0, NULL);
	static const struct out_column cols[] = {{"NAME", "name", OUT_TEXT},
	                                         {"STATE", "status.state", OUT_TEXT},
	                                         {"PID", "status.pid", OUT_PID},
	                                         {"MEMORY", "mem", OUT_SIZE}};
	char *text = NULL;
	CAPTURE(text, out_table(f, rows, cols, 4, OUT_TABLE));
	CHECK(!strcmp(text, "NAME      STATE    PID  MEMORY\n"
	                    "web       running  42   128 MiB\n"
	                    "db, main  stopped  -    1 KiB\n"));
	free(text);
	CAPTURE(text, out_table(f, rows, cols, 4, OUT_CSV));
	CHECK(!strcmp(text, "name,status.state,status.pid,mem\n"
	                    "web,running,42,134217728\n"
	                    "\"db, main\",stopped,0,1024\n"));
	free(text);
	CAPTURE(text, out_table(f, rows, cols, 4, OUT_YAML));
	CHECK(!strncmp(
	    text,
	    "- name: \"web\"\n  status:\n    state: \"running\"\n    pid: 42\n  mem: 134217728\n- name:",
	    72));
	free(text);
	CAPTURE(text, out_document(f, rows, OUT_CSV)); /* any list: a column per dotted key */
	CHECK(!strcmp(text, "name,status.state,status.pid,mem\n"
	                    "web,running,42,134217728\n"
	                    "\"db, main\",stopped,0,1024\n"));
	free(text);
	json_decref(rows);
}

TEST_MAIN(test_units, test_take_format, test_document, test_table)
