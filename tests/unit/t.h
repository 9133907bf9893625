/* t.h — the unit-test harness: a test is a function; each check that fails
 * prints "FAIL test: file:line: expr", each test prints "PASS name" or
 * "FAIL name", and tests/run.sh counts those lines across every suite.
 *
 *   static void test_thing(void) { T_ASSERT(1 + 1 == 2); T_STREQ(a, "x"); }
 *   int main(void) { T_RUN(test_thing); return t_done(); }
 */
#ifndef KAUDIT_T_H
#define KAUDIT_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"

static int t_failed_checks;	/* in the current test */
static int t_pass, t_fail;
static const char *t_current;

#define T_ASSERT(expr) do { \
	if (!(expr)) { \
		printf("  check failed in %s: %s:%d: %s\n", t_current, __FILE__, __LINE__, #expr); \
		t_failed_checks++; \
	} \
} while (0)

#define T_STREQ(a, b) do { \
	const char *t_a_ = (a), *t_b_ = (b); \
	if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) { \
		printf("  check failed in %s: %s:%d: %s == %s (\"%s\" vs \"%s\")\n", t_current, \
		    __FILE__, __LINE__, #a, #b, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); \
		t_failed_checks++; \
	} \
} while (0)

#define T_INTEQ(a, b) do { \
	long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	if (t_a_ != t_b_) { \
		printf("  check failed in %s: %s:%d: %s == %s (%lld vs %lld)\n", t_current, \
		    __FILE__, __LINE__, #a, #b, t_a_, t_b_); \
		t_failed_checks++; \
	} \
} while (0)

#define T_RUN(fn) do { \
	t_current = #fn; \
	t_failed_checks = 0; \
	fn(); \
	if (t_failed_checks) { printf("FAIL %s\n", #fn); t_fail++; } \
	else { printf("PASS %s\n", #fn); t_pass++; } \
	fflush(stdout); \
} while (0)

/* A whole fixture file, NUL-terminated (for printing); NULL after saying
 * why when it cannot be read. The caller frees it. */
static inline char *
t_slurp(const char *path, size_t *len)
{
	struct buf b;
	char why[256];

	buf_init(&b);
	*len = 0;
	if (file_read(path, (size_t)1 << 30, &b, why, sizeof(why)) < 0) {
		printf("  %s: %s\n", path, why);
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

/* What fn writes to stderr (the log), as a string the caller frees; NULL
 * when it cannot be read back. */
static inline char *
t_capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/kaudit-logtest.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	size_t len;
	char *text;

	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	text = t_slurp(path, &len);
	unlink(path);
	return text;
}

static inline int
t_done(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail ? 1 : 0;
}

#endif
