/*
 * token_bucket.c — see token_bucket.h.
 */
#include "token_bucket.h"

void token_bucket_init(struct token_bucket *b, double rate, double burst, uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst > 0 ? burst : rate;
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

uint64_t token_bucket_take(struct token_bucket *b, double n, uint64_t now_ns)
{
	if (b->rate <= 0) return 0;
	if (now_ns > b->last_ns) {
		b->tokens += b->rate * (double)(now_ns - b->last_ns) / 1e9;
		if (b->tokens > b->burst) b->tokens = b->burst;
		b->last_ns = now_ns;
	}
	b->tokens -= n;
	if (b->tokens >= 0) return 0;
	return (uint64_t)(-b->tokens / b->rate * 1e9);
}
