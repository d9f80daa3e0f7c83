/*
 * usage.c — the CLI's help and usage-error conventions and its "did you mean"
 * (usage.h).
 */
#include "usage.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool cli_quiet;

void cli_done(const char *fmt, ...)
{
	if (cli_quiet) return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

bool cli_wants_help(int argc, char **argv)
{
	return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

bool cli_help_anywhere(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
	return false;
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "cloison %s: ", verb);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\ntry 'cloison %s --help'\n", verb);
	va_end(ap);
	return 2;
}

/* Damerau-Levenshtein distance (adjacent transpositions count one), for short words. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63) return 64;
	size_t d[64][64];
	for (size_t i = 0; i <= la; i++) d[i][0] = i;
	for (size_t j = 0; j <= lb; j++) d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

int cli_option_error(const char *verb, char **argv, const struct option *longopts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : NULL;
	if (!arg || strncmp(arg, "--", 2)) { /* a short option */
		for (const struct option *o = longopts; o->name; o++)
			if (o->val == optopt && o->has_arg == required_argument)
				return cli_usage_error(verb, "option '-%c' needs a value", optopt);
		return cli_usage_error(verb, "unknown option '-%c'", optopt);
	}
	size_t len = strcspn(arg + 2, "=");
	const char *names[128];
	size_t n = 0;
	for (const struct option *o = longopts; o->name && n < 128; o++) {
		if (strlen(o->name) == len && !strncmp(o->name, arg + 2, len))
			return cli_usage_error(verb, "option '--%s' %s", o->name,
			                       o->has_arg == no_argument ? "takes no value"
			                                                 : "needs a value");
		names[n++] = o->name;
	}
	char word[64];
	snprintf(word, sizeof(word), "%.*s", (int)len, arg + 2);
	const char *near = cli_suggest(word, names, n);
	if (near) return cli_usage_error(verb, "unknown option '%s'; did you mean '--%s'?", arg, near);
	return cli_usage_error(verb, "unknown option '%s'", arg);
}

const char *cli_suggest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = 64, len = strlen(word);
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(word, candidates[i]);
		if (len >= 3 && !strncmp(candidates[i], word, len)) d = 1; /* a prefix of it */
		if (d < best_d) best_d = d, best = candidates[i];
	}
	return best && best_d <= (len + 2) / 3 ? best : NULL;
}
