/*
 * usage.h — how every verb answers `--help` and a usage error: help on stdout
 * with exit 0 (never contacting cloisond), errors as `cloison VERB: message`
 * then one line saying where help is, exit 2; and "did you mean" for a
 * mistyped verb or option. Also what a verb says when it did something: one
 * line on stdout (`created instance web`), silenced by `-q`.
 */
#ifndef CLOISON_CLI_USAGE_H
#define CLOISON_CLI_USAGE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether argv (argv[0] the verb) asks for help: `--help` or `-h` as its only argument. */
bool cli_wants_help(int argc, char **argv);
/* Whether any argument before `--` is `--help` or `-h` (verb groups: `cloison volume create --help`). */
bool cli_help_anywhere(int argc, char **argv);
/* Prints `cloison VERB: MESSAGE` and `try 'cloison VERB --help'` on stderr; returns 2. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?' (with opterr = 0): a usage error naming the option that was unknown
 * (with the closest known one) or lacked its value. Returns 2. */
struct option;
int cli_option_error(const char *verb, char **argv, const struct option *longopts);
/* The candidate closest to `word` (a typo: at most a third of its letters off, or a prefix), or NULL. */
const char *cli_suggest(const char *word, const char *const *candidates, size_t n);

/* Set by `-q`/`--quiet` anywhere before `--` (main.c strips it): no success lines, no progress. */
extern bool cli_quiet;
/* One line on stdout saying what was done, unless quiet. */
void cli_done(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
