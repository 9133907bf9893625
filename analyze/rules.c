/* rules.c — the rule compiler: YAML rule files to an immutable ruleset.
 *
 * DESIGN: compilation has two passes. The first reads every document of
 * every source in order into pending lists, macros and rules, applying the
 * tuning that later files do to earlier ones (list and macro overrides and
 * appends, exception appends, enabled overrides). The second resolves
 * names and compiles: lists are expanded, each rule's condition is compiled
 * (macros compile on first use, once per context, and are shared), its
 * exceptions become `and not (...)`, and the rule is placed in the index.
 * Every problem becomes one `file:line: message` line and compilation goes
 * on, so one run reports them all.
 *
 * A list or macro item may carry `platform: NAME`: it counts only when the
 * options enable NAME (a managed distribution's own identities, which on
 * any other cluster are names anyone might take). Items of platforms not
 * enabled are still checked, then dropped in the first pass, so the second
 * pass never sees them. */
#include "analyze/falco.h"
#include "base/timefmt.h"
#include "base/yamldoc.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const severity_names[] = { "info", "low", "medium", "high", "critical" };

const char *
severity_name(enum severity s)
{
	return (unsigned)s < 5 ? severity_names[s] : "info";
}

int
severity_parse(const char *s, enum severity *out)
{
	for (int i = 0; i < 5; i++) {
		if (strcmp(s, severity_names[i]) == 0) {
			*out = (enum severity)i;
			return 0;
		}
	}
	return -1;
}

static const char *const categories[] = {
	"rbac", "exec", "workload", "secrets", "authn", "admission", "evasion",
	"persistence", "network", "inventory",
};

static const struct {
	const char	*name;
	unsigned	 bit;
} stage_names[] = {
	{ "RequestReceived", STAGE_REQUEST_RECEIVED },
	{ "ResponseStarted", STAGE_RESPONSE_STARTED },
	{ "ResponseComplete", STAGE_RESPONSE_COMPLETE },
	{ "Panic", STAGE_PANIC },
};

void
cerr(struct compiler *c, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	c->nerr++;
	buf_printf(c->errs, "%s:%d: ", file, line);
	va_start(ap, fmt);
	{
		char msg[512];
		vsnprintf(msg, sizeof(msg), fmt, ap);
		buf_puts(c->errs, msg);
	}
	va_end(ap);
	buf_putc(c->errs, '\n');
}

void
cwarn(struct compiler *c, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	c->rs->nwarnings++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_printf(&c->rs->warnings, "%s:%d: warning: %s\n", file, line, msg);
}

const char *
adup(struct compiler *c, const char *s)
{
	return arena_strndup(c->ar, s, strlen(s));
}

/* --- reading documents ------------------------------------------------------- */

static int
key_allowed(const char *k, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(k, *allowed) == 0)
			return 1;
	return 0;
}

int
check_keys(struct compiler *c, yaml_document_t *d, yaml_node_t *map,
    const char *kind, const char *const *allowed)
{
	int bad = 0;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		const char *ks = yamldoc_scalar(k);
		if (ks == NULL || !key_allowed(ks, allowed)) {
			cerr(c, c->file, yamldoc_line(k), "unknown key \"%s\" in %s",
			    ks ? ks : "?", kind);
			bad = 1;
			continue;
		}
		/* libyaml keeps duplicate keys; the second would be ignored */
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			const char *qs = yamldoc_scalar(yaml_document_get_node(d, q->key));
			if (qs && strcmp(qs, ks) == 0) {
				cerr(c, c->file, yamldoc_line(k), "duplicate key \"%s\" in %s", ks, kind);
				bad = 1;
				break;
			}
		}
	}
	return bad ? -1 : 0;
}

/* A required or optional scalar string. */
const char *
get_str(struct compiler *c, yaml_document_t *d, yaml_node_t *map,
    const char *key, int required, const char *kind)
{
	yaml_node_t *n = yamldoc_get(d, map, key);
	const char *s = yamldoc_scalar(n);

	if (n == NULL) {
		if (required)
			cerr(c, c->file, yamldoc_line(map), "%s: missing %s", kind, key);
		return NULL;
	}
	if (s == NULL) {
		cerr(c, c->file, yamldoc_line(n), "%s: %s must be a string", kind, key);
		return NULL;
	}
	return adup(c, s);
}

int
get_bool(struct compiler *c, yaml_document_t *d, yaml_node_t *map,
    const char *key, int def)
{
	yaml_node_t *n = yamldoc_get(d, map, key);
	int b;

	if (n == NULL)
		return def;
	if ((b = yamldoc_bool(n)) < 0) {
		cerr(c, c->file, yamldoc_line(n), "%s must be true or false", key);
		return def;
	}
	return b;
}

void
lit_from_node(struct compiler *c, const yaml_node_t *n, struct lit *l)
{
	memset(l, 0, sizeof(*l));
	l->s = arena_strndup(c->ar, (const char *)n->data.scalar.value, n->data.scalar.length);
	l->n = n->data.scalar.length;
	if (yamldoc_plain(n))
		lit_bare(l);
	else
		l->flags = LIT_QUOTED;
}

/* A sequence of scalars into literals. Returns -1 after an error. */
int
get_lits(struct compiler *c, yaml_document_t *d, yaml_node_t *seq,
    struct lit **out, size_t *nout, const char *what)
{
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, c->file, yamldoc_line(seq), "%s must be a list", what);
		return -1;
	}
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	*out = arena_alloc(c->ar, sizeof(**out) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(d, seq->data.sequence.items.start[i]);
		if (yamldoc_scalar(it) == NULL) {
			cerr(c, c->file, yamldoc_line(it), "%s: items must be scalars", what);
			return -1;
		}
		lit_from_node(c, it, &(*out)[i]);
	}
	*nout = n;
	return 0;
}

/* --- platforms ---------------------------------------------------------------------- */

static int
platform_valid(const char *p)
{
	if (*p == '\0')
		return 0;
	for (; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
			return 0;
	return 1;
}

static int
platform_enabled(const struct compiler *c, const char *p)
{
	for (size_t i = 0; c->o && i < c->o->nplatforms; i++)
		if (strcmp(c->o->platforms[i], p) == 0)
			return 1;
	return 0;
}

static void
platform_note(struct compiler *c, const char *p)
{
	for (size_t i = 0; i < c->nplatform; i++)
		if (strcmp(c->platform[i], p) == 0)
			return;
	c->platform = xgrow(c->platform, c->nplatform, sizeof(*c->platform));
	c->platform[c->nplatform++] = p;
}

/* The `platform:` key of a list or macro: 1 when the item applies (no key,
 * or its platform is enabled), 0 when it belongs to a platform that is not,
 * -1 after an error. */
static int
item_platform(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *kind)
{
	yaml_node_t *n = yamldoc_get(d, m, "platform");
	const char *p;

	if (n == NULL)
		return 1;
	if ((p = get_str(c, d, m, "platform", 1, kind)) == NULL)
		return -1;
	if (!platform_valid(p)) {
		cerr(c, c->file, yamldoc_line(n),
		    "%s: platform \"%s\": use lowercase letters, digits and '-'", kind, p);
		return -1;
	}
	platform_note(c, p);
	return platform_enabled(c, p);
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every enabled platform must be one that the rules know: a misspelt name
 * would leave that platform's control plane unrecognised without a word. */
static void
platforms_check(struct compiler *c, const struct rules_options *o)
{
	struct buf known;

	if (o == NULL || o->nplatforms == 0)
		return;
	if (c->nplatform > 1)
		qsort(c->platform, c->nplatform, sizeof(*c->platform), strp_cmp);
	buf_init(&known);
	for (size_t k = 0; k < c->nplatform; k++)
		buf_printf(&known, "%s%s", k ? ", " : "", c->platform[k]);
	for (size_t i = 0; i < o->nplatforms; i++) {
		if (c->nplatform > 0 && bsearch(&o->platforms[i], c->platform, c->nplatform,
		    sizeof(*c->platform), strp_cmp) != NULL)
			continue;
		cerr(c, o->origin ? o->origin : "(config)", o->platforms_line,
		    "platforms: unknown platform \"%s\" (the rules know: %s)", o->platforms[i],
		    c->nplatform ? buf_cstr(&known) : "none");
	}
	buf_free(&known);
}

static struct rlist *
list_find(struct compiler *c, const char *name)
{
	for (size_t i = 0; i < c->nlist; i++)
		if (strcmp(c->list[i]->name, name) == 0)
			return c->list[i];
	return NULL;
}

static void
doc_list(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	static const char *const keys[] = { "list", "items", "append", "platform", NULL };
	const char *name = get_str(c, d, m, "list", 1, "list");
	struct rlist *l;
	struct lit *items;
	size_t nitems;
	int append = get_bool(c, d, m, "append", 0), on;

	if (check_keys(c, d, m, "list", keys) < 0 || name == NULL)
		return;
	if ((on = item_platform(c, d, m, "list")) < 0)
		return;
	if (get_lits(c, d, yamldoc_get(d, m, "items"), &items, &nitems, "list items") < 0)
		return;
	if (!on)
		return;		/* checked; its platform is not enabled */
	l = list_find(c, name);
	if (append && l == NULL) {
		cerr(c, c->file, yamldoc_line(m), "append to unknown list \"%s\"", name);
		return;
	}
	if (l == NULL) {
		c->list = xgrow(c->list, c->nlist, sizeof(*c->list));
		l = c->list[c->nlist++] = arena_alloc(c->ar, sizeof(*l));
		l->name = name;
	}
	if (append) {
		struct lit *all = arena_alloc(c->ar, sizeof(*all) * (l->nitem + nitems + 1));
		memcpy(all, l->item, sizeof(*all) * l->nitem);
		memcpy(all + l->nitem, items, sizeof(*all) * nitems);
		l->item = all;
		l->nitem += nitems;
	} else {
		l->item = items;
		l->nitem = nitems;
		l->file = c->file;
		l->line = yamldoc_line(m);
	}
}

/* A block scalar (| or >) starts on the line after its indicator. */
static int
block_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE &&
	    (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE);
}

/* A condition's syntax alone, fields unchecked (a macro may be meant for
 * use inside any/all): unused macros and macros of platforms not enabled. */
static void
cond_syntax(struct compiler *c, const char *file, int line, const char *text, size_t len)
{
	struct cond_ctx cc = { .ar = c->ar, .file = file, .line = line, .errs = c->errs,
	    .lenient = 1 };

	if (cond_compile(&cc, text, len, 0) == NULL)
		c->nerr++;
}

static struct pmacro *
macro_find(struct compiler *c, const char *name)
{
	for (size_t i = 0; i < c->nmacro; i++)
		if (strcmp(c->macro[i]->name, name) == 0)
			return c->macro[i];
	return NULL;
}

static void
doc_macro(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	static const char *const keys[] = { "macro", "condition", "append", "platform", NULL };
	const char *name = get_str(c, d, m, "macro", 1, "macro");
	const char *cond = get_str(c, d, m, "condition", 1, "macro");
	int append = get_bool(c, d, m, "append", 0), on;
	int line = yamldoc_line(yamldoc_get(d, m, "condition")) +
	    block_scalar(yamldoc_get(d, m, "condition"));
	struct pmacro *mac;

	if (check_keys(c, d, m, "macro", keys) < 0 || name == NULL || cond == NULL)
		return;
	if ((on = item_platform(c, d, m, "macro")) < 0)
		return;
	if (!on) {	/* its platform is not enabled: syntax only */
		cond_syntax(c, c->file, line, cond, strlen(cond));
		return;
	}
	mac = macro_find(c, name);
	if (append && mac == NULL) {
		cerr(c, c->file, yamldoc_line(m), "append to unknown macro \"%s\"", name);
		return;
	}
	if (mac == NULL) {
		c->macro = xgrow(c->macro, c->nmacro, sizeof(*c->macro));
		mac = c->macro[c->nmacro++] = arena_alloc(c->ar, sizeof(*mac));
		mac->name = name;
	}
	if (!append) {
		free(mac->part);
		mac->part = NULL;
		mac->npart = 0;
	}
	mac->part = xgrow(mac->part, mac->npart, sizeof(*mac->part));
	mac->part[mac->npart++] = (struct mpart){ cond, strlen(cond), c->file, line };
}

/* --- exceptions ------------------------------------------------------------------ */

int
exc_strings(struct compiler *c, yaml_document_t *d, yaml_node_t *n,
    const char ***out, size_t *nout, const char *what)
{
	struct lit *l;
	size_t nl;

	if (yamldoc_scalar(n)) {
		*out = arena_alloc(c->ar, sizeof(**out));
		(*out)[0] = adup(c, yamldoc_scalar(n));
		*nout = 1;
		return 0;
	}
	if (get_lits(c, d, n, &l, &nl, what) < 0)
		return -1;
	*out = arena_alloc(c->ar, sizeof(**out) * (nl ? nl : 1));
	for (size_t i = 0; i < nl; i++)
		(*out)[i] = l[i].s;
	*nout = nl;
	return 0;
}

int
exc_value(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct evalue *v)
{
	memset(v, 0, sizeof(*v));
	if (yamldoc_scalar(n)) {
		lit_from_node(c, n, &v->l);
		return 0;
	}
	v->is_seq = 1;
	return get_lits(c, d, n, &v->seq, &v->nseq, "exception value");
}

/* values: [[a, b], [c, d]], or [a, b] for a single field. */
static int
exc_values(struct compiler *c, yaml_document_t *d, yaml_node_t *vals, struct pexc *e)
{
	size_t n, k = 0;

	if (vals == NULL)
		return 0;
	if (vals->type != YAML_SEQUENCE_NODE) {
		cerr(c, c->file, yamldoc_line(vals), "exception %s: values must be a list", e->name);
		return -1;
	}
	n = (size_t)(vals->data.sequence.items.top - vals->data.sequence.items.start);
	e->val = xrealloc(e->val, sizeof(*e->val) * (e->nval + n) * e->nfield + 1);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *t = yaml_document_get_node(d, vals->data.sequence.items.start[i]);
		struct evalue *row = &e->val[(e->nval + k) * e->nfield];
		if (e->nfield == 1 && (yamldoc_scalar(t) || strcmp(e->comp[0], "in") == 0)) {
			if (exc_value(c, d, t, &row[0]) < 0)
				return -1;
		} else {
			size_t m = t && t->type == YAML_SEQUENCE_NODE ?
			    (size_t)(t->data.sequence.items.top - t->data.sequence.items.start) : 0;
			if (m != e->nfield) {
				cerr(c, c->file, yamldoc_line(t),
				    "exception %s: each value needs %zu items, one per field",
				    e->name, e->nfield);
				return -1;
			}
			for (size_t j = 0; j < m; j++)
				if (exc_value(c, d, yaml_document_get_node(d,
				    t->data.sequence.items.start[j]), &row[j]) < 0)
					return -1;
		}
		k++;
	}
	e->nval += k;
	return 0;
}

static struct pexc *
exc_find(struct prule *pr, const char *name)
{
	for (size_t i = 0; i < pr->nexc; i++)
		if (strcmp(pr->exc[i].name, name) == 0)
			return &pr->exc[i];
	return NULL;
}

static int
exc_new(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct pexc *e,
    const char *name)
{
	yaml_node_t *fields = yamldoc_get(d, m, "fields"), *comps = yamldoc_get(d, m, "comps");
	size_t ncomp = 0;

	memset(e, 0, sizeof(*e));
	e->name = name;
	e->file = c->file;
	e->line = yamldoc_line(m);
	if (fields == NULL) {
		cerr(c, c->file, yamldoc_line(m), "exception %s: missing fields", name);
		return -1;
	}
	if (exc_strings(c, d, fields, &e->field, &e->nfield, "exception fields") < 0)
		return -1;
	if (e->nfield == 0) {
		cerr(c, c->file, yamldoc_line(fields), "exception %s: fields is empty", name);
		return -1;
	}
	e->comp = arena_alloc(c->ar, sizeof(*e->comp) * e->nfield);
	for (size_t i = 0; i < e->nfield; i++)
		e->comp[i] = "=";
	if (comps) {
		const char **cs;
		if (exc_strings(c, d, comps, &cs, &ncomp, "exception comps") < 0)
			return -1;
		if (ncomp != e->nfield) {
			cerr(c, c->file, yamldoc_line(comps),
			    "exception %s: comps needs one operator per field", name);
			return -1;
		}
		memcpy(e->comp, cs, sizeof(*cs) * ncomp);
	}
	return 0;
}

static void
rule_exceptions(struct compiler *c, yaml_document_t *d, yaml_node_t *seq, struct prule *pr)
{
	static const char *const keys[] = { "name", "fields", "comps", "values", NULL };

	if (seq == NULL)
		return;
	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, c->file, yamldoc_line(seq), "exceptions must be a list");
		return;
	}
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	    i < seq->data.sequence.items.top; i++) {
		yaml_node_t *m = yaml_document_get_node(d, *i);
		const char *name;
		struct pexc *e;
		if (m == NULL || m->type != YAML_MAPPING_NODE) {
			cerr(c, c->file, yamldoc_line(m), "an exception must be a mapping");
			continue;
		}
		if (check_keys(c, d, m, "exception", keys) < 0 ||
		    (name = get_str(c, d, m, "name", 1, "exception")) == NULL)
			continue;
		if ((e = exc_find(pr, name)) == NULL) {
			pr->exc = xgrow(pr->exc, pr->nexc, sizeof(*pr->exc));
			e = &pr->exc[pr->nexc];
			if (exc_new(c, d, m, e, name) < 0)
				continue;
			pr->nexc++;
		} else if (yamldoc_get(d, m, "fields") || yamldoc_get(d, m, "comps")) {
			cerr(c, c->file, yamldoc_line(m),
			    "exception %s already exists: only values can be appended", name);
			continue;
		}
		(void)exc_values(c, d, yamldoc_get(d, m, "values"), e);
	}
}

/* --- rules ------------------------------------------------------------------------ */

struct prule *
prule_find(struct compiler *c, const char *id)
{
	for (size_t i = 0; i < c->nrule; i++)
		if (strcmp(c->rule[i]->r->id, id) == 0)
			return c->rule[i];
	return NULL;
}

int
id_valid(const char *id)
{
	if (*id == '\0' || *id == '.')
		return 0;
	for (const char *p = id; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

void
rule_tags(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct rule *r)
{
	struct lit *l;
	size_t nl;

	if (n == NULL)
		return;
	if (get_lits(c, d, n, &l, &nl, "tags") < 0)
		return;
	r->tags = arena_alloc(c->ar, sizeof(*r->tags) * (nl ? nl : 1));
	for (size_t i = 0; i < nl; i++)
		r->tags[i] = l[i].s;
	r->ntags = nl;
}

static void
rule_stages(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct rule *r)
{
	struct lit *l;
	size_t nl;

	r->stages = STAGE_RESPONSE_COMPLETE;
	if (n == NULL || get_lits(c, d, n, &l, &nl, "stages") < 0)
		return;
	r->stages = 0;
	for (size_t i = 0; i < nl; i++) {
		size_t k;
		for (k = 0; k < sizeof(stage_names) / sizeof(stage_names[0]); k++)
			if (strcmp(l[i].s, stage_names[k].name) == 0)
				break;
		if (k == sizeof(stage_names) / sizeof(stage_names[0]))
			cerr(c, c->file, yamldoc_line(n), "unknown stage \"%s\" (RequestReceived, "
			    "ResponseStarted, ResponseComplete or Panic)", l[i].s);
		else
			r->stages |= stage_names[k].bit;
	}
	if (r->stages == 0 && nl == 0)
		cerr(c, c->file, yamldoc_line(n), "stages is empty");
}

void
rule_classify(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct rule *r)
{
	const char *sev = get_str(c, d, m, "severity", 1, "rule");
	const char *cat = get_str(c, d, m, "category", 1, "rule");
	size_t i;

	if (sev && severity_parse(sev, &r->severity) < 0)
		cerr(c, c->file, yamldoc_line(yamldoc_get(d, m, "severity")),
		    "unknown severity \"%s\" (info, low, medium, high or critical)", sev);
	if (cat) {
		for (i = 0; i < sizeof(categories) / sizeof(categories[0]); i++)
			if (strcmp(cat, categories[i]) == 0)
				break;
		if (i == sizeof(categories) / sizeof(categories[0]))
			cerr(c, c->file, yamldoc_line(yamldoc_get(d, m, "category")),
			    "unknown category \"%s\"", cat);
		r->category = cat;
	}
}

static void
rule_new(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *id)
{
	static const char *const keys[] = { "rule", "title", "description", "condition",
	    "output", "severity", "category", "tags", "enabled", "exceptions", "stages",
	    "alert", "suppress", NULL };
	struct prule *pr = arena_alloc(c->ar, sizeof(*pr));
	struct rule *r = pr->r = arena_alloc(c->ar, sizeof(*r));
	yaml_node_t *cond = yamldoc_get(d, m, "condition");

	(void)check_keys(c, d, m, "rule", keys);
	r->id = id;
	r->file = c->file;
	r->line = yamldoc_line(m);
	r->title = get_str(c, d, m, "title", 1, "rule");
	r->description = get_str(c, d, m, "description", 0, "rule");
	pr->cond = get_str(c, d, m, "condition", 1, "rule");
	pr->condlen = pr->cond ? strlen(pr->cond) : 0;
	pr->condline = yamldoc_line(cond) + block_scalar(cond);
	pr->output = get_str(c, d, m, "output", 0, "rule");
	pr->outline = yamldoc_line(yamldoc_get(d, m, "output"));
	rule_classify(c, d, m, r);
	rule_tags(c, d, yamldoc_get(d, m, "tags"), r);
	rule_stages(c, d, yamldoc_get(d, m, "stages"), r);
	r->enabled = get_bool(c, d, m, "enabled", 1);
	r->alert = 1;
	rule_exceptions(c, d, yamldoc_get(d, m, "exceptions"), pr);
	rule_state_keys(c, d, m, pr);
	c->rule = xgrow(c->rule, c->nrule, sizeof(*c->rule));
	c->rule[c->nrule++] = pr;
}

/* A later document naming an existing rule: `append: true` adds exception
 * values; a mapping of only `rule` and `enabled` switches it on or off. */
static void
rule_override(struct compiler *c, yaml_document_t *d, yaml_node_t *m,
    struct prule *pr, int append)
{
	static const char *const app_keys[] = { "rule", "append", "exceptions", "enabled",
	    "alert", "suppress", NULL };
	static const char *const en_keys[] = { "rule", "enabled", NULL };

	if (!append) {
		if (yamldoc_get(d, m, "enabled") == NULL || check_keys(c, d, m, "rule", en_keys) < 0) {
			cerr(c, c->file, yamldoc_line(m), "duplicate rule id \"%s\" (first defined at %s:%d)",
			    pr->r->id, pr->r->file, pr->r->line);
			return;
		}
	} else if (check_keys(c, d, m, "rule append", app_keys) < 0) {
		return;
	}
	pr->r->enabled = get_bool(c, d, m, "enabled", pr->r->enabled);
	rule_exceptions(c, d, yamldoc_get(d, m, "exceptions"), pr);
	if (append)
		rule_state_keys(c, d, m, pr);
}

static void
doc_rule(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	const char *id = get_str(c, d, m, "rule", 1, "rule");
	int append = get_bool(c, d, m, "append", 0);
	struct prule *pr;

	if (id == NULL)
		return;
	if (!id_valid(id)) {
		cerr(c, c->file, yamldoc_line(m), "rule id \"%s\": use lowercase letters, digits, "
		    "dots, '-' and '_'", id);
		return;
	}
	if ((pr = prule_find(c, id)) != NULL) {
		rule_override(c, d, m, pr, append);
	} else if (append || (yamldoc_get(d, m, "enabled") && !yamldoc_get(d, m, "condition"))) {
		cerr(c, c->file, yamldoc_line(m), "override of unknown rule \"%s\"", id);
	} else {
		rule_new(c, d, m, id);
	}
}

static void
doc_item(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	if (m == NULL || m->type != YAML_MAPPING_NODE) {
		cerr(c, c->file, yamldoc_line(m), "expected a mapping with rule, correlation, list or macro");
		return;
	}
	if (sigma_doc(c, d, m))
		return;
	if (yamldoc_get(d, m, "rule"))
		doc_rule(c, d, m);
	else if (yamldoc_get(d, m, "correlation"))
		corr_doc(c, d, m);
	else if (yamldoc_get(d, m, "list"))
		doc_list(c, d, m);
	else if (yamldoc_get(d, m, "macro"))
		doc_macro(c, d, m);
	else
		cerr(c, c->file, yamldoc_line(m), "expected a mapping with rule, correlation, list or macro");
}

static int
doc_root(void *arg, yaml_document_t *d, yaml_node_t *root)
{
	struct compiler *c = arg;

	if (falco_detect(c, d, root)) {
		falco_doc(c, d, root);
		return 0;
	}
	if (root->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = root->data.sequence.items.start;
		    i < root->data.sequence.items.top; i++)
			doc_item(c, d, yaml_document_get_node(d, *i));
	} else if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
		return 0;	/* an empty document */
	} else {
		doc_item(c, d, root);
	}
	return 0;
}

/* --- name resolution --------------------------------------------------------------- */

/* Items naming another list are replaced by its items (Falco style). */
int
list_expand_with(struct compiler *c, struct rlist *l, int depth,
    struct rlist *(*find)(void *arg, const char *name), void *arg)
{
	struct lit *out = NULL;
	size_t n = 0, cap = 0;

	if (l->state == 2)
		return 0;
	if (l->state == 1 || depth > MACRO_MAX_DEPTH) {
		cerr(c, l->file, l->line, "list \"%s\" includes itself", l->name);
		return -1;
	}
	l->state = 1;
	for (size_t i = 0; i < l->nitem; i++) {
		struct rlist *sub = (l->item[i].flags & LIT_QUOTED) ? NULL : find(arg, l->item[i].s);
		const struct lit *from = sub ? sub->item : &l->item[i];
		size_t nfrom = 1;
		if (sub) {
			if (list_expand_with(c, sub, depth + 1, find, arg) < 0) {
				l->state = 2;
				return -1;
			}
			from = sub->item;
			nfrom = sub->nitem;
		}
		for (size_t k = 0; k < nfrom; k++) {
			if (n == cap) {
				struct lit *nv = arena_alloc(c->ar, sizeof(*nv) * (cap ? cap * 2 : 16));
				if (n)
					memcpy(nv, out, sizeof(*nv) * n);
				out = nv;
				cap = cap ? cap * 2 : 16;
			}
			out[n++] = from[k];
		}
	}
	l->item = out;
	l->nitem = n;
	l->state = 2;
	return 0;
}

static struct rlist *
list_find_arg(void *arg, const char *name)
{
	return list_find(arg, name);
}

static const struct rlist *
names_list(void *arg, const char *name)
{
	return list_find(arg, name);
}

static struct node *
macro_compile(struct compiler *c, struct pmacro *m, int rel, struct cond_ctx *outer)
{
	struct node **kid = arena_alloc(c->ar, sizeof(*kid) * m->npart);
	struct node *n;

	for (size_t i = 0; i < m->npart; i++) {
		struct cond_ctx cc = *outer;
		cc.file = m->part[i].file;
		cc.line = m->part[i].line;
		cc.depth = outer->depth + 1;
		if ((kid[i] = cond_compile(&cc, m->part[i].text, m->part[i].len, rel)) == NULL) {
			outer->nerr += cc.nerr;
			return NULL;
		}
	}
	if (m->npart == 1)
		return kid[0];
	n = arena_alloc(c->ar, sizeof(*n));
	n->kind = N_OR;
	n->kid = kid;
	n->nkid = m->npart;
	return n;
}

static struct node *
names_macro(void *arg, const char *name, int rel, struct cond_ctx *cc, int *found)
{
	struct compiler *c = arg;
	struct pmacro *m = macro_find(c, name);
	struct buf path;

	*found = m != NULL;
	if (m == NULL)
		return NULL;
	if (m->state[rel] == 2)
		return m->node[rel];
	if (m->state[rel] == -1)
		return NULL;
	if (m->state[rel] == 1 || c->nstack >= MACRO_MAX_DEPTH) {
		buf_init(&path);
		for (int i = 0; i < c->nstack; i++)
			buf_printf(&path, "%s -> ", c->stack[i]);
		buf_puts(&path, name);
		cerr(c, m->part[0].file, m->part[0].line, "macro cycle: %s", buf_cstr(&path));
		buf_free(&path);
		return NULL;
	}
	m->state[rel] = 1;
	c->stack[c->nstack++] = name;
	m->node[rel] = macro_compile(c, m, rel, cc);
	c->nstack--;
	if (m->node[rel] && !rel && m->node[rel]->kind != N_CMP) {
		struct node *memo = arena_alloc(c->ar, sizeof(*memo));
		memo->kind = N_MEMO;
		memo->kid = arena_alloc(c->ar, sizeof(*memo->kid));
		memo->kid[0] = m->node[rel];
		memo->nkid = 1;
		memo->memo = c->rs->nmemo++;
		m->node[rel] = memo;
	}
	m->state[rel] = m->node[rel] ? 2 : -1;
	return m->node[rel];
}

/* --- compiling a rule --------------------------------------------------------------- */

/* An exception becomes the tree (f1 c1 v1 and f2 c2 v2) or (...), built from
 * its parts: its values never pass through condition text again. */
static struct node *
exc_compile(struct compiler *c, const struct pexc *e, struct cond_ctx *base)
{
	struct cond_ctx cc = *base;
	struct node **alt, **all, *n = NULL;
	char what[160];

	for (size_t i = 0; i < e->nfield; i++) {
		if (!cond_op_known(e->comp[i])) {
			cerr(c, e->file, e->line, "exception %s: unknown comparison \"%s\"",
			    e->name, e->comp[i]);
			return NULL;
		}
	}
	if (e->nval == 0)
		return NULL;
	snprintf(what, sizeof(what), "exception %s", e->name);
	cc.file = e->file;
	cc.line = e->line;
	cc.nerr = 0;
	alt = xcalloc(e->nval, sizeof(*alt));
	all = xcalloc(e->nfield, sizeof(*all));
	for (size_t t = 0; t < e->nval; t++) {
		for (size_t i = 0; i < e->nfield; i++) {
			const struct evalue *v = &e->val[t * e->nfield + i];
			all[i] = cond_cmp(&cc, what, e->field[i], e->comp[i],
			    v->is_seq ? v->seq : &v->l, v->is_seq ? v->nseq : 1, v->is_seq);
			if (all[i] == NULL)
				goto out;
		}
		alt[t] = e->nfield == 1 ? all[0] : cond_group(c->ar, N_AND, all, e->nfield);
	}
	n = e->nval == 1 ? alt[0] : cond_group(c->ar, N_OR, alt, e->nval);
out:
	if (n == NULL)
		base->nerr++;
	free(alt);
	free(all);
	return n;
}

int
rule_template_text(struct compiler *c, struct rule *r, const char *s, int line, int corr)
{
	struct tmpl_seg *seg;
	size_t nseg = 0, cap = 8;

	if (s == NULL)
		return -1;
	seg = arena_alloc(c->ar, sizeof(*seg) * cap);
	while (*s) {
		const char *open = strstr(s, "%{"), *close;
		if (nseg + 2 >= cap) {
			struct tmpl_seg *ns = arena_alloc(c->ar, sizeof(*ns) * cap * 2);
			memcpy(ns, seg, sizeof(*ns) * nseg);
			seg = ns;
			cap *= 2;
		}
		if (open == NULL || (close = strchr(open, '}')) == NULL) {
			seg[nseg++] = (struct tmpl_seg){ .text = s, .len = strlen(s) };
			break;
		}
		if (open > s)
			seg[nseg++] = (struct tmpl_seg){ .text = s, .len = (size_t)(open - s) };
		if (corr && strncmp(open + 2, "correlation.", 12) == 0) {
			const char *name = arena_strndup(c->ar, open + 14, (size_t)(close - open - 14));
			if (!corr_field_known(name)) {
				cerr(c, r->file, line ? line : r->line, "output: unknown field "
				    "\"correlation.%s\" (count, distinct, first, last, span, key)", name);
				return -1;
			}
			seg[nseg++] = (struct tmpl_seg){ .corr = name };
		} else {
			char err[256];
			struct field *f = field_compile(c->ar, open + 2, (size_t)(close - open - 2),
			    0, err, sizeof(err));
			if (f == NULL) {
				cerr(c, r->file, line ? line : r->line, "output: %s", err);
				return -1;
			}
			seg[nseg++] = (struct tmpl_seg){ .f = f };
		}
		s = close + 1;
	}
	r->out = seg;
	r->nout = nseg;
	return 0;
}

static int
rule_template(struct compiler *c, struct prule *pr)
{
	return rule_template_text(c, pr->r, pr->output ? pr->output : pr->r->title,
	    pr->outline, 0);
}

static void
rule_compile(struct compiler *c, struct prule *pr, const struct cond_names *names)
{
	struct cond_ctx cc = { .ar = c->ar, .file = pr->r->file, .line = pr->condline,
	    .errs = c->errs, .names = names, .regexes = &c->rs->regex,
	    .nregexes = &c->rs->nregex };
	struct node *cond, *exc[64 + 1], *ex;
	size_t nexc = 0;

	if (pr->cond == NULL)
		return;
	cond = cond_compile(&cc, pr->cond, pr->condlen, 0);
	c->nerr += cc.nerr;
	for (size_t i = 0; i < pr->nexc; i++) {
		if (nexc == 64) {
			cerr(c, pr->exc[i].file, pr->exc[i].line, "more than 64 exceptions");
			break;
		}
		cc.nerr = 0;
		if ((ex = exc_compile(c, &pr->exc[i], &cc)) != NULL)
			exc[nexc++] = ex;
		c->nerr += cc.nerr;
	}
	if (rule_template(c, pr) < 0 || cond == NULL)
		return;
	if (nexc > 0) {
		struct node *any = cond_group(c->ar, N_OR, exc, nexc);
		struct node *not = cond_group(c->ar, N_NOT, &any, 1);
		struct node *both[2] = { cond, not };
		cond = cond_group(c->ar, N_AND, both, 2);
	}
	pr->r->cond = cond;
}

/* Attribution needs to know who makes objects for others: the macro
 * `controller_identity`. Without it, findings are never attributed. */
static void
attribution_setup(struct compiler *c, const struct cond_names *names)
{
	struct cond_ctx cc = { .ar = c->ar, .file = "(attribution)", .errs = c->errs,
	    .names = names, .regexes = &c->rs->regex, .nregexes = &c->rs->nregex };
	int found = 0;

	if (macro_find(c, "controller_identity") == NULL)
		return;
	c->rs->controller = names_macro(c, "controller_identity", 0, &cc, &found);
	c->nerr += cc.nerr;
	for (size_t i = 0; c->rs->controller && i < c->nrule; i++) {
		struct rule *r = c->rule[i]->r;
		r->attribute = r->category && strcmp(r->category, "workload") == 0 && !r->corr;
	}
}

/* The event archive's filter: a condition like a rule's, with the rules'
 * lists and macros. */
static void
archive_setup(struct compiler *c, const struct cond_names *names)
{
	const struct rules_options *o = c->o;
	struct cond_ctx cc = { .ar = c->ar, .errs = c->errs, .names = names,
	    .regexes = &c->rs->regex, .nregexes = &c->rs->nregex, .what = "archive.when" };

	if (o == NULL || o->archive_when == NULL)
		return;
	cc.file = o->origin ? o->origin : "(config)";
	cc.line = o->archive_line;
	c->rs->archive = cond_compile(&cc, o->archive_when, strlen(o->archive_when), 0);
	c->nerr += cc.nerr;
}

/* Unused macros still get a syntax check. */
static void
macros_check_unused(struct compiler *c)
{
	for (size_t i = 0; i < c->nmacro; i++) {
		struct pmacro *m = c->macro[i];
		if (m->state[0] || m->state[1])
			continue;
		for (size_t k = 0; k < m->npart; k++)
			cond_syntax(c, m->part[k].file, m->part[k].line, m->part[k].text,
			    m->part[k].len);
	}
}

/* --- options and entry points --------------------------------------------------------- */

/* Switches rules off by id and by tag. An id or tag that matches nothing is
 * an error: a typo there would leave on a rule its owner believes off. */
static void
apply_options(struct compiler *c, const struct rules_options *o)
{
	const char *origin;

	if (o == NULL)
		return;
	origin = o->origin ? o->origin : "(config)";
	for (size_t i = 0; i < o->ndisabled_ids; i++) {
		struct prule *pr = prule_find(c, o->disabled_ids[i]);
		if (pr == NULL)
			cerr(c, origin, o->ids_line, "disabled_rules: rule \"%s\" is not defined",
			    o->disabled_ids[i]);
		else
			pr->r->enabled = 0;
	}
	for (size_t k = 0; k < o->ndisabled_tags; k++) {
		int used = 0;
		for (size_t i = 0; i < c->nrule; i++)
			for (size_t t = 0; t < c->rule[i]->r->ntags; t++)
				if (strcmp(c->rule[i]->r->tags[t], o->disabled_tags[k]) == 0) {
					c->rule[i]->r->enabled = 0;
					used = 1;
				}
		if (!used)
			cerr(c, origin, o->tags_line, "disabled_tags: no rule has the tag \"%s\"",
			    o->disabled_tags[k]);
	}
}

static void
compiler_free(struct compiler *c)
{
	for (size_t i = 0; i < c->nrule; i++)
		for (size_t k = 0; k < c->rule[i]->nexc; k++)
			free(c->rule[i]->exc[k].val);
	for (size_t i = 0; i < c->nrule; i++)
		free(c->rule[i]->exc);
	for (size_t i = 0; i < c->nmacro; i++)
		free(c->macro[i]->part);
	for (size_t i = 0; i < c->nrule; i++)
		corr_free_pending(c->rule[i]);
	free(c->list);
	free(c->macro);
	free(c->rule);
	free(c->platform);
	falco_free(c);
}

struct ruleset *
ruleset_compile(const struct rule_source *src, size_t nsrc,
    const struct rules_options *o, struct buf *errs)
{
	struct ruleset *rs = xcalloc(1, sizeof(*rs));
	struct compiler c = { .rs = rs, .ar = &rs->ar, .errs = errs, .o = o };

	buf_init(&rs->warnings);
	struct cond_names names = { names_list, names_macro, &c };

	for (size_t i = 0; i < nsrc; i++) {
		c.file = arena_strndup(c.ar, src[i].name, strlen(src[i].name));
		if (yamldoc_each(c.file, src[i].text, src[i].len, doc_root, &c, errs) < 0)
			c.nerr++;
	}
	for (size_t i = 0; i < c.nlist; i++)
		(void)list_expand_with(&c, c.list[i], 0, list_find_arg, &c);
	falco_resolve(&c);
	for (size_t i = 0; i < c.nrule; i++)
		rule_compile(&c, c.rule[i], &names);
	attribution_setup(&c, &names);
	archive_setup(&c, &names);
	macros_check_unused(&c);
	apply_options(&c, o);
	platforms_check(&c, o);
	corr_resolve(&c);
	rs->rule = xcalloc(c.nrule ? c.nrule : 1, sizeof(*rs->rule));
	for (size_t i = 0; i < c.nrule; i++) {
		rs->rule[i] = c.rule[i]->r;
		rs->rule[i]->index = i;
	}
	rs->nrule = c.nrule;
	compiler_free(&c);
	if (c.nerr > 0) {
		ruleset_free(rs);
		return NULL;
	}
	for (size_t i = 0; i < rs->nrule; i++)
		cond_optimize(&rs->ar, rs->rule[i]->cond);
	cond_optimize(&rs->ar, rs->archive);
	cond_optimize(&rs->ar, rs->controller);
	ruleset_index(rs);
	return rs;
}

void
ruleset_free(struct ruleset *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->nregex; i++)
		pcre2_code_free(rs->regex[i]);
	free(rs->regex);
	ruleset_index_free(rs);
	for (size_t i = 0; i < rs->nrule; i++)
		json_decref(rs->rule[i]->head);
	free(rs->rule);
	buf_free(&rs->warnings);
	arena_free(&rs->ar);
	free(rs);
}

const char *
ruleset_warnings(const struct ruleset *rs, size_t *n)
{
	*n = rs->nwarnings;
	return rs->nwarnings ? rs->warnings.data : "";
}

size_t
ruleset_count(const struct ruleset *rs)
{
	return rs->nrule;
}

const struct rule *
ruleset_rule(const struct ruleset *rs, size_t i)
{
	return i < rs->nrule ? rs->rule[i] : NULL;
}

const char *
rule_id(const struct rule *r)
{
	return r->id;
}

static const char *
rule_format_name(enum rule_format f)
{
	return f == RULE_FALCO ? "falco" : f == RULE_SIGMA ? "sigma" : "kaudit";
}

json_t *
rule_describe(const struct rule *r)
{
	json_t *o = json_object(), *tags = json_array();

	for (size_t i = 0; i < r->ntags; i++)
		json_array_append_new(tags, json_string(r->tags[i]));
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "title", json_string(r->title ? r->title : ""));
	json_object_set_new(o, "severity", json_string(severity_name(r->severity)));
	json_object_set_new(o, "category", json_string(r->category ? r->category : ""));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "enabled", json_boolean(r->enabled));
	json_object_set_new(o, "kind", json_string(r->corr ? corr_kind_name(r->corr->kind) :
	    "rule"));
	json_object_set_new(o, "alert", json_boolean(r->alert));
	json_object_set_new(o, "format", json_string(rule_format_name(r->format)));
	json_object_set_new(o, "file", json_string(r->file ? r->file : ""));
	if (r->suppress) {
		char d[TIME_TEXT_MAX];
		duration_format(r->suppress->for_ms, d);
		json_object_set_new(o, "suppress", json_string(d));
	}
	return o;
}

int
rule_alerts(const struct rule *r)
{
	return r->alert;
}

int
rule_stateful(const struct rule *r)
{
	return r->corr != NULL || r->suppress != NULL;
}

const struct rule *
ruleset_find(const struct ruleset *rs, const char *id)
{
	for (size_t i = 0; i < rs->nrule; i++)
		if (strcmp(rs->rule[i]->id, id) == 0)
			return rs->rule[i];
	return NULL;
}

int
ruleset_stateful(const struct ruleset *rs)
{
	for (size_t i = 0; i < rs->nrule; i++) {
		const struct rule *r = rs->rule[i];
		if ((r->corr && r->enabled) || (r->suppress && r->enabled) ||
		    (r->attribute && r->enabled))
			return 1;
	}
	return 0;
}
