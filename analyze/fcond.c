/* fcond.c — conditions over a finding's fields (see fcond.h): cond.c
 * compiles them against field.c's table of finding fields, and evaluates
 * them with the finding in the evaluation context instead of an event.
 *
 * A condition owns its arena (the tree) and its compiled regexes. Nothing
 * is allocated per evaluation, except match data for a condition that has
 * a regex (its regexes are shared between threads, match data cannot be). */
#include "analyze/fcond.h"
#include "analyze/rules_impl.h"
#include "base/xmalloc.h"

#include <stdlib.h>

struct finding_cond {
	struct arena	 ar;
	struct node	*root;
	pcre2_code	**re;
	size_t		 nre;
};

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
	int r;

	if (finding == NULL)
		return 0;
	if (fc->nre)
		c.md = pcre2_match_data_create(1, NULL);
	r = cond_eval(fc->root, &c, -1) != 0;
	if (c.md)
		pcre2_match_data_free(c.md);
	return r;
}
