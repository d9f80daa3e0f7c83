/*
 * output.h — how the CLI shows what it read: `--format table|json|yaml|csv` on
 * every list, info and stats verb. Tables and key/value lists are for humans
 * (sizes, durations and dates, floats rounded, no JSON inside); json, yaml and
 * csv carry the exact values.
 */
#ifndef CLOISON_CLI_OUTPUT_H
#define CLOISON_CLI_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum out_format { OUT_TABLE, OUT_JSON, OUT_YAML, OUT_CSV };

/* Takes `--format F` or `--format=F` out of argv (argv[0] the verb, for the error). Returns 0, or 2
 * after a usage error naming the formats. */
int out_take_format(const char *verb, int *argc, char **argv, enum out_format *format);

/* How a table cell reads to a human. */
enum out_kind {
	OUT_TEXT,     /* a string, a number or a boolean (yes/no) as it is; empty: "-" */
	OUT_SIZE,     /* bytes: "128 MiB" */
	OUT_AGE,      /* a Unix time: "2026-12-02 05:30" */
	OUT_DURATION, /* seconds: "3.27 s", "2m05s", "1h02m" */
	OUT_NANOS,    /* nanoseconds, shown as a duration */
	OUT_PID,      /* a process: 0 is "-" */
	OUT_EXIT,     /* an exit status: negative (none yet) is "-" */
};

struct out_column {
	const char *header;
	const char *path; /* "status.state": a dotted path into each row */
	enum out_kind kind;
};

/* An array of objects: a table with these columns (csv: the same columns, exact values; json and
 * yaml: the whole document). */
void out_table(FILE *f, json_t *rows, const struct out_column *cols, size_t ncols, enum out_format format);
/* One document: key/value lines for humans (nested keys dotted, values read by their key's name:
 * *_at dates, *_s and *_ns durations, *bytes and memory sizes), else json, yaml or csv (key,value;
 * an array of objects: one row each, one column per dotted key). */
void out_document(FILE *f, json_t *doc, enum out_format format);

/* The pieces, for the verbs that lay out their own text. */
void out_size(char *buf, size_t n, double bytes);     /* "128 MiB", "1.5 GiB", "512 B" */
void out_duration(char *buf, size_t n, double secs);  /* "3.27 s", "2m05s", "1h02m", "3d04h" */
void out_time(char *buf, size_t n, long long unix_s); /* local "2026-12-02 05:30:12" */
void out_yaml(FILE *f, json_t *doc);
/* A value at a dotted path ("status.state"), or NULL. */
json_t *out_at(json_t *obj, const char *path);

#endif
