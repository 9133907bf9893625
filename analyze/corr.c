/* corr.c — compiling the rule forms that remember across events:
 * correlation documents (event_count, value_count, temporal,
 * temporal_ordered, first_seen: named and shaped after the Sigma correlation
 * specification v2) and the `alert` and `suppress` keys of a rule.
 *
 * A correlation has no condition of its own: it refers to rules by id. Its
 * documents are read in the first pass like rules (they share the id space,
 * so `enabled`, disabled_rules and disabled_tags apply to them too); once
 * every rule is compiled, corr_resolve() finds the rules each correlation
 * refers to, compiles the fields each of them must supply (the group_by key
 * after aliases, the counted value or the first_seen tuple), and lists the
 * correlation on each rule it needs, so evaluation knows which signals an
 * event yields. A rule that feeds an enabled correlation is evaluated even
 * when its own findings are switched off. */
#include "analyze/compile.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"
#include "base/yamldoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORR_STEPS_MAX	16

static const char *const corr_kinds[] = {
	[CK_EVENT_COUNT] = "event_count", [CK_VALUE_COUNT] = "value_count",
	[CK_TEMPORAL] = "temporal", [CK_TEMPORAL_ORDERED] = "temporal_ordered",
	[CK_FIRST_SEEN] = "first_seen",
};

struct psuppress {
	struct lit	*by;
	size_t		 nby;
	int		 line;
};

int
corr_field_known(const char *name)
{
	static const char *const known[] = { "count", "distinct", "first", "last", "span",
	    "key", NULL };

	for (size_t i = 0; known[i]; i++)
		if (strcmp(known[i], name) == 0)
			return 1;
	return 0;
}

const char *
corr_kind_name(enum corr_kind k)
{
	return corr_kinds[k];
}

/* A duration key (`10m`); def when absent; -1 after reporting. */
static int64_t
get_duration(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *key,
    int64_t def, const char *kind)
{
	yaml_node_t *n = yamldoc_get(d, m, key);
	const char *s = yamldoc_scalar(n);
	int64_t ms;

	if (n == NULL)
		return def;
	if (s == NULL || duration_parse(s, &ms) < 0 || ms <= 0) {
		cerr(c, c->file, yamldoc_line(n), "%s: %s: expected a duration such as 90s, 10m, "
		    "24h or 7d, got \"%s\"", kind, key, s ? s : "?");
		return -1;
	}
	return ms;
}

static int
get_ids(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *key,
    struct lit **out, size_t *nout, const char *kind)
{
	yaml_node_t *n = yamldoc_get(d, m, key);
	char what[64];

	*out = NULL;
	*nout = 0;
	if (n == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s: %s", kind, key);
	if (yamldoc_scalar(n)) {	/* one id stands for a list of one */
		*out = arena_alloc(c->ar, sizeof(**out));
		lit_from_node(c, n, *out);
		*nout = 1;
		return 0;
	}
	return get_lits(c, d, n, out, nout, what);
}

void
corr_aliases(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct pcorr *pc)
{
	if (n == NULL)
		return;
	if (n->type != YAML_MAPPING_NODE) {
		cerr(c, c->file, yamldoc_line(n), "correlation: aliases must be a mapping of "
		    "alias: {rule id: field}");
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		yaml_node_t *v = yaml_document_get_node(d, p->value);
		struct palias *a;

		if (yamldoc_scalar(k) == NULL || v == NULL || v->type != YAML_MAPPING_NODE) {
			cerr(c, c->file, yamldoc_line(k), "correlation: aliases: each alias maps "
			    "rule ids to fields");
			continue;
		}
		pc->alias = xgrow(pc->alias, pc->nalias, sizeof(*pc->alias));
		a = &pc->alias[pc->nalias++];
		memset(a, 0, sizeof(*a));
		a->name = adup(c, yamldoc_scalar(k));
		a->line = yamldoc_line(k);
		for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
		    q++) {
			const char *rid = yamldoc_scalar(yaml_document_get_node(d, q->key));
			const char *f = yamldoc_scalar(yaml_document_get_node(d, q->value));
			if (rid == NULL || f == NULL) {
				cerr(c, c->file, a->line, "correlation: alias %s: rule ids and "
				    "fields must be strings", a->name);
				continue;
			}
			a->rule = xrealloc(a->rule, sizeof(*a->rule) * (a->n + 1));
			a->field = xrealloc(a->field, sizeof(*a->field) * (a->n + 1));
			a->rule[a->n] = adup(c, rid);
			a->field[a->n++] = adup(c, f);
		}
	}
}

/* condition: {gte: N} or {gt: N}, with field for value_count. */
static void
corr_condition(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct rule *r,
    struct pcorr *pc)
{
	static const char *const keys[] = { "gte", "gt", "field", NULL };
	const char *gte, *gt, *field;
	char *end;
	long long v;

	if (n == NULL || n->type != YAML_MAPPING_NODE) {
		cerr(c, c->file, n ? yamldoc_line(n) : pc->line, "correlation: %s needs "
		    "condition: {gte: N%s}", corr_kinds[r->corr->kind],
		    r->corr->kind == CK_VALUE_COUNT ? ", field: FIELD" : "");
		return;
	}
	if (check_keys(c, d, n, "correlation condition", keys) < 0)
		return;
	gte = get_str(c, d, n, "gte", 0, "correlation condition");
	gt = get_str(c, d, n, "gt", 0, "correlation condition");
	field = get_str(c, d, n, "field", 0, "correlation condition");
	if ((gte == NULL) == (gt == NULL)) {
		cerr(c, c->file, yamldoc_line(n), "correlation condition: give one of gte or gt");
		return;
	}
	v = strtoll(gte ? gte : gt, &end, 10);
	if (*end != '\0' || end == (gte ? gte : gt) || v < 0 || v > 1000000 || (gt && v == 1000000)) {
		cerr(c, c->file, yamldoc_line(n), "correlation condition: expected a whole number "
		    "from 0 to 1000000, got \"%s\"", gte ? gte : gt);
		return;
	}
	r->corr->gte = gt ? v + 1 : v;
	if (r->corr->gte < 1)
		r->corr->gte = 1;
	if (r->corr->kind == CK_VALUE_COUNT) {
		if (field == NULL) {
			cerr(c, c->file, yamldoc_line(n), "correlation condition: value_count "
			    "needs field");
			return;
		}
		pc->values = arena_alloc(c->ar, sizeof(*pc->values));
		pc->values[0] = (struct lit){ .s = field, .n = strlen(field) };
		pc->nvalues = 1;
	} else if (field) {
		cerr(c, c->file, yamldoc_line(n), "correlation condition: field is for value_count");
	}
}

static int
corr_kind_parse(struct compiler *c, const char *type, int line, enum corr_kind *k)
{
	for (size_t i = 0; i < sizeof(corr_kinds) / sizeof(corr_kinds[0]); i++) {
		if (type && strcmp(type, corr_kinds[i]) == 0) {
			*k = (enum corr_kind)i;
			return 0;
		}
	}
	cerr(c, c->file, line, "correlation: type must be event_count, value_count, temporal, "
	    "temporal_ordered or first_seen%s%s%s", type ? " (got \"" : "", type ? type : "",
	    type ? "\")" : "");
	return -1;
}

/* Which keys a correlation of this kind takes, beyond the common ones. */
static void
corr_kind_keys(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct rule *r,
    struct pcorr *pc)
{
	struct corr *k = r->corr;
	int temporal = k->kind == CK_TEMPORAL || k->kind == CK_TEMPORAL_ORDERED;

	if (k->kind != CK_FIRST_SEEN) {
		if (yamldoc_get(d, m, "timespan") == NULL)
			cerr(c, c->file, pc->line, "correlation: %s needs timespan", corr_kinds[k->kind]);
		k->span_ms = get_duration(c, d, m, "timespan", 0, "correlation");
	}
	if (k->kind == CK_EVENT_COUNT || k->kind == CK_VALUE_COUNT)
		corr_condition(c, d, yamldoc_get(d, m, "condition"), r, pc);
	else if (yamldoc_get(d, m, "condition"))
		cerr(c, c->file, yamldoc_line(yamldoc_get(d, m, "condition")),
		    "correlation: condition is for event_count and value_count");
	if (!temporal && (yamldoc_get(d, m, "until") || yamldoc_get(d, m, "absent")))
		cerr(c, c->file, pc->line, "correlation: until and absent are for temporal "
		    "and temporal_ordered");
	if (temporal) {
		(void)get_ids(c, d, m, "until", &pc->until, &pc->nuntil, "correlation");
		pc->absent = get_str(c, d, m, "absent", 0, "correlation");
		if (pc->absent && k->kind != CK_TEMPORAL_ORDERED)
			cerr(c, c->file, pc->line, "correlation: absent is for temporal_ordered");
		if (pc->nsteps < 2 && pc->absent == NULL)
			cerr(c, c->file, pc->line, "correlation: %s needs at least two rules "
			    "(or one and absent)", corr_kinds[k->kind]);
	}
	if (k->kind == CK_FIRST_SEEN) {
		if (get_ids(c, d, m, "fields", &pc->values, &pc->nvalues, "correlation") == 0 &&
		    pc->nvalues == 0)
			cerr(c, c->file, pc->line, "correlation: first_seen needs fields");
		k->history_ms = get_duration(c, d, m, "history", 30LL * 86400000, "correlation");
		k->learning_ms = get_duration(c, d, m, "learning", 0, "correlation");
		if (yamldoc_get(d, m, "learning") == NULL)
			k->learning_ms = 0;
	} else if (yamldoc_get(d, m, "fields") || yamldoc_get(d, m, "history") ||
	    yamldoc_get(d, m, "learning")) {
		cerr(c, c->file, pc->line, "correlation: fields, history and learning are for "
		    "first_seen");
	}
}

void
corr_doc(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	static const char *const keys[] = { "correlation", "title", "description", "type",
	    "rules", "group_by", "aliases", "timespan", "condition", "until", "absent",
	    "fields", "history", "learning", "severity", "category", "tags", "output",
	    "enabled", "alert", NULL };
	const char *id = get_str(c, d, m, "correlation", 1, "correlation");
	struct prule *pr;
	struct pcorr *pc;
	struct rule *r;

	if (id == NULL)
		return;
	if (!id_valid(id)) {
		cerr(c, c->file, yamldoc_line(m), "correlation id \"%s\": use lowercase letters, "
		    "digits, dots, '-' and '_'", id);
		return;
	}
	if ((pr = prule_find(c, id)) != NULL) {
		cerr(c, c->file, yamldoc_line(m), "duplicate rule id \"%s\" (first defined at %s:%d)",
		    id, pr->r->file, pr->r->line);
		return;
	}
	(void)check_keys(c, d, m, "correlation", keys);
	pr = arena_alloc(c->ar, sizeof(*pr));
	r = pr->r = arena_alloc(c->ar, sizeof(*r));
	pc = pr->corr = xcalloc(1, sizeof(*pc));
	r->corr = arena_alloc(c->ar, sizeof(*r->corr));
	r->id = id;
	r->file = c->file;
	r->line = pc->line = yamldoc_line(m);
	r->title = get_str(c, d, m, "title", 1, "correlation");
	r->description = get_str(c, d, m, "description", 0, "correlation");
	r->enabled = get_bool(c, d, m, "enabled", 1);
	r->alert = get_bool(c, d, m, "alert", 1);
	r->stages = 0;
	rule_classify(c, d, m, r);
	rule_tags(c, d, yamldoc_get(d, m, "tags"), r);
	pc->output = get_str(c, d, m, "output", 0, "correlation");
	pc->outline = yamldoc_line(yamldoc_get(d, m, "output"));
	if (corr_kind_parse(c, get_str(c, d, m, "type", 1, "correlation"), r->line,
	    &r->corr->kind) == 0) {
		if (yamldoc_get(d, m, "rules") == NULL)
			cerr(c, c->file, r->line, "correlation: missing rules");
		else if (get_ids(c, d, m, "rules", &pc->steps, &pc->nsteps, "correlation") == 0 &&
		    (pc->nsteps == 0 || pc->nsteps > CORR_STEPS_MAX))
			cerr(c, c->file, r->line, "correlation: rules needs 1 to %d rule ids",
			    CORR_STEPS_MAX);
		(void)get_ids(c, d, m, "group_by", &pc->group, &pc->ngroup, "correlation");
		corr_aliases(c, d, yamldoc_get(d, m, "aliases"), pc);
		corr_kind_keys(c, d, m, r, pc);
	}
	c->rule = xgrow(c->rule, c->nrule, sizeof(*c->rule));
	c->rule[c->nrule++] = pr;
}

void
rule_state_keys(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct prule *pr)
{
	static const char *const keys[] = { "by", "for", NULL };
	yaml_node_t *n = yamldoc_get(d, m, "suppress");
	struct psuppress *ps;
	int64_t ms;

	pr->r->alert = get_bool(c, d, m, "alert", pr->r->alert);
	if (n == NULL)
		return;
	if (n->type != YAML_MAPPING_NODE || check_keys(c, d, n, "suppress", keys) < 0) {
		if (n->type != YAML_MAPPING_NODE)
			cerr(c, c->file, yamldoc_line(n), "suppress: expected {by: [fields], for: 24h}");
		return;
	}
	if ((ms = get_duration(c, d, n, "for", -1, "suppress")) <= 0) {
		if (yamldoc_get(d, n, "for") == NULL)
			cerr(c, c->file, yamldoc_line(n), "suppress: missing for");
		return;
	}
	ps = pr->suppress ? pr->suppress : (pr->suppress = xcalloc(1, sizeof(*ps)));
	ps->line = yamldoc_line(n);
	if (get_ids(c, d, n, "by", &ps->by, &ps->nby, "suppress") < 0)
		return;
	if (pr->r->suppress == NULL)
		pr->r->suppress = arena_alloc(c->ar, sizeof(*pr->r->suppress));
	pr->r->suppress->for_ms = ms;
}

/* --- resolution ------------------------------------------------------------------------ */

static struct field *
feed_field(struct compiler *c, struct rule *corr, const struct pcorr *pc, const char *name,
    const struct rule *from)
{
	const char *text = name;
	struct field *f;
	char err[256];

	for (size_t i = 0; i < pc->nalias; i++) {
		if (strcmp(pc->alias[i].name, name) != 0)
			continue;
		text = NULL;
		for (size_t k = 0; k < pc->alias[i].n; k++)
			if (strcmp(pc->alias[i].rule[k], from->id) == 0 ||
			    (corr->format == RULE_SIGMA && sigma_named(c, from, pc->alias[i].rule[k])))
				text = pc->alias[i].field[k];
		if (text == NULL) {
			cerr(c, corr->file, pc->alias[i].line, "correlation %s: alias %s names no "
			    "field for rule %s", corr->id, name, from->id);
			return NULL;
		}
	}
	if ((f = field_compile(c->ar, text, strlen(text), 0, err, sizeof(err))) == NULL)
		cerr(c, corr->file, pc->line, "correlation %s: %s", corr->id, err);
	return f;
}

static struct rule *
feed_rule(struct compiler *c, struct rule *corr, const struct pcorr *pc, const char *id)
{
	struct prule *p = corr->format == RULE_SIGMA ? sigma_ref(c, id) : prule_find(c, id);

	if (p == NULL) {
		cerr(c, corr->file, pc->line, "correlation %s: rule \"%s\" is not defined",
		    corr->id, id);
		return NULL;
	}
	if (p->r->corr) {
		cerr(c, corr->file, pc->line, "correlation %s: \"%s\" is a correlation; refer "
		    "to rules", corr->id, id);
		return NULL;
	}
	return p->r;
}

static void
feed_add(struct compiler *c, struct rule *corr, const struct pcorr *pc, const char *id, int step)
{
	struct corr *k = corr->corr;
	struct corr_feed *f;
	struct rule *from = feed_rule(c, corr, pc, id);

	if (from == NULL)
		return;
	f = &k->feed[k->nfeed++];
	f->rule = from;
	f->corr = corr;
	f->step = step;
	f->key = arena_alloc(c->ar, sizeof(*f->key) * (pc->ngroup + 1));
	f->value = arena_alloc(c->ar, sizeof(*f->value) * (pc->nvalues + 1));
	for (size_t g = 0; g < pc->ngroup; g++)
		f->key[g] = feed_field(c, corr, pc, pc->group[g].s, from);
	for (size_t v = 0; v < pc->nvalues && step >= 0; v++)
		f->value[v] = feed_field(c, corr, pc, pc->values[v].s, from);
	if (step >= 0)
		k->step[step] = from;
}

static void
corr_resolve_one(struct compiler *c, struct prule *pr)
{
	struct pcorr *pc = pr->corr;
	struct rule *r = pr->r;
	struct corr *k = r->corr;

	k->nstep = pc->nsteps;
	k->step = arena_alloc(c->ar, sizeof(*k->step) * (pc->nsteps + 1));
	k->feed = arena_alloc(c->ar, sizeof(*k->feed) * (pc->nsteps + pc->nuntil + 2));
	k->ngroup = pc->ngroup;
	k->group = arena_alloc(c->ar, sizeof(*k->group) * (pc->ngroup + 1));
	for (size_t g = 0; g < pc->ngroup; g++)
		k->group[g] = pc->group[g].s;
	k->nvalue = pc->nvalues;
	k->value_name = arena_alloc(c->ar, sizeof(*k->value_name) * (pc->nvalues + 1));
	for (size_t v = 0; v < pc->nvalues; v++)
		k->value_name[v] = pc->values[v].s;
	for (size_t i = 0; i < pc->nsteps; i++)
		feed_add(c, r, pc, pc->steps[i].s, (int)i);
	for (size_t i = 0; i < pc->nuntil; i++)
		feed_add(c, r, pc, pc->until[i].s, SIGNAL_UNTIL);
	if (pc->absent)
		feed_add(c, r, pc, pc->absent, SIGNAL_ABSENT);
	if (r->format == RULE_SIGMA)
		sigma_message(c, pr);
	else
		(void)rule_template_text(c, r, pc->output ? pc->output : r->title, pc->outline, 1);
}

/* Lists each enabled correlation on the rules that feed it. */
static void
corr_link(struct compiler *c, struct rule *r)
{
	struct corr *k = r->corr;

	for (size_t i = 0; i < k->nfeed; i++) {
		struct rule *from = k->feed[i].rule;
		struct corr_feed **nf = arena_alloc(c->ar, sizeof(*nf) * (from->nfeeds + 1));
		if (from->nfeeds)
			memcpy(nf, from->feeds, sizeof(*nf) * from->nfeeds);
		nf[from->nfeeds++] = &k->feed[i];
		from->feeds = nf;
		from->needed = 1;
	}
}

static void
suppress_resolve(struct compiler *c, struct prule *pr)
{
	struct psuppress *ps = pr->suppress;
	struct suppress *s = pr->r->suppress;
	char err[256];

	s->nby = ps->nby;
	s->name = arena_alloc(c->ar, sizeof(*s->name) * (ps->nby + 1));
	s->by = arena_alloc(c->ar, sizeof(*s->by) * (ps->nby + 1));
	for (size_t i = 0; i < ps->nby; i++) {
		s->name[i] = ps->by[i].s;
		if ((s->by[i] = field_compile(c->ar, ps->by[i].s, ps->by[i].n, 0, err,
		    sizeof(err))) == NULL)
			cerr(c, pr->r->file, ps->line, "suppress: %s", err);
	}
}

/* 1 when a correlation that keeps its rules' own findings refers to r. */
static int
corr_shows(struct compiler *c, const struct rule *r)
{
	for (size_t i = 0; i < c->nrule; i++) {
		const struct prule *q = c->rule[i];
		if (q->corr == NULL || q->corr->hide_steps)
			continue;
		for (size_t s = 0; s < q->r->corr->nstep; s++)
			if (q->r->corr->step[s] == r)
				return 1;
	}
	return 0;
}

/* Sigma's `generate: false` (its default): the rules a correlation refers
 * to make no findings of their own, unless another correlation over the
 * same rule keeps them. */
static void
corr_hide_steps(struct compiler *c)
{
	for (size_t i = 0; i < c->nrule; i++) {
		const struct prule *pr = c->rule[i];
		if (pr->corr == NULL || !pr->corr->hide_steps)
			continue;
		for (size_t s = 0; s < pr->r->corr->nstep; s++) {
			struct rule *r = pr->r->corr->step[s];
			if (r && !corr_shows(c, r))
				r->enabled = 0;
		}
	}
}

void
corr_resolve(struct compiler *c)
{
	for (size_t i = 0; i < c->nrule; i++) {
		struct prule *pr = c->rule[i];
		if (pr->corr)
			corr_resolve_one(c, pr);
		if (pr->suppress && pr->r->suppress)
			suppress_resolve(c, pr);
	}
	corr_hide_steps(c);
	for (size_t i = 0; i < c->nrule; i++)
		c->rule[i]->r->needed |= c->rule[i]->r->enabled && !c->rule[i]->r->corr;
	for (size_t i = 0; i < c->nrule; i++)
		if (c->rule[i]->corr && c->rule[i]->r->enabled)
			corr_link(c, c->rule[i]->r);
}

void
corr_free_pending(struct prule *pr)
{
	if (pr->corr) {
		for (size_t i = 0; i < pr->corr->nalias; i++) {
			free(pr->corr->alias[i].rule);
			free(pr->corr->alias[i].field);
		}
		free(pr->corr->alias);
		free(pr->corr);
	}
	free(pr->suppress);
}
