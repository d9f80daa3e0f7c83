/*
 * token_bucket.h — rate limiting for I/O: a bucket fills at `rate` tokens
 * per second up to `burst`; taking more than it holds runs into debt and
 * says how long to wait for the debt to be repaid. Used for disk bytes/s
 * and operations/s limits (and later network bandwidth). Not thread-safe:
 * one bucket belongs to one thread.
 */
#ifndef CLOISON_TOKEN_BUCKET_H
#define CLOISON_TOKEN_BUCKET_H

#include <stdint.h>

struct token_bucket {
	double rate;  /* tokens per second; 0: unlimited */
	double burst; /* the most tokens it holds */
	double tokens;
	uint64_t last_ns;
};

/* A full bucket. burst 0 means one second's worth. */
void token_bucket_init(struct token_bucket *b, double rate, double burst, uint64_t now_ns);
/* Takes n tokens at time now_ns; returns 0 when they were there, else the nanoseconds to wait before
 * the operation may proceed (the bucket is then in debt by that much). */
uint64_t token_bucket_take(struct token_bucket *b, double n, uint64_t now_ns);

#endif
