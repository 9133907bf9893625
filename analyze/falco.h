/* falco.h — Falco rules files read as they are: the loader (falco.c), the
 * condition language of Falco's libs (falcocond.c) and the fields of the
 * k8saudit and json plugins (falcofield.c). Private to analyze/.
 *
 * A Falco rule compiles to a struct rule like any other; its condition is
 * one N_FALCO node holding a tree of the kind below, evaluated with
 * Falco's semantics (every field a string or a list of strings, a missing
 * field fails every comparison), and its output renders Falco's %fields. */
#ifndef KAUDIT_FALCO_H
#define KAUDIT_FALCO_H

#include "analyze/compile.h"

/* --- fields (falcofield.c) -------------------------------------------------- */

struct fdef;

struct ffield {
	const struct fdef *def;
	const char	*name;		/* as written, with its [argument] */
	const char	*arg;		/* the argument, NULL when none */
	size_t		 argn;
	long		 index;		/* an [N] index of a list field, -1: none */
	const char	**ptr;		/* jevt.value: the pointer's tokens, decoded */
	size_t		 nptr;
};

/* Parses the field at s[0..n): its name is the longest one of the table
 * that s starts with (Falco's rule), then an optional [argument]. For
 * conditions (whole = 1) the name must be all of the word. Sets *used;
 * NULL with a message in err. */
struct ffield *ffield_parse(struct arena *a, const char *s, size_t n, int whole,
	    size_t *used, char *err, size_t errlen);
/* 1 for a field whose value is a list (string (list) in the READMEs). */
int	ffield_is_list(const struct ffield *f);
/* The field's values for the event of c into c->s->fvals. Returns their
 * number, or -1 when the field is not available (Falco: the extraction
 * failed, or a list came out empty). */
long	ffield_extract(const struct ffield *f, struct evctx *c);
/* Appends the value as Falco's output prints it: a string as it is, a
 * list as (a,b), <NA> when not available. */
void	ffield_render(const struct ffield *f, struct evctx *c, struct buf *out, size_t cap);

/* --- conditions (falcocond.c) ---------------------------------------------------- */

enum fop {
	FO_EQ, FO_NE, FO_LT, FO_LE, FO_GT, FO_GE, FO_CONTAINS, FO_ICONTAINS,
	FO_BCONTAINS, FO_STARTSWITH, FO_BSTARTSWITH, FO_ENDSWITH, FO_GLOB, FO_IGLOB,
	FO_PMATCH, FO_IN, FO_INTERSECTS, FO_EXISTS, FO_REGEX,
};

enum fkind { FK_AND, FK_OR, FK_NOT, FK_CMP };

struct fexpr {
	enum fkind	 kind;
	struct fexpr	**kid;
	size_t		 nkid;
	struct ffield	*f;
	enum fop	 op;
	struct lit	*val;		/* the values (one, or a list's) */
	size_t		 nval;
	struct litset	*set;		/* in, intersects, pmatch */
	pcre2_code	*re;
};

/* Where condition text came from: appends join pieces with a space, and
 * an error points at the piece it falls in. */
struct fpiece {
	const char	*text;
	size_t		 len;
	const char	*file;
	int		 line;
};

struct falcocond_names {
	/* A Falco list's items, expanded; NULL when no list has the name. */
	const struct rlist *(*list)(void *arg, const char *name);
	/* A macro's compiled tree; NULL with *found set when it failed. */
	struct fexpr *(*macro)(void *arg, const char *name, int *found);
	void	*arg;
};

/* Compiles the condition made of the pieces. NULL after reporting. With
 * names NULL, checks the syntax alone (fields and names unchecked). */
struct fexpr *falcocond_compile(struct compiler *c, const struct fpiece *p, size_t np,
	    const struct falcocond_names *names, const char *what);
/* A comparison from parts (an exception): field, operator as written,
 * values. NULL after reporting at file:line. */
struct fexpr *falcocond_cmp(struct compiler *c, const char *file, int line,
	    const struct falcocond_names *names, const char *field, const char *op,
	    const struct lit *val, size_t nval, int list);
struct fexpr *falcocond_group(struct arena *a, enum fkind kind, struct fexpr **kid, size_t nkid);
int	falcocond_eval(const struct fexpr *x, struct evctx *c);
/* The kaudit category a condition's positive resource comparisons point
 * to (falco.c's mapping), NULL when none. */
const char *falcocond_category(const struct fexpr *x);

/* --- the loader (falco.c) ------------------------------------------------------- */

/* 1 when the document is a Falco rules file (see rule-language.md). */
int	falco_detect(struct compiler *c, yaml_document_t *d, yaml_node_t *root);
void	falco_doc(struct compiler *c, yaml_document_t *d, yaml_node_t *root);
/* After every source is read: compiles the Falco rules into c->rule. */
void	falco_resolve(struct compiler *c);
void	falco_free(struct compiler *c);

#endif
