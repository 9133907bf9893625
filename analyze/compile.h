/* compile.h — the rule compiler's insides, shared by the files that read
 * rule documents: rules.c (rules, lists, macros, exceptions), corr.c
 * (correlations, suppression) and sigma.c, sigmadet.c (Sigma rule files).
 * Private to analyze/.
 *
 * Compiling has two passes (see rules.c): documents are read into pending
 * items, then names are resolved and conditions compiled. */
#ifndef KAUDIT_COMPILE_H
#define KAUDIT_COMPILE_H

#include <yaml.h>

#include "analyze/rules_impl.h"

struct falco;
struct psuppress;

/* An alias: group_by name -> the field each rule supplies it with. */
struct palias {
	const char	*name;
	const char	**rule;
	const char	**field;
	size_t		  n;
	int		  line;
};

/* A correlation document while compiling (corr.c, sigma.c). */
struct pcorr {
	struct lit	*steps, *until, *group, *values;
	size_t		 nsteps, nuntil, ngroup, nvalues;
	const char	*absent;
	struct palias	*alias;
	size_t		 nalias;
	const char	*output;
	int		 outline;
	int		 line;
	int		 hide_steps;	/* Sigma's generate: false: the rules' own findings off */
};

struct mpart {
	const char	*text;
	size_t		 len;
	const char	*file;
	int		 line;
};

struct pmacro {
	const char	*name;
	struct mpart	*part;	/* OR'ed together (append) */
	size_t		 npart;
	int		 state[2];	/* per context: 0 new, 1 compiling, 2 done, -1 failed */
	struct node	*node[2];
};

struct evalue {
	struct lit	 l;	/* a scalar */
	struct lit	*seq;	/* or a sequence (for in) */
	size_t		 nseq;
	int		 is_seq;
};

struct pexc {
	const char	*name;
	const char	**field;
	const char	**comp;
	size_t		 nfield;
	struct evalue	*val;	/* nval tuples of nfield values */
	size_t		 nval;
	const char	*file;
	int		 line;
	int		 single;	/* Falco: one field written alone, one comparison */
};

struct prule {
	struct rule	*r;
	const char	*cond;
	size_t		 condlen;
	int		 condline;
	const char	*output;
	int		 outline;
	struct pexc	*exc;
	size_t		 nexc;
	struct pcorr	*corr;		/* corr.c: a correlation document */
	struct psuppress *suppress;	/* corr.c: the rule's suppress */
	const char	*name;		/* sigma.c: a Sigma rule's name, for correlations */
	const char	*author;	/* sigma.c: its author, named in its messages */
};

struct compiler {
	struct ruleset	*rs;
	struct arena	*ar;
	struct buf	*errs;
	int		 nerr;
	const char	*file;		/* source being read */
	struct rlist	**list;
	size_t		 nlist;
	struct pmacro	**macro;
	size_t		 nmacro;
	struct prule	**rule;
	size_t		 nrule;
	const char	*stack[MACRO_MAX_DEPTH + 1];	/* macros being compiled */
	int		 nstack;
	const struct rules_options *o;	/* NULL: no options */
	const char	**platform;	/* names that `platform:` items use */
	size_t		 nplatform;
	struct falco	*falco;		/* falco.c: Falco rules files read so far */
};

/* Appends `file:line: message` to the errors and counts it. */
void	cerr(struct compiler *c, const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Appends `file:line: warning: message` to the rule set's warnings: the
 * rules still load (ruleset_warnings). */
void	cwarn(struct compiler *c, const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* An arena copy of s. */
const char *adup(struct compiler *c, const char *s);
/* Reports keys of map that allowed (NULL-terminated) does not list; -1 then. */
int	check_keys(struct compiler *c, yaml_document_t *d, yaml_node_t *map,
	    const char *kind, const char *const *allowed);
/* The string value of key, an arena copy; NULL when absent (reported when
 * required) or not a scalar (reported). */
const char *get_str(struct compiler *c, yaml_document_t *d, yaml_node_t *map,
	    const char *key, int required, const char *kind);
int	get_bool(struct compiler *c, yaml_document_t *d, yaml_node_t *map,
	    const char *key, int def);
void	lit_from_node(struct compiler *c, const yaml_node_t *n, struct lit *l);
/* The scalars of a sequence (or one scalar) as literals. */
int	get_lits(struct compiler *c, yaml_document_t *d, yaml_node_t *seq,
	    struct lit **out, size_t *nout, const char *what);
struct prule *prule_find(struct compiler *c, const char *id);
/* An exception's fields or comps: one string, or a list of them. */
int	exc_strings(struct compiler *c, yaml_document_t *d, yaml_node_t *n,
	    const char ***out, size_t *nout, const char *what);
/* One exception value: a scalar, or a sequence of scalars (for in). */
int	exc_value(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct evalue *v);
/* Replaces items of l that name another list (found by find) by that
 * list's items, recursively; -1 after reporting a cycle. */
int	list_expand_with(struct compiler *c, struct rlist *l, int depth,
	    struct rlist *(*find)(void *arg, const char *name), void *arg);
int	id_valid(const char *id);
void	rule_tags(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct rule *r);
void	rule_classify(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct rule *r);
/* The output template of r from text s; correlation fields allowed when
 * corr is set. -1 after reporting. */
int	rule_template_text(struct compiler *c, struct rule *r, const char *s, int line, int corr);

/* corr.c */
/* `- correlation: ID` documents. */
void	corr_doc(struct compiler *c, yaml_document_t *d, yaml_node_t *m);
/* `alert:` and `suppress:` of a rule document (new or appended). */
void	rule_state_keys(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct prule *pr);
/* After every rule compiled: resolves correlation steps and fields, marks
 * the rules that feed them, compiles suppress fields. */
void	corr_resolve(struct compiler *c);
/* Frees what corr.c kept for pr while compiling. */
void	corr_free_pending(struct prule *pr);
/* `aliases:` of a correlation into pc. */
void	corr_aliases(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct pcorr *pc);

/* sigma.c */
/* Reads m when it is a Sigma document (a rule with logsource and
 * detection, a correlation mapping, a collection's action): 1 then, else
 * 0 and nothing read. */
int	sigma_doc(struct compiler *c, yaml_document_t *d, yaml_node_t *m);
/* The rule a Sigma correlation names: by id, else by its `name`. */
struct prule *sigma_ref(struct compiler *c, const char *ref);
/* 1 when ref is the Sigma name of rule r. */
int	sigma_named(struct compiler *c, const struct rule *r, const char *ref);
/* The message of a Sigma rule: its title as it is (not a template), and
 * its author, whom the Detection Rule License asks messages to name. */
void	sigma_message(struct compiler *c, struct prule *pr);
/* sigmadet.c: a Sigma `detection` as a condition; NULL after reporting. */
struct node *sigmadet_compile(struct compiler *c, yaml_document_t *d, yaml_node_t *det,
	    const char *rid);

#endif
