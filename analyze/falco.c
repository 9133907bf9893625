/* falco.c — Falco rules files loaded as they are: recognising them,
 * reading their list, macro and rule items with Falco's semantics (append,
 * override, exceptions, enabled), and compiling their rules into the rule
 * set beside kaudit's own.
 *
 * DESIGN: Falco's lists and macros live in a namespace of their own, so a
 * Falco macro named like a kaudit one never clashes, and a Falco override
 * file sees the Falco names. Items are read in file order (later files
 * append to or replace what earlier ones defined, as Falco loads its -r
 * files); after every source is read, falco_resolve() compiles each rule
 * with k8s_audit as its source. Conditions appended with `append: true` or
 * `override: {condition: append}` are joined to the text before them with
 * a space, as Falco joins them, and compiled as one condition. */
#include "analyze/falco.h"
#include "base/yamldoc.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ftext {
	struct fpiece	*p;
	size_t		 n;
};

struct fmacro {
	const char	*name;
	struct ftext	 cond;
	int		 state;	/* 0 new, 1 compiling, 2 done, -1 failed */
	struct fexpr	*x;
};

struct frule {
	const char	*name;
	struct ftext	 cond, output, desc;
	const char	*priority;
	int		 prioline;
	const char	*source;
	const char	**tags;
	size_t		 ntags;
	int		 enabled;
	struct pexc	*exc;
	size_t		 nexc;
	const char	*file;
	int		 line;
};

struct falco {
	struct rlist	**list;
	size_t		  nlist;
	struct fmacro	**macro;
	size_t		  nmacro;
	struct frule	**rule;
	size_t		  nrule;
	const char	 *stack[MACRO_MAX_DEPTH + 1];
	int		  nstack;
};

static const struct {
	const char	*name;
	enum severity	 sev;
} priorities[] = {
	{ "EMERGENCY", SEV_CRITICAL }, { "ALERT", SEV_CRITICAL }, { "CRITICAL", SEV_CRITICAL },
	{ "ERROR", SEV_HIGH }, { "WARNING", SEV_MEDIUM }, { "NOTICE", SEV_LOW },
	{ "INFORMATIONAL", SEV_INFO }, { "INFO", SEV_INFO }, { "DEBUG", SEV_INFO },
};

/* Tags Falco's rules use, and the kaudit category each stands for. */
static const struct {
	const char	*tag;
	const char	*cat;
} tag_cats[] = {
	{ "mitre_execution", "exec" }, { "mitre_persistence", "persistence" },
	{ "mitre_privilege_escalation", "rbac" }, { "mitre_credential_access", "secrets" },
	{ "mitre_defense_evasion", "evasion" }, { "mitre_discovery", "inventory" },
	{ "mitre_lateral_movement", "network" }, { "mitre_command_and_control", "network" },
	{ "mitre_exfiltration", "network" }, { "mitre_initial_access", "authn" },
	{ "network", "network" }, { "rbac", "rbac" }, { "exec", "exec" }, { "secrets", "secrets" },
	{ "workload", "workload" }, { "authn", "authn" }, { "admission", "admission" },
	{ "persistence", "persistence" }, { "evasion", "evasion" }, { "inventory", "inventory" },
};

static struct falco *
fa(struct compiler *c)
{
	if (c->falco == NULL)
		c->falco = xcalloc(1, sizeof(*c->falco));
	return c->falco;
}

static struct rlist *
flist_find(struct falco *f, const char *name)
{
	for (size_t i = 0; f && i < f->nlist; i++)
		if (strcmp(f->list[i]->name, name) == 0)
			return f->list[i];
	return NULL;
}

static struct fmacro *
fmacro_find(struct falco *f, const char *name)
{
	for (size_t i = 0; f && i < f->nmacro; i++)
		if (strcmp(f->macro[i]->name, name) == 0)
			return f->macro[i];
	return NULL;
}

static struct frule *
frule_find(struct falco *f, const char *name)
{
	for (size_t i = 0; f && i < f->nrule; i++)
		if (strcmp(f->rule[i]->name, name) == 0)
			return f->rule[i];
	return NULL;
}

/* --- recognising a Falco file -------------------------------------------------------- */

static const char *const falco_keys[] = { "source", "priority", "desc", "override",
	"required_engine_version", "required_plugin_versions", NULL };

static int
item_name_is_falco(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	const char *s;

	if ((s = yamldoc_scalar(yamldoc_get(d, m, "rule"))) != NULL)
		return frule_find(c->falco, s) != NULL;
	if ((s = yamldoc_scalar(yamldoc_get(d, m, "list"))) != NULL)
		return flist_find(c->falco, s) != NULL;
	if ((s = yamldoc_scalar(yamldoc_get(d, m, "macro"))) != NULL)
		return fmacro_find(c->falco, s) != NULL;
	return 0;
}

/* A document is Falco's when an item carries a key only Falco's format
 * has, or when an item names a list, macro or rule that a Falco file read
 * before defines (an override file of appends). */
int
falco_detect(struct compiler *c, yaml_document_t *d, yaml_node_t *root)
{
	if (root == NULL || root->type != YAML_SEQUENCE_NODE)
		return 0;
	for (yaml_node_item_t *i = root->data.sequence.items.start;
	    i < root->data.sequence.items.top; i++) {
		yaml_node_t *m = yaml_document_get_node(d, *i);
		if (m == NULL || m->type != YAML_MAPPING_NODE)
			continue;
		for (size_t k = 0; falco_keys[k]; k++)
			if (yamldoc_get(d, m, falco_keys[k]))
				return 1;
		if (item_name_is_falco(c, d, m))
			return 1;
	}
	return 0;
}

/* --- items ------------------------------------------------------------------------------ */

/* Keys Falco knows but kaudit ignores, and keys nobody knows: Falco loads
 * a file with an unknown key after a warning, and so does kaudit. */
static void
warn_keys(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *kind,
    const char *const *known)
{
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		const char *ks = yamldoc_scalar(k);
		size_t i;
		for (i = 0; ks && known[i]; i++)
			if (strcmp(ks, known[i]) == 0)
				break;
		if (ks == NULL || known[i] == NULL)
			cwarn(c, c->file, yamldoc_line(k), "unknown key \"%s\" in Falco %s: ignored",
			    ks ? ks : "?", kind);
	}
}

/* override: {KEY: append|replace}: what the item does to KEY; 0 when the
 * item has no override for it, 'a' or 'r', -1 after an error. */
static int
override_of(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *key)
{
	yaml_node_t *o = yamldoc_get(d, m, "override");
	const char *v;

	if (o == NULL)
		return 0;
	if (o->type != YAML_MAPPING_NODE) {
		cerr(c, c->file, yamldoc_line(o), "override must be a mapping of keys to append or replace");
		return -1;
	}
	if ((v = yamldoc_scalar(yamldoc_get(d, o, key))) == NULL)
		return 0;
	if (strcmp(v, "append") == 0)
		return 'a';
	if (strcmp(v, "replace") == 0)
		return 'r';
	cerr(c, c->file, yamldoc_line(o), "override: %s: \"%s\" (append or replace)", key, v);
	return -1;
}

/* Every key under override: must be in the item, and the other way round. */
static int
override_check(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *kind,
    const char *name)
{
	yaml_node_t *o = yamldoc_get(d, m, "override");

	if (o == NULL)
		return 0;
	if (yamldoc_get(d, m, "append")) {
		cerr(c, c->file, yamldoc_line(m), "%s %s: append and override cannot be used together",
		    kind, name);
		return -1;
	}
	if (o->type != YAML_MAPPING_NODE)
		return override_of(c, d, m, "x");
	for (yaml_node_pair_t *p = o->data.mapping.pairs.start; p < o->data.mapping.pairs.top; p++) {
		const char *k = yamldoc_scalar(yaml_document_get_node(d, p->key));
		if (k && yamldoc_get(d, m, k) == NULL) {
			cerr(c, c->file, yamldoc_line(o), "%s %s: override names %s, which the item "
			    "does not have", kind, name, k);
			return -1;
		}
	}
	return 0;
}

static void
text_set(struct compiler *c, struct ftext *t, const char *s, int line, int append)
{
	if (!append) {
		free(t->p);
		t->p = NULL;
		t->n = 0;
	}
	t->p = xgrow(t->p, t->n, sizeof(*t->p));
	t->p[t->n++] = (struct fpiece){ s, strlen(s), c->file, line };
}

static int
scalar_line(yaml_document_t *d, yaml_node_t *m, const char *key)
{
	yaml_node_t *n = yamldoc_get(d, m, key);
	int block = n && n->type == YAML_SCALAR_NODE &&
	    (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE);

	return yamldoc_line(n) + block;
}

static void
falco_list(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	static const char *const keys[] = { "list", "items", "append", "override", NULL };
	struct falco *f = fa(c);
	const char *name = get_str(c, d, m, "list", 1, "Falco list");
	int append = get_bool(c, d, m, "append", 0), ov;
	struct rlist *l;
	struct lit *items;
	size_t n;

	warn_keys(c, d, m, "list", keys);
	if (name == NULL || override_check(c, d, m, "list", name) < 0 ||
	    (ov = override_of(c, d, m, "items")) < 0)
		return;
	if (get_lits(c, d, yamldoc_get(d, m, "items"), &items, &n, "list items") < 0)
		return;
	for (size_t i = 0; i < n; i++)
		items[i].flags = 0;	/* to Falco an item is a string, quoted in YAML or not */
	append = append || ov == 'a';
	if ((l = flist_find(f, name)) == NULL && append) {
		cerr(c, c->file, yamldoc_line(m), "list %s has 'append' key but no list by that "
		    "name already exists", name);
		return;
	}
	if (l == NULL) {
		f->list = xgrow(f->list, f->nlist, sizeof(*f->list));
		l = f->list[f->nlist++] = arena_alloc(c->ar, sizeof(*l));
		l->name = name;
	}
	if (append) {
		struct lit *all = arena_alloc(c->ar, sizeof(*all) * (l->nitem + n + 1));
		if (l->nitem)
			memcpy(all, l->item, sizeof(*all) * l->nitem);
		if (n)
			memcpy(all + l->nitem, items, sizeof(*all) * n);
		l->item = all;
		l->nitem += n;
		return;
	}
	l->item = items;
	l->nitem = n;
	l->file = c->file;
	l->line = yamldoc_line(m);
}

static void
falco_macro(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	static const char *const keys[] = { "macro", "condition", "append", "override", "source",
	    NULL };
	struct falco *f = fa(c);
	const char *name = get_str(c, d, m, "macro", 1, "Falco macro");
	const char *cond = get_str(c, d, m, "condition", 1, "Falco macro");
	int append = get_bool(c, d, m, "append", 0), ov;
	struct fmacro *mac;

	warn_keys(c, d, m, "macro", keys);
	if (name == NULL || cond == NULL || override_check(c, d, m, "macro", name) < 0 ||
	    (ov = override_of(c, d, m, "condition")) < 0)
		return;
	append = append || ov == 'a';
	if ((mac = fmacro_find(f, name)) == NULL && append) {
		cerr(c, c->file, yamldoc_line(m), "macro %s has 'append' key but no macro by that "
		    "name already exists", name);
		return;
	}
	if (mac == NULL) {
		f->macro = xgrow(f->macro, f->nmacro, sizeof(*f->macro));
		mac = f->macro[f->nmacro++] = arena_alloc(c->ar, sizeof(*mac));
		mac->name = name;
	}
	text_set(c, &mac->cond, cond, scalar_line(d, m, "condition"), append);
}

/* --- exceptions ------------------------------------------------------------------------ */

static int
is_list_comp(const char *comp)
{
	return strcmp(comp, "in") == 0 || strcmp(comp, "intersects") == 0 ||
	    strcmp(comp, "pmatch") == 0;
}

/* values: one tuple per item, one value per field; with a single field
 * written as a string (not a list), each item is one value. */
static int
fexc_values(struct compiler *c, yaml_document_t *d, yaml_node_t *vals, struct pexc *e,
    int single)
{
	size_t n;

	if (vals == NULL)
		return 0;
	if (vals->type != YAML_SEQUENCE_NODE) {
		cerr(c, c->file, yamldoc_line(vals), "exception %s: values must be a list", e->name);
		return -1;
	}
	n = (size_t)(vals->data.sequence.items.top - vals->data.sequence.items.start);
	e->val = xrealloc(e->val, sizeof(*e->val) * ((e->nval + n) * e->nfield + 1));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *t = yaml_document_get_node(d, vals->data.sequence.items.start[i]);
		struct evalue *row = &e->val[e->nval * e->nfield];
		size_t k = t && t->type == YAML_SEQUENCE_NODE ?
		    (size_t)(t->data.sequence.items.top - t->data.sequence.items.start) : 0;
		if (single) {
			if (exc_value(c, d, t, &row[0]) < 0)
				return -1;
		} else if (k != e->nfield) {
			cerr(c, c->file, yamldoc_line(t), "exception %s: each value needs %zu items, "
			    "one per field", e->name, e->nfield);
			return -1;
		} else {
			for (size_t j = 0; j < k; j++)
				if (exc_value(c, d, yaml_document_get_node(d,
				    t->data.sequence.items.start[j]), &row[j]) < 0)
					return -1;
		}
		e->nval++;
	}
	return 0;
}

/* A new exception: fields, comps (default = for a list of fields, in for
 * a single one) and values. single is set for a field written alone. */
static int
fexc_new(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct pexc *e,
    const char *name, int *single)
{
	yaml_node_t *fields = yamldoc_get(d, m, "fields"), *comps = yamldoc_get(d, m, "comps");
	const char **cs;
	size_t nc;

	memset(e, 0, sizeof(*e));
	e->name = name;
	e->file = c->file;
	e->line = yamldoc_line(m);
	if (fields == NULL) {
		cerr(c, c->file, e->line, "exception %s: missing fields", name);
		return -1;
	}
	*single = yamldoc_scalar(fields) != NULL;
	if (exc_strings(c, d, fields, &e->field, &e->nfield, "exception fields") < 0)
		return -1;
	if (e->nfield == 0) {
		cerr(c, c->file, e->line, "exception %s: fields is empty", name);
		return -1;
	}
	e->comp = arena_alloc(c->ar, sizeof(*e->comp) * e->nfield);
	for (size_t i = 0; i < e->nfield; i++)
		e->comp[i] = *single ? "in" : "=";
	if (comps == NULL)
		return 0;
	if (exc_strings(c, d, comps, &cs, &nc, "exception comps") < 0)
		return -1;
	if (nc != e->nfield || (*single && !yamldoc_scalar(comps))) {
		cerr(c, c->file, yamldoc_line(comps), "exception %s: comps needs one operator per field",
		    name);
		return -1;
	}
	memcpy(e->comp, cs, sizeof(*cs) * nc);
	if (*single && !is_list_comp(e->comp[0])) {
		cerr(c, c->file, yamldoc_line(comps), "exception %s: a single field's values need in, "
		    "intersects or pmatch, not %s", name, e->comp[0]);
		return -1;
	}
	return 0;
}

static void
frule_exceptions(struct compiler *c, yaml_document_t *d, yaml_node_t *seq, struct frule *r)
{
	static const char *const keys[] = { "name", "fields", "comps", "values", NULL };

	if (seq == NULL)
		return;
	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, c->file, yamldoc_line(seq), "exceptions must be a list");
		return;
	}
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++) {
		yaml_node_t *m = yaml_document_get_node(d, *i);
		const char *name;
		struct pexc *e = NULL;
		int single = 0;
		if (m == NULL || m->type != YAML_MAPPING_NODE) {
			cerr(c, c->file, yamldoc_line(m), "an exception must be a mapping");
			continue;
		}
		if (check_keys(c, d, m, "exception", keys) < 0 ||
		    (name = get_str(c, d, m, "name", 1, "exception")) == NULL)
			continue;
		for (size_t k = 0; k < r->nexc; k++)
			if (strcmp(r->exc[k].name, name) == 0)
				e = &r->exc[k];
		if (e == NULL) {
			r->exc = xgrow(r->exc, r->nexc, sizeof(*r->exc));
			e = &r->exc[r->nexc];
			if (fexc_new(c, d, m, e, name, &single) < 0)
				continue;
			e->single = single;
			r->nexc++;
		} else {
			single = e->single;
		}
		(void)fexc_values(c, d, yamldoc_get(d, m, "values"), e, single);
	}
}

/* --- rules ------------------------------------------------------------------------------------ */

static const char *const rule_keys[] = { "rule", "desc", "condition", "output", "priority",
	"source", "tags", "enabled", "exceptions", "append", "override", "warn_evttypes",
	"skip-if-unknown-filter", "capture", "capture_duration", NULL };

static void
frule_tags(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct frule *r, int append)
{
	struct lit *l;
	const char **all;
	size_t nl;

	if (n == NULL || get_lits(c, d, n, &l, &nl, "tags") < 0)
		return;
	if (!append)
		r->ntags = 0;
	all = arena_alloc(c->ar, sizeof(*all) * (r->ntags + nl + 1));
	if (r->ntags)
		memcpy(all, r->tags, sizeof(*all) * r->ntags);
	for (size_t i = 0; i < nl; i++)
		all[r->ntags + i] = l[i].s;
	r->tags = all;
	r->ntags += nl;
}

/* The text keys of a rule item (condition, output, desc): set, appended
 * (append: true, or override: append) or replaced. */
static void
frule_texts(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct frule *r,
    int append, int isnew)
{
	static const char *const k[] = { "condition", "output", "desc" };
	struct ftext *t[] = { &r->cond, &r->output, &r->desc };

	for (int i = 0; i < 3; i++) {
		const char *s = yamldoc_get(d, m, k[i]) ? get_str(c, d, m, k[i], 0, "Falco rule") : NULL;
		int ov = override_of(c, d, m, k[i]);
		if (s == NULL || ov < 0)
			continue;
		text_set(c, t[i], s, scalar_line(d, m, k[i]), !isnew && (append || ov == 'a'));
	}
}

static void
frule_scalars(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct frule *r,
    int append)
{
	const char *s;
	int ov;

	if ((s = get_str(c, d, m, "priority", 0, "Falco rule")) != NULL) {
		r->priority = s;
		r->prioline = yamldoc_line(yamldoc_get(d, m, "priority"));
	}
	if ((s = get_str(c, d, m, "source", 0, "Falco rule")) != NULL)
		r->source = s;
	r->enabled = get_bool(c, d, m, "enabled", r->enabled);
	if ((ov = override_of(c, d, m, "tags")) >= 0)
		frule_tags(c, d, yamldoc_get(d, m, "tags"), r, append || ov == 'a');
	if ((ov = override_of(c, d, m, "exceptions")) == 'r') {
		for (size_t k = 0; k < r->nexc; k++)
			free(r->exc[k].val);
		r->nexc = 0;
	}
	frule_exceptions(c, d, yamldoc_get(d, m, "exceptions"), r);
}

static void
frule_new(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *name)
{
	static const char *const need[] = { "condition", "output", "desc", "priority" };
	struct falco *f = fa(c);
	struct frule *r = frule_find(f, name);

	for (int i = 0; i < 4; i++) {
		if (yamldoc_get(d, m, need[i]) == NULL) {
			cerr(c, c->file, yamldoc_line(m), "Falco rule %s: missing %s", name, need[i]);
			return;
		}
	}
	if (r == NULL) {	/* a rule of an existing name is replaced, as Falco does */
		f->rule = xgrow(f->rule, f->nrule, sizeof(*f->rule));
		r = f->rule[f->nrule++] = arena_alloc(c->ar, sizeof(*r));
	} else {
		for (size_t k = 0; k < r->nexc; k++)
			free(r->exc[k].val);
		free(r->exc);
		free(r->cond.p);
		free(r->output.p);
		free(r->desc.p);
		memset(r, 0, sizeof(*r));
	}
	r->name = name;
	r->file = c->file;
	r->line = yamldoc_line(m);
	r->enabled = 1;
	r->source = "syscall";	/* Falco's default */
	frule_texts(c, d, m, r, 0, 1);
	frule_scalars(c, d, m, r, 0);
}

static void
falco_rule(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	const char *name = get_str(c, d, m, "rule", 1, "Falco rule");
	int append = get_bool(c, d, m, "append", 0), changes = 0;
	struct frule *r;

	warn_keys(c, d, m, "rule", rule_keys);
	if (name == NULL || override_check(c, d, m, "rule", name) < 0)
		return;
	if (*name == '\0') {
		cerr(c, c->file, yamldoc_line(m), "Falco rule: the name is empty");
		return;
	}
	r = frule_find(c->falco, name);
	for (size_t i = 0; rule_keys[i]; i++)
		changes += strcmp(rule_keys[i], "rule") != 0 && strcmp(rule_keys[i], "enabled") != 0 &&
		    yamldoc_get(d, m, rule_keys[i]) != NULL;
	if (append || yamldoc_get(d, m, "override") || (changes == 0 && yamldoc_get(d, m, "enabled"))) {
		if (r == NULL) {
			cerr(c, c->file, yamldoc_line(m), "rule %s has '%s' key but no rule by that "
			    "name already exists", name, append ? "append" :
			    yamldoc_get(d, m, "override") ? "override" : "enabled");
			return;
		}
		frule_texts(c, d, m, r, append, 0);
		frule_scalars(c, d, m, r, append);
		return;
	}
	frule_new(c, d, m, name);
}

static void
falco_required(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	yaml_node_t *v = yamldoc_get(d, m, "required_engine_version");
	yaml_node_t *p = yamldoc_get(d, m, "required_plugin_versions");

	if (v && yamldoc_scalar(v) == NULL)
		cerr(c, c->file, yamldoc_line(v), "required_engine_version must be a version");
	if (p && p->type != YAML_SEQUENCE_NODE)
		cerr(c, c->file, yamldoc_line(p), "required_plugin_versions must be a list");
}

void
falco_doc(struct compiler *c, yaml_document_t *d, yaml_node_t *root)
{
	(void)fa(c);
	for (yaml_node_item_t *i = root->data.sequence.items.start;
	    i < root->data.sequence.items.top; i++) {
		yaml_node_t *m = yaml_document_get_node(d, *i);
		if (m && m->type == YAML_SCALAR_NODE && m->data.scalar.length == 0)
			continue;	/* a bare "-": Falco's files have one */
		if (m == NULL || m->type != YAML_MAPPING_NODE) {
			cerr(c, c->file, yamldoc_line(m), "expected a mapping with rule, list, macro "
			    "or required_engine_version");
			continue;
		}
		if (yamldoc_get(d, m, "rule"))
			falco_rule(c, d, m);
		else if (yamldoc_get(d, m, "macro"))
			falco_macro(c, d, m);
		else if (yamldoc_get(d, m, "list"))
			falco_list(c, d, m);
		else if (yamldoc_get(d, m, "required_engine_version") ||
		    yamldoc_get(d, m, "required_plugin_versions"))
			falco_required(c, d, m);
		else
			cerr(c, c->file, yamldoc_line(m), "expected a mapping with rule, list, macro "
			    "or required_engine_version");
	}
}

/* --- compiling --------------------------------------------------------------------------- */

static const struct rlist *
names_list(void *arg, const char *name)
{
	return flist_find(((struct compiler *)arg)->falco, name);
}

static struct fexpr *
names_macro(void *arg, const char *name, int *found)
{
	struct compiler *c = arg;
	struct falco *f = c->falco;
	struct fmacro *m = fmacro_find(f, name);
	struct falcocond_names names = { names_list, names_macro, c };
	char what[160];

	*found = m != NULL;
	if (m == NULL || m->state == 2 || m->state == -1)
		return m ? m->x : NULL;
	if (m->state == 1 || f->nstack >= MACRO_MAX_DEPTH) {
		struct buf path;
		buf_init(&path);
		for (int i = 0; i < f->nstack; i++)
			buf_printf(&path, "%s -> ", f->stack[i]);
		buf_puts(&path, name);
		cerr(c, m->cond.p[0].file, m->cond.p[0].line, "macro cycle: %s", buf_cstr(&path));
		buf_free(&path);
		return NULL;
	}
	m->state = 1;
	f->stack[f->nstack++] = name;
	snprintf(what, sizeof(what), "macro %s", name);
	m->x = falcocond_compile(c, m->cond.p, m->cond.n, &names, what);
	f->nstack--;
	m->state = m->x ? 2 : -1;
	return m->x;
}

static struct fexpr *
fexc_compile(struct compiler *c, const struct pexc *e, const struct falcocond_names *names)
{
	struct fexpr **alt = xcalloc(e->nval + 1, sizeof(*alt)), **all;
	struct fexpr *x = NULL;
	int single = e->single, line = e->line;

	all = xcalloc(e->nfield + 1, sizeof(*all));
	if (single) {	/* field comp (v1, v2, ...) */
		struct lit *v = arena_alloc(c->ar, sizeof(*v) * (e->nval + 1));
		size_t n = 0;
		for (size_t t = 0; t < e->nval; t++) {
			const struct evalue *ev = &e->val[t];
			for (size_t k = 0; k < (ev->is_seq ? ev->nseq : 1); k++)
				v[n++] = ev->is_seq ? ev->seq[k] : ev->l;
		}
		x = e->nval ? falcocond_cmp(c, e->file, line, names, e->field[0], e->comp[0], v, n, 1) : NULL;
		goto out;
	}
	for (size_t t = 0; t < e->nval; t++) {
		for (size_t i = 0; i < e->nfield; i++) {
			const struct evalue *v = &e->val[t * e->nfield + i];
			all[i] = falcocond_cmp(c, e->file, line, names, e->field[i], e->comp[i],
			    v->is_seq ? v->seq : &v->l, v->is_seq ? v->nseq : 1, v->is_seq);
			if (all[i] == NULL)
				goto out;
		}
		alt[t] = e->nfield == 1 ? all[0] : falcocond_group(c->ar, FK_AND, all, e->nfield);
	}
	if (e->nval)
		x = e->nval == 1 ? alt[0] : falcocond_group(c->ar, FK_OR, alt, e->nval);
out:
	free(alt);
	free(all);
	return x;
}

static int
severity_of(struct compiler *c, const struct frule *r, enum severity *sev)
{
	for (size_t i = 0; i < sizeof(priorities) / sizeof(priorities[0]); i++) {
		if (strcasecmp(r->priority, priorities[i].name) == 0) {
			*sev = priorities[i].sev;
			return 0;
		}
	}
	cerr(c, r->file, r->prioline ? r->prioline : r->line, "Falco rule %s: unknown priority \"%s\" "
	    "(EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL, INFO or DEBUG)",
	    r->name, r->priority);
	return -1;
}

/* The rule's category: the first tag that names one (or a MITRE tactic
 * tag that maps to one), else what its condition looks at, else
 * inventory. */
static const char *
category_of(const struct frule *r, const struct fexpr *cond)
{
	const char *cat;

	for (size_t t = 0; t < r->ntags; t++)
		for (size_t i = 0; i < sizeof(tag_cats) / sizeof(tag_cats[0]); i++)
			if (strcasecmp(r->tags[t], tag_cats[i].tag) == 0)
				return tag_cats[i].cat;
	cat = falcocond_category(cond);
	return cat ? cat : "inventory";
}

/* The output: text with %field (Falco's longest field name, then an
 * optional [argument]). */
static int
output_compile(struct compiler *c, struct rule *rule, const struct frule *r)
{
	struct buf text;
	struct tmpl_seg *seg;
	size_t nseg = 0, cap;
	const char *s;
	int rc = 0;

	buf_init(&text);
	for (size_t i = 0; i < r->output.n; i++) {
		if (i > 0)
			buf_putc(&text, ' ');
		buf_append(&text, r->output.p[i].text, r->output.p[i].len);
	}
	s = arena_strndup(c->ar, text.data ? text.data : "", text.len);
	buf_free(&text);
	cap = 2 * strlen(s) + 2;
	seg = arena_alloc(c->ar, sizeof(*seg) * cap);
	while (*s && rc == 0) {
		const char *pct = strchr(s, '%');
		char err[300];
		size_t used;
		struct ffield *ff;
		if (pct == NULL)
			pct = s + strlen(s);
		if (pct > s)
			seg[nseg++] = (struct tmpl_seg){ .text = s, .len = (size_t)(pct - s) };
		if (*pct == '\0')
			break;
		if ((ff = ffield_parse(c->ar, pct + 1, strlen(pct + 1), 0, &used, err, sizeof(err))) == NULL) {
			cerr(c, r->output.p[0].file, r->output.p[0].line, "Falco rule %s: output: %s",
			    r->name, err);
			rc = -1;
			break;
		}
		seg[nseg++] = (struct tmpl_seg){ .ff = ff };
		s = pct + 1 + used;
	}
	rule->out = seg;
	rule->nout = nseg;
	return rc;
}

static struct node *
falco_node(struct compiler *c, struct fexpr *x)
{
	struct node *n = arena_alloc(c->ar, sizeof(*n));

	n->kind = N_FALCO;
	n->fx = x;
	return n;
}

static void
frule_compile(struct compiler *c, const struct frule *r)
{
	struct falcocond_names names = { names_list, names_macro, c };
	struct prule *pr;
	struct rule *rule;
	struct fexpr *cond, *exc[64], *ex;
	size_t nexc = 0;
	char what[200];

	if (r->cond.n == 0 || r->output.n == 0)
		return;		/* not strings: reported when read */
	snprintf(what, sizeof(what), "rule %s: condition", r->name);
	cond = falcocond_compile(c, r->cond.p, r->cond.n, &names, what);
	for (size_t i = 0; i < r->nexc && nexc < 64; i++)
		if ((ex = fexc_compile(c, &r->exc[i], &names)) != NULL)
			exc[nexc++] = ex;
	pr = arena_alloc(c->ar, sizeof(*pr));
	rule = pr->r = arena_alloc(c->ar, sizeof(*rule));
	rule->id = rule->title = r->name;
	rule->file = r->file;
	rule->line = r->line;
	rule->format = RULE_FALCO;
	rule->enabled = r->enabled;
	rule->alert = 1;
	rule->stages = STAGE_REQUEST_RECEIVED | STAGE_RESPONSE_STARTED | STAGE_RESPONSE_COMPLETE |
	    STAGE_PANIC;	/* Falco sees every stage: its kevt macros choose */
	rule->tags = r->tags;
	rule->ntags = r->ntags;
	if (r->desc.n) {
		struct buf b;
		buf_init(&b);
		for (size_t i = 0; i < r->desc.n; i++)
			buf_printf(&b, "%s%.*s", i ? " " : "", (int)r->desc.p[i].len, r->desc.p[i].text);
		rule->description = arena_strndup(c->ar, b.data ? b.data : "", b.len);
		buf_free(&b);
	}
	if (severity_of(c, r, &rule->severity) < 0 || output_compile(c, rule, r) < 0 || cond == NULL)
		return;
	if (nexc > 0) {
		struct fexpr *any = falcocond_group(c->ar, FK_OR, exc, nexc);
		struct fexpr *both[2] = { cond, falcocond_group(c->ar, FK_NOT, &any, 1) };
		cond = falcocond_group(c->ar, FK_AND, both, 2);
	}
	rule->category = category_of(r, cond);
	rule->cond = falco_node(c, cond);
	if (prule_find(c, rule->id) != NULL) {
		cerr(c, r->file, r->line, "Falco rule \"%s\": a kaudit rule has the same id", r->name);
		return;
	}
	c->rule = xgrow(c->rule, c->nrule, sizeof(*c->rule));
	c->rule[c->nrule++] = pr;
}

static struct rlist *
find_for_expand(void *arg, const char *name)
{
	return flist_find(arg, name);
}

void
falco_resolve(struct compiler *c)
{
	struct falco *f = c->falco;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nlist; i++)
		(void)list_expand_with(c, f->list[i], 0, find_for_expand, f);
	for (size_t i = 0; i < f->nrule; i++) {
		const struct frule *r = f->rule[i];
		if (strcmp(r->source, "k8s_audit") != 0) {
			cwarn(c, r->file, r->line, "Falco rule \"%s\" has source %s, not k8s_audit: "
			    "skipped", r->name, r->source);
			continue;
		}
		frule_compile(c, r);
	}
	/* a macro no rule uses still has its syntax checked, as Falco does */
	for (size_t i = 0; i < f->nmacro; i++) {
		char what[160];
		if (f->macro[i]->state != 0)
			continue;
		snprintf(what, sizeof(what), "macro %s", f->macro[i]->name);
		(void)falcocond_compile(c, f->macro[i]->cond.p, f->macro[i]->cond.n, NULL, what);
	}
}

void
falco_free(struct compiler *c)
{
	struct falco *f = c->falco;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nmacro; i++)
		free(f->macro[i]->cond.p);
	for (size_t i = 0; i < f->nrule; i++) {
		struct frule *r = f->rule[i];
		for (size_t k = 0; k < r->nexc; k++)
			free(r->exc[k].val);
		free(r->exc);
		free(r->cond.p);
		free(r->output.p);
		free(r->desc.p);
	}
	free(f->list);
	free(f->macro);
	free(f->rule);
	free(f);
	c->falco = NULL;
}
