/* rulefiles.c — the I/O half of rule loading: expands files and folders
 * into rule sources (a folder's *.yaml and *.yml in name order, not
 * recursive), reads them, and hands them to ruleset_compile(). With no path
 * the pack compiled into the binary is used, so kaudit works from any
 * directory. */
#include "app/rulefiles.h"
#include "base/embed.h"
#include "base/file.h"
#include "base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rules.inc"

#define RULEFILE_MAX_BYTES	(16u << 20)

struct srcvec {
	struct rule_source	*v;
	char			**owned;	/* names and texts to free */
	size_t			 n, cap, nowned;
};

static void
srcvec_own(struct srcvec *sv, char *p)
{
	sv->owned = xrealloc(sv->owned, sizeof(*sv->owned) * (sv->nowned + 1));
	sv->owned[sv->nowned++] = p;
}

static int
read_file(const char *path, struct srcvec *sv, struct buf *errs)
{
	struct buf text;
	char why[256];

	buf_init(&text);
	if (file_read(path, RULEFILE_MAX_BYTES, &text, why, sizeof(why)) < 0) {
		buf_printf(errs, "%s:0: %s\n", path, why);
		buf_free(&text);
		return -1;
	}
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = xrealloc(sv->v, sizeof(*sv->v) * sv->cap);
	}
	srcvec_own(sv, text.data);
	srcvec_own(sv, xstrdup(path));
	sv->v[sv->n++] = (struct rule_source){ sv->owned[sv->nowned - 1], text.data, text.len };
	return 0;
}

static int
yaml_name(const struct dirent *d)
{
	return file_is_yaml(d->d_name);
}

static int
read_dir(const char *path, struct srcvec *sv, struct buf *errs)
{
	struct dirent **ents = NULL;
	int n = scandir(path, &ents, yaml_name, alphasort), rc = 0;

	if (n < 0) {
		buf_printf(errs, "%s:0: cannot read folder: %s\n", path, strerror(errno));
		return -1;
	}
	if (n == 0) {
		buf_printf(errs, "%s:0: no *.yaml or *.yml rule files in this folder\n", path);
		rc = -1;
	}
	for (int i = 0; i < n; i++) {
		char *full = xasprintf("%s/%s", path, ents[i]->d_name);
		if (read_file(full, sv, errs) < 0)
			rc = -1;
		free(full);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

struct ruleset *
rulefiles_load(const char *const *paths, size_t npaths,
    const struct rules_options *o, struct buf *errs)
{
	struct srcvec sv = { NULL, NULL, 0, 0, 0 };
	struct ruleset *rs = NULL;
	int bad = 0;

	if (npaths == 0) {
		struct rule_source *src = xcalloc(embedded_rules_count + 1, sizeof(*src));
		for (size_t i = 0; i < embedded_rules_count; i++)
			src[i] = (struct rule_source){ embedded_rules[i].name,
			    embedded_rules[i].text, embedded_rules[i].len };
		rs = ruleset_compile(src, embedded_rules_count, o, errs);
		free(src);
		return rs;
	}
	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		if (stat(paths[i], &st) < 0) {
			buf_printf(errs, "%s:0: cannot read: %s\n", paths[i], strerror(errno));
			bad = 1;
		} else if (S_ISDIR(st.st_mode)) {
			bad |= read_dir(paths[i], &sv, errs) < 0;
		} else {
			bad |= read_file(paths[i], &sv, errs) < 0;
		}
	}
	if (!bad && (rs = ruleset_compile(sv.v, sv.n, o, errs)) != NULL) {
		size_t nw;
		const char *w = ruleset_warnings(rs, &nw);
		if (nw > 0)
			fputs(w, stderr);	/* every command that loads rules shows them */
	}
	for (size_t i = 0; i < sv.nowned; i++)
		free(sv.owned[i]);
	free(sv.owned);
	free(sv.v);
	return rs;
}
