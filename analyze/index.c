/* index.c — the rule index: which rules an event can match, read off the
 * compiled conditions once so that evaluation skips every rule whose verb,
 * resource or subresource cannot match (see eval.c for the lookup).
 *
 * A rule's constraints are the literal values the verb, the resource or the
 * subresource must have for its condition to hold: `field = v` and
 * `field in (...)` conjuncts of its top-level AND, or an OR each branch of
 * which pins the same key, or a regex that stands for whole values (a Sigma
 * rule's values, which ignore case: node.set holds them). The rule then
 * waits in the buckets of its most selective key (subresource, then
 * resource, then verb); a rule with no constraint is a catch-all, evaluated
 * for every event. Keys are compared in lower case on both sides (eval.c
 * lowers the event's): the index only narrows, the condition decides, so a
 * rule that compares case still sees every event it could match. A Falco
 * rule's condition (one N_FALCO node) is read the same way through its own
 * `and` chain of ka.verb, ka.target.resource and ka.target.subresource. */
#include "analyze/falco.h"
#include "analyze/rules_impl.h"
#include "base/hash.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static struct bucket *
rindex_slot(const struct rindex *x, const char *s, size_t n)
{
	size_t i;

	if (x->cap == 0)
		return NULL;
	for (i = fnv1a64(FNV1A64_INIT, s, n) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		struct bucket *b = &x->b[i];
		if (b->key == NULL || (b->len == n && memcmp(b->key, s, n) == 0))
			return b;
	}
}

const struct bucket *
rindex_find(const struct rindex *x, const char *s, size_t n)
{
	struct bucket *b = rindex_slot(x, s, n);
	return b && b->key ? b : NULL;
}

static void
rindex_add(struct ruleset *rs, struct rindex *x, const struct lit *key, uint32_t rule)
{
	struct bucket *b = rindex_slot(x, key->s, key->n);

	if (b->key == NULL) {
		b->key = key->s;
		b->len = key->n;
	}
	if (b->nrule && b->rule[b->nrule - 1] == rule)
		return;
	b->rule = xgrow(b->rule, b->nrule, sizeof(*b->rule));
	b->rule[b->nrule++] = rule;
}

/* Collects the conjuncts of the top-level AND chain. */
static void
conjuncts(const struct node *n, const struct node **out, size_t *nout, size_t max)
{
	if (n->kind == N_AND || n->kind == N_MEMO) {
		for (size_t i = 0; i < n->nkid; i++)
			conjuncts(n->kid[i], out, nout, max);
	} else if (*nout < max) {
		out[(*nout)++] = n;
	}
}

#define PIN_MAX	256	/* values an OR may pin a key to */

/* Appends to v[] the values key ik must have for k to hold, when k pins
 * them: `field = v`, `field in (...)`, an AND with such a conjunct, or an OR
 * each branch of which pins ik. Returns 0 when k does not (or too widely). */
static int
pin_values(const struct node *k, enum ikey ik, struct lit *v, size_t *nv)
{
	size_t save = *nv;

	switch (k->kind) {
	case N_CMP:
		if (k->f->ikey != ik)
			return 0;
		if (k->op == OP_EQ && k->lit && !(k->lit->flags & (LIT_NUM | LIT_BOOL | LIT_NULL))) {
			if (*nv == PIN_MAX)
				return 0;
			v[(*nv)++] = *k->lit;
			return 1;
		}
		if ((k->op != OP_IN && k->op != OP_REGEX) || k->set == NULL ||
		    *nv + k->set->nstr > PIN_MAX)
			return 0;
		memcpy(v + *nv, k->set->str, k->set->nstr * sizeof(*v));
		*nv += k->set->nstr;
		return 1;
	case N_MEMO:
		return pin_values(k->kid[0], ik, v, nv);
	case N_AND:
		for (size_t i = 0; i < k->nkid; i++) {
			if (pin_values(k->kid[i], ik, v, nv))
				return 1;
			*nv = save;
		}
		return 0;
	case N_OR:
		for (size_t i = 0; i < k->nkid; i++) {
			if (!pin_values(k->kid[i], ik, v, nv)) {
				*nv = save;
				return 0;
			}
		}
		return k->nkid > 0;
	default:
		return 0;
	}
}

static int
pin_cmp(const void *a, const void *b)
{
	const struct lit *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->s, y->s, x->n);
}

/* An OR conjunct whose branches pin ik each: the union, sorted for
 * litset_has_str(). Such a rule (exceptions for kyverno or gatekeeper
 * resources, say) then waits in those resources' buckets. */
static struct litset *
pin_or(struct arena *a, const struct node *k, enum ikey ik)
{
	struct lit v[PIN_MAX];
	size_t nv = 0;
	struct litset *s;

	if (!pin_values(k, ik, v, &nv))
		return NULL;
	s = arena_alloc(a, sizeof(*s));
	s->str = arena_alloc(a, (nv ? nv : 1) * sizeof(*s->str));
	memcpy(s->str, v, nv * sizeof(*s->str));
	s->nstr = nv;
	qsort(s->str, nv, sizeof(*s->str), pin_cmp);
	return s;
}

/* A copy of set in lower case, sorted for litset_has_str(). */
static struct litset *
set_lower(struct arena *a, const struct litset *set)
{
	struct litset *s = arena_alloc(a, sizeof(*s));

	s->str = arena_alloc(a, (set->nstr ? set->nstr : 1) * sizeof(*s->str));
	for (size_t i = 0; i < set->nstr; i++) {
		char *low = arena_strndup(a, set->str[i].s, set->str[i].n);
		for (size_t c = 0; c < set->str[i].n; c++)
			low[c] = (char)tolower((unsigned char)low[c]);
		s->str[i] = set->str[i];
		s->str[i].s = low;
	}
	s->nstr = set->nstr;
	qsort(s->str, s->nstr, sizeof(*s->str), pin_cmp);
	return s;
}

/* The key a Falco field stands for: the plain ka.verb, ka.target.resource
 * and ka.target.subresource read the event's own verb and objectRef. */
static enum ikey
falco_ikey(const struct ffield *f)
{
	if (f->arg != NULL || f->index >= 0)
		return IK_NONE;
	if (strcmp(f->name, "ka.verb") == 0)
		return IK_VERB;
	if (strcmp(f->name, "ka.target.resource") == 0)
		return IK_RESOURCE;
	if (strcmp(f->name, "ka.target.subresource") == 0)
		return IK_SUBRESOURCE;
	return IK_NONE;
}

/* Falco reads a value that is not a string as its JSON text (5, null,
 * {...}), which the index never sees: only values no such text can be
 * (a letter first, not true, false or null) may pin a key. */
static int
falco_pin_ok(const struct lit *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = v[i].n ? (unsigned char)v[i].s[0] : 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ||
		    strcmp(v[i].s, "true") == 0 || strcmp(v[i].s, "false") == 0 ||
		    strcmp(v[i].s, "null") == 0)
			return 0;
	}
	return 1;
}

/* A Falco rule's condition is one N_FALCO node: the same constraints, read
 * off the `and` chain of its own tree (`ka.verb = create`,
 * `ka.target.resource in (pods, deployments)`). In Falco a missing field
 * fails every comparison, as a missing key fails the index. */
static void
falco_constraints(struct arena *a, struct rule *r, const struct fexpr *x)
{
	enum ikey ik;
	struct litset *s;

	if (x->kind == FK_AND) {
		for (size_t i = 0; i < x->nkid; i++)
			falco_constraints(a, r, x->kid[i]);
		return;
	}
	if (x->kind != FK_CMP || x->f == NULL || (ik = falco_ikey(x->f)) == IK_NONE || r->ik[ik])
		return;
	if (x->op == FO_EQ && x->nval == 1 && x->val != NULL && falco_pin_ok(x->val, 1)) {
		s = arena_alloc(a, sizeof(*s));
		s->str = x->val;
		s->nstr = 1;
		r->ik[ik] = s;
	} else if (x->op == FO_IN && x->set != NULL && x->set->nstr > 0 &&
	    falco_pin_ok(x->set->str, x->set->nstr)) {
		r->ik[ik] = x->set;
	}
}

/* The literal values verb / resource / subresource must have for the rule
 * to match, read off `field = v` and `field in (...)` conjuncts, or off an
 * OR of them. */
static void
rule_constraints(struct arena *a, struct rule *r)
{
	const struct node *cj[256];
	size_t n = 0;

	conjuncts(r->cond, cj, &n, 256);
	for (size_t i = 0; i < n; i++) {
		const struct node *k = cj[i];
		enum ikey ik;
		if (k->kind == N_FALCO) {
			falco_constraints(a, r, k->fx);
			continue;
		}
		if (k->kind == N_OR) {
			for (ik = IK_VERB; ik < IK_COUNT; ik++)
				if (r->ik[ik] == NULL)
					r->ik[ik] = pin_or(a, k, ik);
			continue;
		}
		if (k->kind != N_CMP || (ik = k->f->ikey) == IK_NONE || r->ik[ik])
			continue;
		if (k->op == OP_EQ && k->lit && !(k->lit->flags & (LIT_NUM | LIT_BOOL | LIT_NULL))) {
			struct litset *s = arena_alloc(a, sizeof(*s));
			s->str = k->lit;
			s->nstr = 1;
			r->ik[ik] = s;
		} else if ((k->op == OP_IN || k->op == OP_REGEX) && k->set) {
			r->ik[ik] = k->set;
		}
	}
	for (enum ikey ik = IK_VERB; ik < IK_COUNT; ik++)
		if (r->ik[ik])
			r->ik[ik] = set_lower(a, r->ik[ik]);
}

static size_t
pow2_above(size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	return cap;
}

static void
index_build(struct ruleset *rs)
{
	static const enum ikey order[] = { IK_SUBRESOURCE, IK_RESOURCE, IK_VERB };
	size_t keys[IK_COUNT] = { 0 };

	for (size_t i = 0; i < rs->nrule; i++)
		for (int k = 0; k < IK_COUNT; k++)
			if (rs->rule[i]->ik[k])
				keys[k] += rs->rule[i]->ik[k]->nstr;
	for (int k = 1; k < IK_COUNT; k++) {
		rs->idx[k].cap = pow2_above(keys[k]);
		rs->idx[k].b = xcalloc(rs->idx[k].cap, sizeof(struct bucket));
	}
	for (size_t i = 0; i < rs->nrule; i++) {
		struct rule *r = rs->rule[i];
		size_t o;
		if (!r->needed)
			continue;
		for (o = 0; o < 3 && r->ik[order[o]] == NULL; o++)
			;
		if (o == 3) {
			rs->catchall = xgrow(rs->catchall, rs->ncatchall, sizeof(*rs->catchall));
			rs->catchall[rs->ncatchall++] = (uint32_t)i;
			continue;
		}
		for (size_t v = 0; v < r->ik[order[o]]->nstr; v++)
			rindex_add(rs, &rs->idx[order[o]], &r->ik[order[o]]->str[v], (uint32_t)i);
	}
}

void
ruleset_index(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->nrule; i++)
		if (rs->rule[i]->cond)
			rule_constraints(&rs->ar, rs->rule[i]);
	index_build(rs);
}

void
ruleset_index_free(struct ruleset *rs)
{
	for (int k = 0; k < IK_COUNT; k++) {
		for (size_t i = 0; i < rs->idx[k].cap; i++)
			free(rs->idx[k].b[i].rule);
		free(rs->idx[k].b);
	}
	free(rs->catchall);
}
