/*
 * check.h — a minimal unit-test harness: CHECK macros count checks and
 * failures; TEST_MAIN runs the listed tests and prints one summary line.
 * A test binary exits non-zero when any check failed.
 */
#ifndef CLOISON_CHECK_H
#define CLOISON_CHECK_H

#include <inttypes.h>
#include <stdio.h>

static unsigned check_count, check_failures;

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		check_count++;                                                                               \
		if (!(cond)) {                                                                               \
			check_failures++;                                                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
		}                                                                                            \
	} while (0)

#define CHECK_EQ(actual, expected)                                                                           \
	do {                                                                                                 \
		uint64_t a_ = (uint64_t)(actual), e_ = (uint64_t)(expected);                                 \
		check_count++;                                                                               \
		if (a_ != e_) {                                                                              \
			check_failures++;                                                                    \
			fprintf(stderr, "%s:%d: %s == 0x%" PRIx64 ", expected %s == 0x%" PRIx64 "\n",        \
			        __FILE__, __LINE__, #actual, a_, #expected, e_);                             \
		}                                                                                            \
	} while (0)

#define TEST_MAIN(...)                                                                                       \
	int main(void)                                                                                       \
	{                                                                                                    \
		void (*tests[])(void) = {__VA_ARGS__};                                                       \
		for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) tests[i]();                  \
		printf("%u checks, %u failed\n", check_count, check_failures);                               \
		return check_failures ? 1 : check_count ? 0 : 1;                                             \
	}

#endif
