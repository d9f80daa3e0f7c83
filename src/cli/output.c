/*
 * output.c — tables, key/value lists, YAML and CSV for the CLI (output.h).
 */
#define _GNU_SOURCE
#include "output.h"

#include "usage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int out_take_format(const char *verb, int *argc, char **argv, enum out_format *format)
{
	static const char *const names[] = {"table", "json", "yaml", "csv"};
	*format = OUT_TABLE;
	for (int i = 1; i < *argc && strcmp(argv[i], "--"); i++) {
		const char *value;
		int used;
		if (!strcmp(argv[i], "--format")) {
			if (i + 1 >= *argc) return cli_usage_error(verb, "option '--format' needs a value");
			value = argv[i + 1], used = 2;
		} else if (!strncmp(argv[i], "--format=", 9)) {
			value = argv[i] + 9, used = 1;
		} else {
			continue;
		}
		size_t k = 0;
		while (k < 4 && strcmp(value, names[k])) k++;
		if (k == 4)
			return cli_usage_error(verb, "unknown format '%s' (table, json, yaml or csv)", value);
		*format = (enum out_format)k;
		memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof(char *));
		*argc -= used;
		i--;
	}
	return 0;
}

json_t *out_at(json_t *obj, const char *path)
{
	char key[128];
	while (obj && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key)) return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		obj = json_object_get(obj, key);
		path += n + (dot != NULL);
	}
	return obj;
}

/* ---- human values ---- */

void out_size(char *buf, size_t n, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;
	while (fabs(bytes) >= 1024 && u < 5) bytes /= 1024, u++;
	if (u == 0 || bytes == floor(bytes))
		snprintf(buf, n, "%.0f %s", bytes, units[u]);
	else
		snprintf(buf, n,
		         bytes < 10    ? "%.2f %s"
		         : bytes < 100 ? "%.1f %s"
		                       : "%.0f %s",
		         bytes, units[u]);
}

void out_duration(char *buf, size_t n, double s)
{
	if (s < 0) s = 0;
	unsigned long long t = (unsigned long long)llround(s);
	if (s < 10)
		snprintf(buf, n, "%.2f s", s);
	else if (s < 60)
		snprintf(buf, n, "%.1f s", s);
	else if (t < 3600)
		snprintf(buf, n, "%llum%02llus", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, n, "%lluh%02llum", t / 3600, t / 60 % 60);
	else
		snprintf(buf, n, "%llud%02lluh", t / 86400, t / 3600 % 24);
}

void out_time(char *buf, size_t n, long long unix_s)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, n, "%lld", unix_s);
}

static double number(json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* A float for humans: three significant digits or so, never binary noise. */
static void rounded(char *buf, size_t n, double x)
{
	double a = fabs(x);
	snprintf(buf, n,
	         a >= 100 || a == floor(a) ? "%.0f"
	         : a >= 10                 ? "%.1f"
	         : a >= 0.01               ? "%.2f"
	                                   : "%.3g",
	         x);
}

/* The exact text of a scalar (csv, and strings everywhere). */
static void exact(char *buf, size_t n, json_t *v)
{
	if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		snprintf(buf, n, "%.17g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
	} else if (!v || json_is_null(v)) {
		buf[0] = 0;
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, n, "%s", t ? t : "");
		free(t);
	}
}

static void cell(char *buf, size_t n, json_t *v, enum out_kind kind)
{
	bool num = json_is_number(v);
	if (json_is_array(v) && json_array_size(v)) { /* scalars, comma separated */
		size_t i, len = 0;
		json_t *c;
		buf[0] = 0;
		json_array_foreach(v, i, c)
		{
			char one[256];
			cell(one, sizeof(one), c, kind);
			int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "", one);
			if (w < 0 || (size_t)w >= n - len) break;
			len += (size_t)w;
		}
	} else if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
	           json_is_array(v) || (json_is_object(v) && !json_object_size(v))) {
		snprintf(buf, n, "-");
	} else if (json_is_boolean(v)) {
		snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
	} else if (kind == OUT_SIZE && num) {
		out_size(buf, n, number(v));
	} else if ((kind == OUT_DURATION || kind == OUT_NANOS) && num) {
		out_duration(buf, n, kind == OUT_NANOS ? number(v) / 1e9 : number(v));
	} else if (kind == OUT_AGE && num) {
		if (number(v) <= 0)
			snprintf(buf, n, "-");
		else
			out_time(buf, n, (long long)number(v));
	} else if ((kind == OUT_PID && num && number(v) <= 0) || (kind == OUT_EXIT && num && number(v) < 0)) {
		snprintf(buf, n, "-");
	} else if (json_is_real(v)) {
		rounded(buf, n, json_real_value(v));
	} else {
		exact(buf, n, v);
	}
}

/* How a value reads by its key's name ("started_at", "uptime_s", "cpu_ns", "memory_bytes"). */
static enum out_kind kind_of(const char *key)
{
	const char *last = strrchr(key, '.');
	last = last ? last + 1 : key;
	if (ends_with(last, "_at")) return OUT_AGE;
	if (ends_with(last, "_s")) return OUT_DURATION;
	if (ends_with(last, "_ns")) return OUT_NANOS;
	if (ends_with(last, "bytes") || !strcmp(last, "memory") || !strcmp(last, "size") ||
	    ends_with(last, "_size") || ends_with(last, "-size") || !strcmp(last, "used") ||
	    !strcmp(last, "free") || !strcmp(last, "capacity") || !strcmp(last, "available"))
		return OUT_SIZE;
	if (!strcmp(last, "pid")) return OUT_PID;
	return OUT_TEXT;
}

/* ---- csv ---- */

static void csv_field(FILE *f, const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n") || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '))) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"') fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(last ? "\n" : ",", f);
}

/* ---- yaml ---- */

static bool plain_key(const char *k)
{
	if (!*k) return false;
	for (; *k; k++)
		if (!(('a' <= *k && *k <= 'z') || ('A' <= *k && *k <= 'Z') || ('0' <= *k && *k <= '9') ||
		      *k == '_' || *k == '-' || *k == '.'))
			return false;
	return true;
}

static void yaml_scalar(FILE *f, json_t *v)
{
	if (json_is_real(v)) {
		char buf[40];
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		fprintf(f, "%s%s", buf, strpbrk(buf, ".eEn") ? "" : ".0");
		return;
	}
	/* JSON's scalars (strings double-quoted with JSON escapes) are YAML's flow scalars. */
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	fputs(t ? t : "null", f);
	free(t);
}

static bool yaml_block(json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

/* Emits v at indent; `inline_first`: the first line's indentation was already written ("- "). */
static void yaml_node(FILE *f, json_t *v, int indent, bool inline_first)
{
	bool first = true;
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach(v, k, c)
		{
			if (!(first && inline_first)) fprintf(f, "%*s", indent, "");
			first = false;
			if (plain_key(k)) {
				fputs(k, f);
			} else {
				json_t *ks = json_string(k);
				yaml_scalar(f, ks);
				json_decref(ks);
			}
			fputc(':', f);
			if (yaml_block(c)) {
				fputc('\n', f);
				yaml_node(f, c, indent + 2, false);
			} else {
				fputc(' ', f);
				yaml_scalar(f, c);
				fputc('\n', f);
			}
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c)
		{
			if (!(first && inline_first)) fprintf(f, "%*s", indent, "");
			first = false;
			fputs("- ", f);
			if (yaml_block(c)) {
				yaml_node(f, c, indent + 2, true);
			} else {
				yaml_scalar(f, c);
				fputc('\n', f);
			}
		}
	}
}

void out_yaml(FILE *f, json_t *doc)
{
	if (yaml_block(doc)) {
		yaml_node(f, doc, 0, false);
	} else {
		yaml_scalar(f, doc);
		fputc('\n', f);
	}
}

static void print_json(FILE *f, json_t *doc)
{
	char *t = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (t) fprintf(f, "%s\n", t);
	free(t);
}

/* ---- tables ---- */

static void table_cell(FILE *f, const char *text, size_t width, bool last)
{
	if (last)
		fprintf(f, "%s\n", text);
	else
		fprintf(f, "%-*s  ", (int)width, text);
}

void out_table(FILE *f, json_t *rows, const struct out_column *cols, size_t ncols, enum out_format format)
{
	if (format == OUT_JSON) return print_json(f, rows);
	if (format == OUT_YAML) return out_yaml(f, rows);
	size_t nrows = json_array_size(rows);
	char buf[512];
	if (format == OUT_CSV) {
		for (size_t c = 0; c < ncols; c++) csv_field(f, cols[c].path, c + 1 == ncols);
		for (size_t r = 0; r < nrows; r++)
			for (size_t c = 0; c < ncols; c++) {
				exact(buf, sizeof(buf), out_at(json_array_get(rows, r), cols[c].path));
				csv_field(f, buf, c + 1 == ncols);
			}
		return;
	}
	char **text = calloc(nrows * ncols + 1, sizeof(char *));
	size_t *width = calloc(ncols + 1, sizeof(size_t));
	if (!text || !width) {
		free(text), free(width);
		return;
	}
	for (size_t c = 0; c < ncols; c++) width[c] = strlen(cols[c].header);
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			cell(buf, sizeof(buf), out_at(json_array_get(rows, r), cols[c].path), cols[c].kind);
			text[r * ncols + c] = strdup(buf);
			size_t w = text[r * ncols + c] ? strlen(buf) : 0;
			if (w > width[c]) width[c] = w;
		}
	for (size_t c = 0; c < ncols; c++) table_cell(f, cols[c].header, width[c], c + 1 == ncols);
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			table_cell(f, text[r * ncols + c] ? text[r * ncols + c] : "", width[c],
			           c + 1 == ncols);
			free(text[r * ncols + c]);
		}
	free(text), free(width);
}

/* ---- documents ---- */

typedef void (*field_fn)(void *ctx, const char *key, json_t *value);

/* Calls fn for every scalar of v, with its dotted key ("engine.harts.0.instructions"); an empty object
 * or array is one field. */
static void flatten(json_t *v, char *key, size_t len, size_t cap, field_fn fn, void *ctx)
{
	if (!yaml_block(v)) {
		fn(ctx, key, v);
		return;
	}
	if (json_is_array(v) && !yaml_block(json_array_get(v, 0))) { /* scalars: one line */
		fn(ctx, key, v);
		return;
	}
	const char *k;
	json_t *c;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, k, c)
		{
			int n = snprintf(key + len, cap - len, "%s%s", len ? "." : "", k);
			if (n > 0 && (size_t)n < cap - len) flatten(c, key, len + (size_t)n, cap, fn, ctx);
			key[len] = 0;
		}
	} else {
		json_array_foreach(v, i, c)
		{
			int n = snprintf(key + len, cap - len, "%s%zu", len ? "." : "", i);
			if (n > 0 && (size_t)n < cap - len) flatten(c, key, len + (size_t)n, cap, fn, ctx);
			key[len] = 0;
		}
	}
}

struct fields {
	FILE *f;
	enum out_format format;
	size_t width; /* of the longest key, for alignment */
};

static void measure_field(void *ctx, const char *key, json_t *v)
{
	(void)v;
	struct fields *fs = ctx;
	if (strlen(key) > fs->width) fs->width = strlen(key);
}

static void print_field(void *ctx, const char *key, json_t *v)
{
	struct fields *fs = ctx;
	char buf[1024];
	if (fs->format == OUT_CSV) {
		exact(buf, sizeof(buf), v);
		csv_field(fs->f, key, false);
		csv_field(fs->f, buf, true);
		return;
	}
	cell(buf, sizeof(buf), v, kind_of(key));
	fprintf(fs->f, "%-*s  %s\n", (int)fs->width, key, buf);
}

static void collect_key(void *ctx, const char *key, json_t *v)
{
	(void)v;
	if (!json_object_get(ctx, key)) json_object_set_new(ctx, key, json_null());
}

struct csv_row {
	FILE *f;
	json_t *keys; /* the columns, in order */
	json_t *cells;
};

static void collect_cell(void *ctx, const char *key, json_t *v)
{
	json_object_set(((struct csv_row *)ctx)->cells, key, v);
}

/* An array of objects as CSV: one column per flattened key any row has. */
static void csv_rows(FILE *f, json_t *rows)
{
	char key[256] = "", buf[1024];
	json_t *keys = json_object(), *row, *ignored;
	size_t i;
	const char *k;
	json_array_foreach(rows, i, row) flatten(row, key, 0, sizeof(key), collect_key, keys);
	size_t nkeys = json_object_size(keys), c = 0;
	json_object_foreach(keys, k, ignored) csv_field(f, k, ++c == nkeys);
	json_array_foreach(rows, i, row)
	{
		struct csv_row r = {f, keys, json_object()};
		flatten(row, key, 0, sizeof(key), collect_cell, &r);
		c = 0;
		json_object_foreach(keys, k, ignored)
		{
			exact(buf, sizeof(buf), json_object_get(r.cells, k));
			csv_field(f, buf, ++c == nkeys);
		}
		json_decref(r.cells);
	}
	json_decref(keys);
}

void out_document(FILE *f, json_t *doc, enum out_format format)
{
	if (format == OUT_JSON) return print_json(f, doc);
	if (format == OUT_YAML) return out_yaml(f, doc);
	if (format == OUT_CSV && json_is_array(doc) && json_is_object(json_array_get(doc, 0)))
		return csv_rows(f, doc);
	char key[256] = "";
	struct fields fs = {f, format, 0};
	if (format == OUT_CSV) csv_field(f, "key", false), csv_field(f, "value", true);
	flatten(doc, key, 0, sizeof(key), measure_field, &fs);
	flatten(doc, key, 0, sizeof(key), print_field, &fs);
}
