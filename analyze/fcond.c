/* fcond.c — conditions over a finding's fields (see fcond.h): cond.c
 * compiles them against field.c's table of finding fields, and evaluates
 * them with the finding in the evaluation context instead of an event.
 *
 * A condition owns its arena (the tree) and its compiled regexes. Nothing
 * is allocated per evaluation: regexes are shared between threads but
 * their match data cannot be, so each thread that matches one keeps its
 * own, made on first use and freed when the thread ends. */
#include "analyze/fcond.h"
#include "analyze/rules_impl.h"
#include "base/xmalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct finding_cond {
	struct arena	 ar;
	struct node	*root;
	pcre2_code	**re;
	size_t		 nre;
};

static pthread_key_t	md_key;
static pthread_once_t	md_once = PTHREAD_ONCE_INIT;

static void
md_free(void *md)
{
	pcre2_match_data_free(md);
}

static void
md_key_make(void)
{
	if (pthread_key_create(&md_key, md_free) != 0) {
		fprintf(stderr, "kaudit: pthread_key_create failed\n");
		abort();
	}
}

/* This thread's match data (one pair: only whether a regex matches). */
static pcre2_match_data *
md_thread(void)
{
	pcre2_match_data *md;

	(void)pthread_once(&md_once, md_key_make);
	if ((md = pthread_getspecific(md_key)) == NULL) {
		if ((md = pcre2_match_data_create(1, NULL)) == NULL ||
		    pthread_setspecific(md_key, md) != 0) {
			fprintf(stderr, "kaudit: out of memory for regex match data\n");
			abort();
		}
	}
	return md;
}

void
fcond_free(struct finding_cond *fc)
{
	if (fc == NULL)
		return;
	for (size_t i = 0; i < fc->nre; i++)
		pcre2_code_free(fc->re[i]);
	free(fc->re);
	arena_free(&fc->ar);
	free(fc);
}

struct finding_cond *
fcond_compile(const char *text, size_t len, const char *file, int line, const char *what,
    struct buf *errs)
{
	struct finding_cond *fc = xcalloc(1, sizeof(*fc));
	struct cond_ctx cc = { .ar = &fc->ar, .file = file, .line = line, .errs = errs,
	    .regexes = &fc->re, .nregexes = &fc->nre, .finding = 1, .what = what };

	if ((fc->root = cond_compile(&cc, text, len, 0)) == NULL) {
		fcond_free(fc);
		return NULL;
	}
	return fc;
}

int
fcond_eval(const struct finding_cond *fc, const json_t *finding)
{
	const json_t *fel[COND_MAX_DEPTH];
	struct evctx c = { .finding = finding, .fel = fel };

	if (fc == NULL || finding == NULL)
		return 0;
	if (fc->nre)
		c.md = md_thread();
	return cond_eval(fc->root, &c, -1) != 0;
}

int
fcond_field_check(const char *path, char *err, size_t errlen)
{
	struct arena ar = { NULL };
	int rc;

	rc = field_compile_finding(&ar, path, strlen(path), 0, err, errlen) != NULL ? 0 : -1;
	arena_free(&ar);
	return rc;
}
