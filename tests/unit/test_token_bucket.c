/*
 * test_token_bucket.c — the rate limiter on a fake clock: bursts pass, a
 * sustained stream is held to the rate, debt is repaid before more passes,
 * an idle bucket refills only up to its burst, rate 0 never waits.
 */
#include "check.h"
#include "util/token_bucket.h"

#define MS 1000000ULL

static void test_rate_and_burst(void)
{
	struct token_bucket b;
	token_bucket_init(&b, 1000, 100, 0);                   /* 1000/s, burst 100 */
	CHECK_EQ(token_bucket_take(&b, 100, 0), 0);            /* the burst passes at once */
	CHECK_EQ(token_bucket_take(&b, 50, 0), 50 * MS);       /* then 50 tokens cost 50 ms */
	CHECK_EQ(token_bucket_take(&b, 10, 50 * MS), 10 * MS); /* debt repaid at 50 ms, 10 more wait */
	/* A sustained stream: 10 s of 100-token takes, each issued when allowed, averages the rate. */
	uint64_t now = 60 * MS, taken = 0;
	while (now < 10060 * MS) {
		now += token_bucket_take(&b, 100, now);
		taken += 100;
	}
	CHECK(taken >= 9900 && taken <= 10200);
}

static void test_idle_refill_is_capped(void)
{
	struct token_bucket b;
	token_bucket_init(&b, 10, 5, 0);
	CHECK_EQ(token_bucket_take(&b, 5, 0), 0);
	/* an hour idle refills 5 tokens, not 36000 */
	CHECK_EQ(token_bucket_take(&b, 5, 3600000 * MS), 0);
	CHECK(token_bucket_take(&b, 1, 3600000 * MS) > 0);
}

static void test_unlimited_and_default_burst(void)
{
	struct token_bucket b;
	token_bucket_init(&b, 0, 0, 0);
	CHECK_EQ(token_bucket_take(&b, 1e12, 0), 0);
	token_bucket_init(&b, 200, 0, 0); /* burst defaults to one second */
	CHECK_EQ(token_bucket_take(&b, 200, 0), 0);
	CHECK_EQ(token_bucket_take(&b, 200, 0), 1000 * MS);
}

TEST_MAIN(test_rate_and_burst, test_idle_refill_is_capped, test_unlimited_and_default_burst)
