/*
 * error.h — an error that says what kind it is, not only what happened:
 * the code travels from where the error happens (a name already taken in
 * the database, an instance busy with another operation) to the one place
 * that turns it into an answer (cloisond's HTTP statuses), so no caller
 * has to guess a kind from a message.
 */
#ifndef CLOISON_ERROR_H
#define CLOISON_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum err_code {
	ERR_INTERNAL = 0, /* the host side failed (I/O, memory, a helper process) */
	ERR_INVALID,      /* the request or definition is malformed or out of range */
	ERR_NOT_FOUND,    /* what it names does not exist */
	ERR_METHOD,       /* it exists, but does not take that action */
	ERR_EXISTS,       /* a name or path is taken */
	ERR_BUSY,         /* its state forbids it now (running, in use, an operation under way) */
	ERR_UNREADABLE,   /* a file is not what it claims to be */
	ERR_UNAVAILABLE,  /* cannot be done now on this host: no quorum, a peer unreachable */
};

struct error {
	enum err_code code;
	char msg[512];
};

/* Sets e and returns false, for `return err_set(e, ...)`. */
static inline bool __attribute__((format(printf, 3, 4)))
err_set(struct error *e, enum err_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->code = code;
	return false;
}

/* The code's name as the API reports it ("exists", "busy", ...). */
static inline const char *err_code_name(enum err_code c)
{
	static const char *const names[] = {"internal", "invalid", "not-found",  "method",
	                                    "exists",   "busy",    "unreadable", "unavailable"};
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "internal";
}

#endif
