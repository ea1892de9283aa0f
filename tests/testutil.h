/* testutil.h - minimal unit-test helpers: CHECK prints "ok"/"not ok" lines
 * that tests/run.sh counts; test_done() returns the exit status. */
#ifndef LLM_TESTUTIL_H
#define LLM_TESTUTIL_H

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

/* ../shared relative to the repository root (tests run from there). */
static inline const char *test_shared(void)
{
	const char *s = getenv("LLM_SHARED");
	return s ? s : "../shared";
}

#endif
