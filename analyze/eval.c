/* eval.c — evaluating a compiled rule set against one event.
 *
 * DESIGN: cost per event must not grow with the number of rules. Each
 * enabled rule sits in exactly one place of the index: the bucket of every
 * subresource, resource or verb its condition requires (the most selective
 * of the three it constrains), or the catch-all list. An event gathers the
 * buckets of its own subresource, resource and verb plus the catch-all,
 * merged in rule order; the stage mask and the rule's other index
 * constraints are checked before any condition work. Nothing here
 * allocates in the common case: scratch buffers grow once and are reused.
 *
 * Which rules pass the index only depends on the event's verb, resource
 * and subresource, and a stream of events repeats few such triples, so each
 * scratch keeps the lists of the last CAND_SLOTS triples it met: a repeat
 * costs a hash and a compare instead of the bucket merge and the
 * constraint checks. */
#include "analyze/rules_impl.h"
#include "base/hash.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define CAND_SLOTS	256	/* cached candidate lists per scratch (power of 2) */
#define CAND_KEY_MAX	200	/* bytes of one index key; longer ones not cached */

/* The rules that pass the index for one (verb, resource, subresource). */
struct cand_list {
	char		*key;	/* encoded keys (cand_key()); NULL = empty slot */
	size_t		 keylen;
	uint32_t	*rule;	/* ascending */
	size_t		 nrule;
};

static const enum event_field ikey_field[IK_COUNT] = {
	[IK_VERB] = EF_VERB, [IK_RESOURCE] = EF_RESOURCE, [IK_SUBRESOURCE] = EF_SUBRESOURCE,
};

struct eval_scratch *
eval_scratch_new(const struct ruleset *rs)
{
	struct eval_scratch *s = xcalloc(1, sizeof(*s));

	s->rs = rs;
	s->md = pcre2_match_data_create(1, NULL);
	if (s->md == NULL)
		abort();
	s->memo = xcalloc(rs->nmemo + 1, sizeof(*s->memo));
	s->gen = 1;
	s->capcand = rs->nrule + 1;
	s->cand = xmalloc(sizeof(*s->cand) * s->capcand);
	return s;
}

void
eval_scratch_free(struct eval_scratch *s)
{
	if (s == NULL)
		return;
	pcre2_match_data_free(s->md);
	buf_free(&s->tmp);
	for (int k = 0; k < IK_COUNT; k++)
		buf_free(&s->key[k]);
	buf_free(&s->exec_cmd);
	buf_free(&s->exec_container);
	buf_free(&s->exec_argv0);
	buf_free(&s->query_name);
	buf_free(&s->query_value);
	buf_free(&s->label_selector);
	buf_free(&s->field_selector);
	buf_free(&s->ua);
	buf_free(&s->user);
	buf_free(&s->csr_pem);
	buf_free(&s->csr_subject);
	buf_free(&s->proxy_path);
	buf_free(&s->proxy_tmp);
	buf_free(&s->msg);
	buf_free(&s->evname);
	buf_free(&s->sigkey);
	buf_free(&s->sigval);
	buf_free(&s->sigtmp);
	buf_free(&s->actor);
	strvec_free(&s->identities);
	strvec_free(&s->subjects);
	strvec_free(&s->fvals);
	buf_free(&s->ftmp);
	buf_free(&s->ftmp2);
	free(s->cand);
	free(s->seen);
	free(s->memo);
	for (size_t i = 0; s->cache && i < CAND_SLOTS; i++) {
		free(s->cache[i].key);
		free(s->cache[i].rule);
	}
	free(s->cache);
	free(s->cim);
	free(s);
}

void
eval_scratch_dedup(struct eval_scratch *s, size_t slots)
{
	size_t cap = 1;

	free(s->seen);
	s->seen = NULL;
	s->seenmask = 0;
	if (slots == 0)
		return;
	while (cap < slots && cap < ((size_t)1 << 30))
		cap <<= 1;
	/* written, not calloc'ed: a fresh mapping read first maps the shared
	 * zero page, and the first store to each page then costs a copy-on-write
	 * fault and a TLB flush on every CPU the process runs on */
	s->seen = xmalloc(cap * sizeof(*s->seen));
	memset(s->seen, 0, cap * sizeof(*s->seen));
	s->seenmask = cap - 1;
}

static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h | 1;	/* 0 marks an empty slot */
}

/* A 64-bit hash of p[0..n), eight bytes per step: an event without an
 * auditID is hashed whole, kilobytes, and a byte-at-a-time multiply chain
 * over it was a visible part of evaluation. */
static uint64_t
hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, p + i, n - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ h >> 29;
}

/* Hash of what the finding's audit_id is made from: the auditID, or for an
 * event without one the event's own bytes (see finding_audit_id()), so
 * repeats of such events are not built again either. */
static uint64_t
audit_hash(const struct audit_event *ev, struct eval_scratch *s)
{
	size_t n;
	const char *id = event_str(ev, EF_AUDIT_ID, &s->tmp, &n);

	if (id == NULL || n == 0)
		id = event_json(ev, &n);
	return hash_bytes(id, n);
}

/* 1 when (audit_id, rule) already fired through this scratch. */
static int
seen_before(struct eval_scratch *s, uint64_t idh, size_t rule)
{
	uint64_t h;
	size_t slot;

	if (s->seen == NULL || idh == 0)
		return 0;
	h = mix64(idh ^ ((uint64_t)(rule + 1) * 0x9e3779b97f4a7c15ull));
	slot = (size_t)(h >> 7) & s->seenmask;
	if (s->seen[slot] == h)
		return 1;
	s->seen[slot] = h;
	return 0;
}

unsigned long
eval_scratch_evaluated(const struct eval_scratch *s)
{
	return s->evaluated;
}

static unsigned
event_stage(const struct audit_event *ev)
{
	static const struct { const char *name; unsigned bit; } st[] = {
		{ "ResponseComplete", STAGE_RESPONSE_COMPLETE },
		{ "ResponseStarted", STAGE_RESPONSE_STARTED },
		{ "RequestReceived", STAGE_REQUEST_RECEIVED },
		{ "Panic", STAGE_PANIC },
	};
	int t = ev->f[EF_STAGE];

	/* hand-written and some exported events omit the stage */
	if (t < 0)
		return STAGE_RESPONSE_COMPLETE;
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (jtok_str_eq(ev->doc, t, st[i].name, strlen(st[i].name)))
			return st[i].bit;
	return 0;
}

/* Merges the ascending rule lists into s->cand, without duplicates. */
static void
merge(struct eval_scratch *s, const uint32_t *const *l, const size_t *n, int nl)
{
	size_t pos[4] = { 0 };

	s->ncand = 0;
	for (;;) {
		int best = -1;
		for (int i = 0; i < nl; i++)
			if (pos[i] < n[i] && (best < 0 || l[i][pos[i]] < l[best][pos[best]]))
				best = i;
		if (best < 0)
			break;
		if (s->ncand == 0 || s->cand[s->ncand - 1] != l[best][pos[best]])
			s->cand[s->ncand++] = l[best][pos[best]];
		pos[best]++;
	}
}

struct evkeys {
	const char	*s[IK_COUNT];
	size_t		 n[IK_COUNT];
};

/* The verb, resource and subresource in lower case: the index compares
 * them so (index.c), which lets rules that ignore case (Sigma's) be placed
 * in it too. */
static void
event_keys(const struct audit_event *ev, struct eval_scratch *s, struct evkeys *k)
{
	for (int i = IK_VERB; i < IK_COUNT; i++) {
		size_t u;
		k->s[i] = event_str(ev, ikey_field[i], &s->key[i], &k->n[i]);
		for (u = 0; k->s[i] && u < k->n[i] && !isupper((unsigned char)k->s[i][u]); u++)
			;
		if (k->s[i] == NULL || u == k->n[i])
			continue;
		if (k->s[i] != s->key[i].data) {
			buf_reset(&s->key[i]);
			buf_append(&s->key[i], k->s[i], k->n[i]);
		}
		for (; u < k->n[i]; u++)
			s->key[i].data[u] = (char)tolower((unsigned char)s->key[i].data[u]);
		k->s[i] = s->key[i].data;
	}
}

/* Merges the buckets of the event's keys and the catch-all into s->cand. */
static void
candidates(const struct ruleset *rs, struct eval_scratch *s, const struct evkeys *k)
{
	const uint32_t *l[4];
	size_t n[4];
	int nl = 0;

	l[nl] = rs->catchall;
	n[nl++] = rs->ncatchall;
	for (int i = IK_VERB; i < IK_COUNT; i++) {
		const struct bucket *b;
		if (k->s[i] && (b = rindex_find(&rs->idx[i], k->s[i], k->n[i])) != NULL) {
			l[nl] = b->rule;
			n[nl++] = b->nrule;
		}
	}
	merge(s, l, n, nl);
}

static int
constraints_hold(const struct rule *r, const struct evkeys *k)
{
	for (int i = IK_VERB; i < IK_COUNT; i++)
		if (r->ik[i] && (k->s[i] == NULL || !litset_has_str(r->ik[i], k->s[i], k->n[i])))
			return 0;
	return 1;
}

/* s->cand narrowed to the rules whose index constraints hold. */
static void
candidates_filter(const struct ruleset *rs, struct eval_scratch *s, const struct evkeys *k)
{
	size_t n = 0;

	for (size_t i = 0; i < s->ncand; i++)
		if (constraints_hold(rs->rule[s->cand[i]], k))
			s->cand[n++] = s->cand[i];
	s->ncand = n;
}

/* Encodes the keys into out (a flag, a length and the bytes of each), or
 * returns 0 when one is too long to be worth caching. */
static size_t
cand_key(const struct evkeys *k, char *out)
{
	size_t len = 0;

	for (int i = IK_VERB; i < IK_COUNT; i++) {
		if (k->s[i] == NULL) {
			out[len++] = 0;
			continue;
		}
		if (k->n[i] > CAND_KEY_MAX)
			return 0;
		out[len++] = 1;
		out[len++] = (char)k->n[i];
		memcpy(out + len, k->s[i], k->n[i]);
		len += k->n[i];
	}
	return len;
}

/* The rules that pass the index for the event's keys, from the cache or
 * computed (and then cached). */
static const uint32_t *
cand_lookup(const struct ruleset *rs, struct eval_scratch *s, const struct evkeys *k,
    size_t *n)
{
	char key[IK_COUNT * (2 + CAND_KEY_MAX)];
	size_t len = cand_key(k, key);
	uint64_t h;
	struct cand_list *e;

	if (len == 0) {
		candidates(rs, s, k);
		candidates_filter(rs, s, k);
		*n = s->ncand;
		return s->cand;
	}
	h = fnv1a64(FNV1A64_INIT, key, len);
	if (s->cache == NULL)
		s->cache = xcalloc(CAND_SLOTS, sizeof(*s->cache));
	e = &s->cache[(h ^ h >> 32) & (CAND_SLOTS - 1)];
	if (e->key == NULL || e->keylen != len || memcmp(e->key, key, len) != 0) {
		candidates(rs, s, k);
		candidates_filter(rs, s, k);
		free(e->key);
		e->key = xmalloc(len);
		memcpy(e->key, key, len);
		e->keylen = len;
		e->rule = xrealloc(e->rule, (s->ncand ? s->ncand : 1) * sizeof(*e->rule));
		memcpy(e->rule, s->cand, s->ncand * sizeof(*e->rule));
		e->nrule = s->ncand;
	}
	*n = e->nrule;
	return e->rule;
}

/* ruleset_eval()'s callback adapter: findings only. */
struct eval_plain {
	finding_fn	 emit;
	void		*arg;
};

static void
plain_finding(void *arg, json_t *finding, const struct audit_event *ev, const struct rule *r)
{
	struct eval_plain *p = arg;

	(void)r;
	if (p->emit)
		p->emit(p->arg, finding, ev);
	else
		json_decref(finding);
}

size_t
ruleset_eval(const struct ruleset *rs, const struct audit_event *ev,
    struct eval_scratch *s, finding_fn emit, void *arg)
{
	struct eval_plain p = { emit, arg };
	struct eval_out out = { plain_finding, NULL, &p };

	return ruleset_eval_out(rs, ev, s, &out);
}

/* What one event's evaluation knows beyond each rule: the workload rules
 * that fired (for the observation of a controller object) and whether a
 * controller made the object (worked out once, when a workload rule fires). */
struct evtrack {
	const struct rule *fired[64];
	size_t		 nfired;
	int		 owner_known;
	json_t		*owner;
};

/* Makes what a fired rule owes: its own finding (or, with suppress or
 * attribution and a state engine, a signal instead) and the signals of the
 * correlations it feeds. Returns how many things were emitted. */
static size_t
fired(const struct rule *r, struct evctx *c, const struct eval_out *out, struct evtrack *tr)
{
	int stateful = out->signal != NULL;
	/* an event without a time cannot be counted on a finding or placed
	 * in an owner's history: it makes its own finding */
	int timed = stateful && (r->suppress || r->attribute) ? signal_timed(c) : stateful;
	int own = r->enabled && !(timed && r->suppress);
	json_t *f;
	size_t n = 0;

	if (r->attribute && tr->nfired < 64)
		tr->fired[tr->nfired++] = r;
	if (!own && !(stateful && (r->nfeeds || (r->suppress && r->enabled))))
		return 0;
	f = finding_build(r, c);
	if (stateful)
		n += signals_emit(r, c, f, out);
	if (own && timed && r->attribute) {
		if (!tr->owner_known) {
			tr->owner = owner_made_by_controller(c);
			tr->owner_known = 1;
		}
		if (tr->owner) {
			n += signal_attribute(r, c, f, tr->owner, out);
			own = 0;
		}
	}
	if (own) {
		out->finding(out->arg, f, c->ev, r);
		return n + 1;
	}
	json_decref(f);
	return n;
}

int
ruleset_archive(const struct ruleset *rs, const struct audit_event *ev,
    struct eval_scratch *s)
{
	struct evctx c = { .ev = ev, .s = s };

	if (rs->archive == NULL || event_stage(ev) == 0 ||
	    jtok_type(ev->doc, ev->root) != JT_OBJ)
		return 0;
	return cond_eval(rs->archive, &c, -1) != 0;
}

size_t
ruleset_eval_out(const struct ruleset *rs, const struct audit_event *ev,
    struct eval_scratch *s, const struct eval_out *out)
{
	struct evctx c = { .ev = ev, .s = s };
	struct evkeys k;
	const uint32_t *cand;
	unsigned stage = event_stage(ev);
	size_t nout = 0, ncand;
	struct evtrack tr = { .nfired = 0 };
	uint64_t idh = 0;
	int have_idh = 0;

	field_reset(s);
	s->events++;
	/* a new generation forgets every memo; 31 bits, then start over */
	if (++s->gen >= (1u << 31)) {
		memset(s->memo, 0, sizeof(*s->memo) * (rs->nmemo + 1));
		s->gen = 1;
	}
	if (stage == 0 || jtok_type(ev->doc, ev->root) != JT_OBJ)
		return 0;
	event_keys(ev, s, &k);
	cand = cand_lookup(rs, s, &k, &ncand);
	for (size_t i = 0; i < ncand; i++) {
		const struct rule *r = rs->rule[cand[i]];
		if (!(r->stages & stage))
			continue;
		s->evaluated++;
		if (!cond_eval(r->cond, &c, -1))
			continue;
		if (s->seen && !have_idh) {
			idh = audit_hash(ev, s);
			have_idh = 1;
		}
		if (seen_before(s, idh, r->index))
			continue;
		nout += fired(r, &c, out, &tr);
	}
	if (out->signal && rs->controller)
		nout += signal_observe(&c, tr.fired, tr.nfired, out);
	json_decref(tr.owner);
	return nout;
}

unsigned long
eval_scratch_signals(const struct eval_scratch *s)
{
	return s->signals;
}

unsigned long
eval_scratch_untimed(const struct eval_scratch *s)
{
	return s->untimed;
}
