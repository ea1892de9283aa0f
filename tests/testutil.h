/* testutil.h - minimal unit-test helpers: CHECK prints "ok"/"not ok" lines
 * that tests/run.sh counts; test_done() returns the exit status. */
#ifndef LLM_TESTUTIL_H
#define LLM_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures;

#define CHECK(cond, name, ...)                                          \
	do {                                                            \
		if (cond) {                                             \
			printf("ok %s\n", name);                        \
		} else {                                                \
			printf("not ok %s: ", name);                    \
			printf(__VA_ARGS__);                            \
			printf(" (%s:%d)\n", __FILE__, __LINE__);       \
			test_failures++;                                \
		}                                                       \
	} while (0)

#define SKIP(name, why) printf("skip %s: %s\n", name, why)

static inline int test_done(void) { return test_failures ? 1 : 0; }

/* Deterministic test data: xorshift64 uniform in [0, 1) from the state at
 * *s (nonzero), and a standard normal from two of them (Box-Muller). */
static inline double test_urand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}
static inline float test_grand(uint64_t *s)
{
	double u = test_urand(s), v = test_urand(s);
	return (float)(sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v));
}

/* ../shared relative to the repository root (tests run from there). */
static inline const char *test_shared(void)
{
	const char *s = getenv("LLM_SHARED");
	return s ? s : "../shared";
}

#endif
