/*
 * log.h — the one logging facility: leveled messages to stderr, prefixed
 * with the program name. Deep code returns errors; only the top prints.
 */
#ifndef CLOISON_LOG_H
#define CLOISON_LOG_H

/* LOG_NOTICE: what a program says it did or waits for ("cloisond listening on ..."), shown by
 * default without a level name; -q (log_set_level(LOG_WARN)) silences it. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* What messages start with (default: the program's name); the CLI sets "cloison VERB". The string
 * must outlive the program's messages. */
void log_set_program(const char *name);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
