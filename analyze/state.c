/* state.c — the state engine (see state.h).
 *
 * DESIGN: a key's state depends on the kind of rule that owns it.
 *
 *   event_count, value_count  the matches (time, auditID hash, value hash)
 *       kept sorted by time while they are within span + lateness of the
 *       high-water mark. A match whose window [t - span, t] (or, for a late
 *       one, [t, t + span]) holds gte matches (distinct values) makes a
 *       finding; its window starts at the earliest match in it. Until that
 *       window's end, later matches of the key are counted on the same
 *       finding (an update, no new alert); after it, counting starts afresh.
 *   temporal, temporal_ordered  the matches of each step, and of `until`
 *       and `absent`. When one match of every step falls within one span
 *       (in step order for temporal_ordered) the sequence completes: a
 *       finding, and the matches used are consumed. An `until` match
 *       discards the matches before it. With `absent`, a completed sequence
 *       waits until its span (plus the lateness) has passed by event time and
 *       fires unless the absent rule matched after its last step.
 *   first_seen  the tuples seen with the time each was last seen, kept for
 *       the history; a tuple not among them fires, unless the rule's
 *       learning period (from the first signal this partition saw for it)
 *       is still running.
 *   suppress  the first finding and its period: later matches within the
 *       period are counted on it (repeats), the next one after it makes a new
 *       finding.
 *
 * Every key remembers the auditIDs it counted while they can still arrive
 * again, so a signal delivered twice (a redelivery after a crash) counts
 * once. Keys are in one LRU list across partitions: at max_keys the least
 * recently fed key is dropped (counted). State is swept against the
 * high-water mark once per minute of event time, and at a tick. */
#include "analyze/state.h"
#include "analyze/rules_impl.h"
#include "base/hash.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_IDS_MAX	100		/* auditIDs listed on a correlation finding */
#define AUDIT_ID_MAX	128		/* bytes of one kept auditID */
#define ENTRIES_MAX	10000		/* matches one key keeps */
#define TUPLES_MAX	10000		/* tuples one first_seen key keeps */
#define RECENT_MAX	64		/* auditIDs a suppress key remembers */
#define SWEEP_MS	60000		/* event time between sweeps */
#define PARTS_MAX	4096
#define OWNERS_HISTORY	(30LL * 86400000)	/* how long a controller object is remembered */
#define OWNER_CHAIN_MAX	5			/* Pod -> ReplicaSet -> Deployment -> ... */

struct entry {
	int64_t	 t;
	uint64_t id;		/* hash of the auditID */
	uint64_t v;		/* hash of the value (value_count) */
	int	 step;		/* temporal: the feed */
	char	*audit_id;	/* kept for correlation.audit_ids */
	json_t	*finding;	/* temporal with absent: the last step's finding */
	json_t	*parts;
};

struct vec {
	struct entry	*e;
	size_t		 n, cap;
};

/* A finding later matches are counted on. */
struct alert {
	int	 active;
	int64_t	 s, end;	/* its window (count) or period (suppress) */
	char	*dedup;
	int64_t	 count, first, last;
	json_t	*audit_ids;	/* count: up to AUDIT_IDS_MAX */
	json_t	*parts;		/* count: the message template parts */
	json_t	*key;		/* count: the key object */
	struct hmap vals;	/* value_count: value hashes counted */
};

struct skey {
	char		*key;
	size_t		 klen;
	const struct rule *rule;	/* NULL: a namespace's controller objects */
	int		 part;
	int64_t		 newest;
	int		 dirty;
	struct skey	*prev, *next;	/* LRU, most recent first */
	struct vec	 ent;		/* count and temporal matches */
	struct vec	 pending;	/* temporal with absent: completed, waiting */
	int64_t		 until;		/* temporal: the latest until match, or INT64_MIN */
	struct alert	 al;		/* count, suppress */
	struct hmap	 tuples;	/* first_seen: tuple -> struct seen_tuple */
	uint64_t	*recent;	/* suppress, attribution: RECENT_MAX recent auditID
					   hashes, allocated on first use */
	int		 nrecent;
	struct hmap	 objects;	/* owners: "Kind/name" -> struct owned */
};

/* A controller object of a namespace, as its writes showed it. */
struct owned {
	int64_t	 t;		/* the last write seen */
	json_t	*info;		/* {"kind","name","owner","person","rules"} */
};

struct seen_tuple {
	int64_t	 last;
};

struct spart {
	int		 used;
	int64_t		 hwm;		/* largest event time seen; INT64_MIN: none */
	int64_t		 swept;		/* hwm at the last sweep */
	struct hmap	 keys;		/* key text -> struct skey */
	struct hmap	 learn;		/* rule id -> learning start (int64_t *) */
	struct hmap	 deleted;	/* keys deleted since state_changed() */
};

struct state {
	const struct ruleset	*rs;
	const struct signal	*feeding;	/* the signal being fed, during state_feed */
	struct state_opts	 o;
	struct spart		*part;
	size_t			 npart;
	struct skey		*lru_head, *lru_tail;
	struct state_stats	 st;
};

/* --- keys ------------------------------------------------------------------------ */

static void
entry_free(struct entry *e)
{
	free(e->audit_id);
	json_decref(e->finding);
	json_decref(e->parts);
}

static void
vec_clear(struct vec *v)
{
	for (size_t i = 0; i < v->n; i++)
		entry_free(&v->e[i]);
	free(v->e);
	memset(v, 0, sizeof(*v));
}

/* Inserts e keeping v sorted by time (most inserts are appends). */
static void
vec_insert(struct vec *v, const struct entry *e)
{
	size_t i;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 2;	/* most keys hold one or two */
		v->e = xrealloc(v->e, v->cap * sizeof(*v->e));
	}
	for (i = v->n; i > 0 && v->e[i - 1].t > e->t; i--)
		;
	if (i < v->n)
		memmove(v->e + i + 1, v->e + i, (v->n - i) * sizeof(*v->e));
	v->e[i] = *e;
	v->n++;
}

static void
vec_remove(struct vec *v, size_t i)
{
	entry_free(&v->e[i]);
	if (i + 1 < v->n)
		memmove(v->e + i, v->e + i + 1, (v->n - i - 1) * sizeof(*v->e));
	v->n--;
}

/* Drops the entries older than t. */
static void
vec_expire(struct vec *v, int64_t t)
{
	size_t k = 0;

	while (k < v->n && v->e[k].t < t)
		entry_free(&v->e[k++]);
	if (k == 0)
		return;
	memmove(v->e, v->e + k, (v->n - k) * sizeof(*v->e));
	v->n -= k;
}

static void
alert_clear(struct alert *a)
{
	free(a->dedup);
	json_decref(a->audit_ids);
	json_decref(a->parts);
	json_decref(a->key);
	for (size_t i = 0; i < a->vals.cap; i++)
		if (a->vals.slot[i].key)
			a->vals.slot[i].val = NULL;
	hmap_free(&a->vals);
	memset(a, 0, sizeof(*a));
	hmap_init(&a->vals);
}

static void
tuples_clear(struct hmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].key)
			free(m->slot[i].val);
	hmap_free(m);
	hmap_init(m);
}

static void
owned_free(struct owned *o)
{
	json_decref(o->info);
	free(o);
}

static void
objects_clear(struct hmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].key)
			owned_free(m->slot[i].val);
	hmap_free(m);
}

static void
lru_unlink(struct state *st, struct skey *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		st->lru_head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		st->lru_tail = k->prev;
	k->prev = k->next = NULL;
}

static void
lru_front(struct state *st, struct skey *k)
{
	if (st->lru_head == k)
		return;
	if (k->prev || k->next || st->lru_tail == k)
		lru_unlink(st, k);
	k->next = st->lru_head;
	if (st->lru_head)
		st->lru_head->prev = k;
	st->lru_head = k;
	if (st->lru_tail == NULL)
		st->lru_tail = k;
}

static void
skey_free(struct skey *k)
{
	vec_clear(&k->ent);
	vec_clear(&k->pending);
	alert_clear(&k->al);
	hmap_free(&k->al.vals);
	tuples_clear(&k->tuples);
	hmap_free(&k->tuples);
	objects_clear(&k->objects);
	free(k->recent);
	free(k->key);
	free(k);
}

static struct spart *
part_get(struct state *st, int part)
{
	struct spart *p;

	if (part < 0 || part >= PARTS_MAX)
		part = 0;
	if ((size_t)part >= st->npart) {
		size_t n = (size_t)part + 1;
		st->part = xrealloc(st->part, n * sizeof(*st->part));
		memset(st->part + st->npart, 0, (n - st->npart) * sizeof(*st->part));
		st->npart = n;
	}
	p = &st->part[part];
	if (!p->used) {
		p->used = 1;
		p->hwm = p->swept = INT64_MIN;
		hmap_init(&p->keys);
		hmap_init(&p->learn);
		hmap_init(&p->deleted);
	}
	return p;
}

/* Removes k from its partition (and records the deletion). */
static void
key_delete(struct state *st, struct skey *k)
{
	struct spart *p = part_get(st, k->part);
	int added;

	hmap_del(&p->keys, k->key, k->klen);
	(void)hmap_put(&p->deleted, k->key, k->klen, &added);
	lru_unlink(st, k);
	st->st.keys--;
	skey_free(k);
}

static struct skey *
key_get(struct state *st, int part, const struct rule *r, const char *key, size_t klen)
{
	struct spart *p = part_get(st, part);
	struct hmap_slot *slot;
	struct skey *k;
	int added;

	slot = hmap_put(&p->keys, key, klen, &added);
	if (!added) {
		k = slot->val;
		lru_front(st, k);
		return k;
	}
	k = xcalloc(1, sizeof(*k));
	slot->val = k;
	k->key = xmalloc(klen + 1);
	memcpy(k->key, key, klen);
	k->key[klen] = '\0';
	k->klen = klen;
	k->rule = r;
	k->part = part;
	k->newest = INT64_MIN;
	k->until = INT64_MIN;
	hmap_init(&k->al.vals);
	hmap_init(&k->tuples);
	hmap_init(&k->objects);
	hmap_del(&p->deleted, key, klen);
	lru_front(st, k);
	st->st.keys++;
	if (st->o.max_keys && st->st.keys > st->o.max_keys) {
		struct skey *old = st->lru_tail;
		if (old && old != k) {
			st->st.evicted++;
			log_once("state.evicted", "stateful: more than %zu keys in memory (stateful."
			    "max_keys): dropping the least recently used; further evictions are "
			    "counted", st->o.max_keys);
			key_delete(st, old);
		}
	}
	return k;
}

/* --- findings ------------------------------------------------------------------------ */

static void
time_json(json_t *o, const char *name, int64_t ms)
{
	char t[TIME_TEXT_MAX];

	time_format_ms(ms, t);
	json_object_set_new(o, name, json_string(t));
}

/* {"ka.actor": "bob", ...} from the key [cluster, rule, values...]. */
static json_t *
key_object(const struct skey *k)
{
	json_t *arr = json_loadb(k->key, k->klen, 0, NULL), *o = json_object();
	const struct corr *c = k->rule->corr;

	for (size_t i = 0; c && arr && i < c->ngroup && i + 2 < json_array_size(arr); i++)
		json_object_set(o, c->group[i], json_array_get(arr, i + 2));
	json_decref(arr);
	return o;
}

/* The dedup text: the window start (or tuple) and the key. */
static char *
dedup_text(const struct skey *k, int64_t s, const char *extra, size_t nextra)
{
	char t[TIME_TEXT_MAX];
	struct buf b;

	time_format_ms(s, t);
	buf_init(&b);
	buf_puts(&b, t);
	buf_putc(&b, ' ');
	if (extra) {
		buf_append(&b, extra, nextra);
		buf_putc(&b, ' ');
	}
	buf_append(&b, k->key, k->klen);
	return b.data;
}

static json_t *
correlation_json(const struct skey *k, int64_t count, int64_t distinct, int64_t first,
    int64_t last, json_t *audit_ids, json_t *key)
{
	json_t *c = json_object();

	json_object_set_new(c, "kind", json_string(corr_kind_name(k->rule->corr->kind)));
	json_object_set(c, "key", key);
	json_object_set_new(c, "count", json_integer(count));
	if (k->rule->corr->kind == CK_VALUE_COUNT)
		json_object_set_new(c, "distinct", json_integer(distinct));
	time_json(c, "first", first);
	time_json(c, "last", last);
	json_object_set(c, "audit_ids", audit_ids);
	return c;
}

/* The message from its parts and the correlation object. */
static json_t *
message_render(const struct rule *r, json_t *parts, json_t *corr)
{
	struct buf b;
	size_t i;
	json_t *p, *j;
	char d[TIME_TEXT_MAX];

	buf_init(&b);
	json_array_foreach(parts, i, p) {
		const char *name;
		if (json_is_string(p)) {
			buf_append(&b, json_string_value(p), json_string_length(p));
			continue;
		}
		name = json_string_value(json_object_get(p, "c"));
		if (name == NULL)
			continue;
		if (strcmp(name, "span") == 0) {
			duration_format(r->corr->span_ms ? r->corr->span_ms : r->corr->history_ms, d);
			buf_puts(&b, d);
		} else if (strcmp(name, "key") == 0) {
			const char *kk;
			size_t n = 0;
			json_object_foreach(json_object_get(corr, "key"), kk, j) {
				if (n++)
					buf_puts(&b, ", ");
				if (json_is_string(j))
					buf_append(&b, json_string_value(j), json_string_length(j));
			}
		} else if ((j = json_object_get(corr, name)) != NULL) {
			if (json_is_integer(j))
				buf_printf(&b, "%lld", (long long)json_integer_value(j));
			else if (json_is_string(j))
				buf_puts(&b, json_string_value(j));
		}
	}
	j = json_stringn(b.data ? b.data : "", b.len);
	if (j == NULL)	/* not valid UTF-8: cannot happen with parts of valid strings */
		j = json_string("");
	buf_free(&b);
	return j;
}

/* A correlation's finding from the completing signal. */
static void
corr_emit(struct state *st, struct skey *k, const struct signal *sg, json_t *finding,
    json_t *parts, json_t *corr, const char *dedup, const struct state_out *out)
{
	json_t *f = json_copy(finding);

	json_object_set_new(f, "message", message_render(k->rule, parts, corr));
	json_object_set_new(f, "repeats", json_integer(0));
	json_object_set(f, "correlation", corr);
	(void)sg;
	out->finding(out->arg, f, dedup, k->rule, st->feeding ? st->feeding->event : NULL,
	    st->feeding ? st->feeding->eventlen : 0);
}

/* --- event_count, value_count ---------------------------------------------------------- */

/* Counts of [a, b]: matches and distinct values. */
static void
window_count(const struct vec *v, int64_t a, int64_t b, int64_t *count, int64_t *distinct)
{
	struct hmap seen;
	int added;

	hmap_init(&seen);
	*count = *distinct = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (v->e[i].t < a || v->e[i].t > b)
			continue;
		(*count)++;
		(void)hmap_put(&seen, (const char *)&v->e[i].v, sizeof(v->e[i].v), &added);
		*distinct += added;
	}
	hmap_free(&seen);
}

/* Adds (+1) or removes (-1) one match of value hash h from a window's
 * value counts; returns the change in distinct values. */
static int
window_value(struct hmap *m, uint64_t h, int add)
{
	struct hmap_slot *slot;
	int added;
	uintptr_t n;

	if (add > 0) {
		slot = hmap_put(m, (const char *)&h, sizeof(h), &added);
		n = (uintptr_t)slot->val + 1;
		slot->val = (void *)n;
		return n == 1;
	}
	slot = hmap_put(m, (const char *)&h, sizeof(h), &added);
	n = (uintptr_t)slot->val - 1;
	if (n == 0) {
		hmap_del(m, (const char *)&h, sizeof(h));
		return -1;
	}
	slot->val = (void *)n;
	return 0;
}

/* The earliest window [a, a + span] that holds the match at t and meets
 * the condition: a slides over the matches in [t - span, t] while the end
 * of the window follows, counting matches and distinct values as it goes.
 * Returns 1 with the window's first and last match times. */
static int
window_find(const struct skey *k, int64_t t, int64_t *first, int64_t *last)
{
	const struct vec *v = &k->ent;
	const struct corr *c = k->rule->corr;
	int64_t span = c->span_ms, count = 0, distinct = 0;
	size_t i = 0, j;
	struct hmap vals;
	int found = 0;

	while (i < v->n && v->e[i].t < t - span)
		i++;
	hmap_init(&vals);
	for (j = i; i < v->n && v->e[i].t <= t; i++) {
		while (j < v->n && v->e[j].t <= v->e[i].t + span) {
			count++;
			distinct += window_value(&vals, v->e[j].v, 1);
			j++;
		}
		if ((c->kind == CK_VALUE_COUNT ? distinct : count) >= c->gte) {
			*first = v->e[i].t;
			*last = v->e[j - 1].t;
			found = 1;
			break;
		}
		count--;
		distinct += window_value(&vals, v->e[i].v, -1);
	}
	hmap_free(&vals);
	return found;
}

static json_t *
audit_ids_of(const struct vec *v, int64_t a, int64_t b)
{
	json_t *ids = json_array();

	for (size_t i = 0; i < v->n && json_array_size(ids) < AUDIT_IDS_MAX; i++)
		if (v->e[i].t >= a && v->e[i].t <= b && v->e[i].audit_id)
			json_array_append_new(ids, json_string(v->e[i].audit_id));
	return ids;
}

static void
count_update(struct skey *k, const struct signal *sg, uint64_t vh, const struct state_out *out)
{
	struct alert *a = &k->al;
	json_t *corr, *set;
	int added;

	a->count++;
	(void)hmap_put(&a->vals, (const char *)&vh, sizeof(vh), &added);
	if (sg->t < a->first)
		a->first = sg->t;
	if (sg->t > a->last)
		a->last = sg->t;
	if (json_array_size(a->audit_ids) < AUDIT_IDS_MAX && sg->audit_id)
		json_array_append_new(a->audit_ids, json_string(sg->audit_id));
	corr = correlation_json(k, a->count, (int64_t)a->vals.n, a->first, a->last, a->audit_ids,
	    a->key);
	set = json_object();
	json_object_set_new(set, "message", message_render(k->rule, a->parts, corr));
	json_object_set_new(set, "correlation", corr);
	out->update(out->arg, k->rule, a->dedup, set);
}

static void
count_fire(struct state *st, struct skey *k, const struct signal *sg, int64_t s, int64_t e,
    const struct state_out *out)
{
	struct alert *a = &k->al;
	int64_t count, distinct;
	json_t *corr;
	int added;

	window_count(&k->ent, s, e, &count, &distinct);
	alert_clear(a);
	a->active = 1;
	a->s = s;
	a->end = s + k->rule->corr->span_ms;
	a->count = count;
	a->first = s;
	a->last = e;
	for (size_t i = 0; i < k->ent.n; i++)
		if (k->ent.e[i].t >= s && k->ent.e[i].t <= e)
			(void)hmap_put(&a->vals, (const char *)&k->ent.e[i].v, sizeof(uint64_t), &added);
	a->audit_ids = audit_ids_of(&k->ent, s, e);
	a->parts = json_incref(sg->message);
	a->key = key_object(k);
	a->dedup = dedup_text(k, s, NULL, 0);
	corr = correlation_json(k, count, distinct, s, e, a->audit_ids, a->key);
	corr_emit(st, k, sg, sg->finding, sg->message, corr, a->dedup, out);
	json_decref(corr);
}

static void
feed_count(struct state *st, struct skey *k, const struct signal *sg, uint64_t idh,
    const struct state_out *out)
{
	const struct corr *c = k->rule->corr;
	uint64_t vh = sg->value ? fnv1a64(FNV1A64_INIT, sg->value, sg->valuelen) : 0;
	struct entry e = { .t = sg->t, .id = idh, .v = vh };
	int64_t span = c->span_ms, first, last;

	if (k->al.active && sg->t >= k->al.s - span && sg->t <= k->al.end) {
		count_update(k, sg, vh, out);
		e.audit_id = strndup(sg->audit_id ? sg->audit_id : "", AUDIT_ID_MAX);
		vec_insert(&k->ent, &e);
		return;
	}
	if (k->al.active && sg->t > k->al.end) {
		vec_expire(&k->ent, k->al.end + 1);	/* counted already */
		alert_clear(&k->al);
	}
	if (k->ent.n >= ENTRIES_MAX)
		vec_remove(&k->ent, 0);
	e.audit_id = strndup(sg->audit_id ? sg->audit_id : "", AUDIT_ID_MAX);
	vec_insert(&k->ent, &e);
	if (window_find(k, sg->t, &first, &last))
		count_fire(st, k, sg, first, last, out);
}

/* --- temporal, temporal_ordered ----------------------------------------------------- */

/* The first entry of step at or after t (and at most before), or -1. */
static long
step_at(const struct vec *v, int step, int64_t t, int64_t before)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->e[i].step == step && v->e[i].t >= t && v->e[i].t <= before)
			return (long)i;
	return -1;
}

/* Finds a complete sequence: one entry per step within one span (in step
 * order when ordered). Fills used[] with entry indices; 1 when found. */
static int
sequence_find(const struct skey *k, long *used)
{
	const struct corr *c = k->rule->corr;
	int ordered = c->kind == CK_TEMPORAL_ORDERED;

	for (size_t a = 0; a < k->ent.n; a++) {
		const struct entry *start = &k->ent.e[a];
		int64_t from = start->t, to = start->t + c->span_ms;
		size_t s;

		if (start->step != 0 && ordered)
			continue;
		if (start->step < 0)
			continue;
		for (s = 0; s < c->nstep; s++) {
			if (!ordered) {
				/* any order: every step inside [from, to], the window
				 * starting at this entry */
				used[s] = step_at(&k->ent, (int)s, from, to);
			} else {
				used[s] = s == 0 ? (long)a :
				    step_at(&k->ent, (int)s, k->ent.e[used[s - 1]].t, to);
			}
			if (used[s] < 0)
				break;
		}
		if (s == c->nstep)
			return 1;
	}
	return 0;
}

static void
sequence_consume(struct skey *k, const long *used, size_t n)
{
	for (size_t i = n; i-- > 0; ) {
		/* highest index first so the others stay valid */
		size_t best = 0;
		for (size_t j = 0; j < n; j++)
			if (used[j] > used[best])
				best = j;
		if (used[best] < 0)
			break;
		vec_remove(&k->ent, (size_t)used[best]);
		((long *)used)[best] = -1;
	}
}

static void
sequence_bounds(const struct skey *k, const long *used, int64_t *first, int64_t *last,
    size_t *lasti)
{
	*first = INT64_MAX;
	*last = INT64_MIN;
	*lasti = 0;
	for (size_t s = 0; s < k->rule->corr->nstep; s++) {
		const struct entry *e = &k->ent.e[used[s]];
		if (e->t < *first)
			*first = e->t;
		if (e->t >= *last) {
			*last = e->t;
			*lasti = (size_t)used[s];
		}
	}
}

static json_t *
sequence_ids(const struct skey *k, const long *used)
{
	json_t *ids = json_array();

	for (size_t s = 0; s < k->rule->corr->nstep; s++)
		if (k->ent.e[used[s]].audit_id)
			json_array_append_new(ids, json_string(k->ent.e[used[s]].audit_id));
	return ids;
}

static void
temporal_fire(struct state *st, struct skey *k, json_t *finding, json_t *parts, int64_t first,
    int64_t last, json_t *ids, const struct state_out *out)
{
	json_t *key = key_object(k);
	json_t *corr = correlation_json(k, (int64_t)json_array_size(ids), 0, first, last, ids, key);
	char *dedup = dedup_text(k, first, NULL, 0);

	corr_emit(st, k, NULL, finding, parts, corr, dedup, out);
	free(dedup);
	json_decref(corr);
	json_decref(key);
}

static int
has_absent(const struct corr *c)
{
	for (size_t i = 0; i < c->nfeed; i++)
		if (c->feed[i].step == SIGNAL_ABSENT)
			return 1;
	return 0;
}

static void
feed_temporal(struct state *st, struct skey *k, const struct signal *sg, uint64_t idh,
    const struct state_out *out)
{
	const struct corr *c = k->rule->corr;
	struct entry e = { .t = sg->t, .id = idh, .step = sg->step };
	long used[32];

	if (sg->step == SIGNAL_UNTIL) {
		if (sg->t > k->until)
			k->until = sg->t;
		vec_expire(&k->ent, sg->t + 1);
		for (size_t i = 0; i < k->pending.n; ) {
			if (k->pending.e[i].t <= sg->t)
				vec_remove(&k->pending, i);
			else
				i++;
		}
		return;
	}
	if (sg->t <= k->until)
		return;		/* before a reset: discarded */
	if (sg->step == SIGNAL_ABSENT) {
		/* a pending sequence whose last step it follows within the span
		 * is cancelled */
		for (size_t i = 0; i < k->pending.n; ) {
			struct entry *p = &k->pending.e[i];
			if (sg->t >= (int64_t)p->v && sg->t <= p->t + c->span_ms)
				vec_remove(&k->pending, i);
			else
				i++;
		}
		e.step = SIGNAL_ABSENT;
		vec_insert(&k->ent, &e);
		return;
	}
	e.audit_id = strndup(sg->audit_id ? sg->audit_id : "", AUDIT_ID_MAX);
	e.finding = json_incref(sg->finding);
	e.parts = json_incref(sg->message);
	if (k->ent.n >= ENTRIES_MAX)
		vec_remove(&k->ent, 0);
	vec_insert(&k->ent, &e);
	while (sequence_find(k, used)) {
		int64_t first, last;
		size_t li;
		json_t *ids;

		sequence_bounds(k, used, &first, &last, &li);
		ids = sequence_ids(k, used);
		if (has_absent(c)) {
			struct entry p = { .t = first, .v = (uint64_t)last,
			    .finding = json_incref(k->ent.e[li].finding),
			    .parts = json_incref(k->ent.e[li].parts) };
			/* an absent match already seen after the last step */
			int cancelled = 0;
			for (size_t i = 0; i < k->ent.n; i++)
				if (k->ent.e[i].step == SIGNAL_ABSENT && k->ent.e[i].t >= last &&
				    k->ent.e[i].t <= first + c->span_ms)
					cancelled = 1;
			p.audit_id = json_dumps(ids, JSON_COMPACT);
			if (cancelled)
				entry_free(&p);
			else
				vec_insert(&k->pending, &p);
		} else {
			temporal_fire(st, k, k->ent.e[li].finding, k->ent.e[li].parts, first, last,
			    ids, out);
		}
		json_decref(ids);
		sequence_consume(k, used, c->nstep);
	}
}

/* Fires the pending sequences whose span has passed by hwm. */
static void
temporal_due(struct state *st, struct skey *k, int64_t hwm, int64_t lateness,
    const struct state_out *out)
{
	const struct corr *c = k->rule->corr;

	for (size_t i = 0; i < k->pending.n; ) {
		struct entry *p = &k->pending.e[i];
		if (p->t + c->span_ms + lateness > hwm) {
			i++;
			continue;
		}
		json_t *ids = json_loads(p->audit_id ? p->audit_id : "[]", 0, NULL);
		temporal_fire(st, k, p->finding, p->parts, p->t, (int64_t)p->v,
		    ids ? ids : json_array(), out);
		json_decref(ids);
		vec_remove(&k->pending, i);
		k->dirty = 1;
	}
}

/* --- first_seen --------------------------------------------------------------------- */

static int64_t *
learn_start(struct spart *p, const struct rule *r, int64_t t)
{
	struct hmap_slot *slot;
	int added;

	slot = hmap_put(&p->learn, r->id, strlen(r->id), &added);
	if (added) {
		slot->val = xmalloc(sizeof(int64_t));
		*(int64_t *)slot->val = t;
	}
	return slot->val;
}

static void
feed_first_seen(struct state *st, struct skey *k, const struct signal *sg,
    const struct state_out *out)
{
	const struct corr *c = k->rule->corr;
	struct spart *p = part_get(st, k->part);
	const char *tuple = sg->value ? sg->value : "[]";
	size_t tlen = sg->value ? sg->valuelen : 2;
	struct hmap_slot *slot;
	struct seen_tuple *seen;
	int64_t *learn = learn_start(p, k->rule, sg->t);
	int added;

	slot = hmap_put(&k->tuples, tuple, tlen, &added);
	if (!added) {
		seen = slot->val;
		if (sg->t - seen->last <= c->history_ms) {
			if (sg->t > seen->last)
				seen->last = sg->t;
			return;
		}
		seen->last = sg->t;	/* forgotten: new again */
	} else {
		if (k->tuples.n > TUPLES_MAX) {
			/* too many: this one is remembered, not reported twice */
			st->st.evicted++;
		}
		seen = slot->val = xmalloc(sizeof(*seen));
		seen->last = sg->t;
	}
	if (sg->t < *learn + c->learning_ms)
		return;		/* still learning what is normal */
	{
		json_t *key = key_object(k), *ids = json_array(), *corr;
		char *dedup = dedup_text(k, sg->t, tuple, tlen);
		json_array_append_new(ids, json_string(sg->audit_id ? sg->audit_id : ""));
		corr = correlation_json(k, 1, 0, sg->t, sg->t, ids, key);
		json_object_set_new(corr, "tuple", json_loadb(tuple, tlen, 0, NULL));
		corr_emit(st, k, sg, sg->finding, sg->message, corr, dedup, out);
		free(dedup);
		json_decref(corr);
		json_decref(ids);
		json_decref(key);
	}
}

/* --- suppress ----------------------------------------------------------------------- */

static int
recent_has(struct skey *k, uint64_t idh)
{
	for (int i = 0; i < k->nrecent; i++)
		if (k->recent[i] == idh)
			return 1;
	if (k->recent == NULL)
		k->recent = xmalloc(RECENT_MAX * sizeof(*k->recent));
	if (k->nrecent < RECENT_MAX) {
		k->recent[k->nrecent++] = idh;
	} else {
		memmove(k->recent, k->recent + 1, sizeof(k->recent[0]) * (RECENT_MAX - 1));
		k->recent[RECENT_MAX - 1] = idh;
	}
	return 0;
}

static void
feed_suppress(struct state *st, struct skey *k, const struct signal *sg,
    const struct state_out *out)
{
	struct alert *a = &k->al;
	int64_t period = k->rule->suppress->for_ms;
	json_t *f, *set;
	char t[TIME_TEXT_MAX];

	(void)st;
	if (a->active && sg->t >= a->s - period && sg->t <= a->end) {
		a->count++;
		if (sg->t > a->last)
			a->last = sg->t;
		set = json_object();
		json_object_set_new(set, "repeats", json_integer(a->count));
		time_format_ms(a->last, t);
		json_object_set_new(set, "last_repeat", json_string(t));
		out->update(out->arg, k->rule, a->dedup, set);
		return;
	}
	alert_clear(a);
	a->active = 1;
	a->s = a->first = a->last = sg->t;
	a->end = sg->t + period;
	a->count = 0;
	a->dedup = dedup_text(k, sg->t, NULL, 0);
	f = json_copy(sg->finding);
	json_object_set_new(f, "repeats", json_integer(0));
	out->finding(out->arg, f, a->dedup, k->rule, sg->event, sg->eventlen);
}

/* --- attribution ------------------------------------------------------------------ */

static void
owned_name(struct buf *b, json_t *kind, json_t *name)
{
	buf_reset(b);
	buf_puts(b, json_string_value(kind) ? json_string_value(kind) : "");
	buf_putc(b, '/');
	buf_puts(b, json_string_value(name) ? json_string_value(name) : "");
}

/* A controller object written: remember its owner, and the person and the
 * rules that fired of its last write by a person. */
static void
feed_observe(struct skey *k, const struct signal *sg)
{
	json_t *info = sg->finding, *old;
	struct hmap_slot *slot;
	struct owned *o;
	struct buf name;
	int added;

	buf_init(&name);
	owned_name(&name, json_object_get(info, "kind"), json_object_get(info, "name"));
	slot = hmap_put(&k->objects, name.data, name.len, &added);
	if (added) {
		o = slot->val = xcalloc(1, sizeof(*o));
		o->info = json_deep_copy(info);
		o->t = sg->t;
	} else if (sg->t >= (o = slot->val)->t || json_is_null(json_object_get(o->info, "person"))) {
		old = o->info;
		o->info = json_deep_copy(info);
		if (json_is_null(json_object_get(info, "person")) &&
		    !json_is_null(json_object_get(old, "person"))) {
			/* a controller's write (a revision, a scale) keeps who wrote
			 * it last and what fired on that write */
			json_object_set(o->info, "person", json_object_get(old, "person"));
			json_object_set(o->info, "rules", json_object_get(old, "rules"));
		}
		json_decref(old);
		if (sg->t > o->t)
			o->t = sg->t;
	}
	buf_free(&name);
}

static int
rules_has(json_t *rules, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(rules, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return 1;
	return 0;
}

/* Follows the owner chain from ref to the first object a person wrote;
 * that object, or NULL when the chain leaves what was seen. */
static struct owned *
owner_resolve(struct skey *k, json_t *ref)
{
	struct owned *o = NULL;
	struct buf name;

	buf_init(&name);
	json_incref(ref);
	for (int hop = 0; json_is_object(ref) && hop < OWNER_CHAIN_MAX; hop++) {
		json_t *next;
		owned_name(&name, json_object_get(ref, "kind"), json_object_get(ref, "name"));
		if ((o = hmap_get(&k->objects, name.data, name.len)) == NULL)
			break;
		if (!json_is_null(json_object_get(o->info, "person")))
			break;
		next = json_incref(json_object_get(o->info, "owner"));
		json_decref(ref);
		ref = next;
		o = NULL;
	}
	json_decref(ref);
	buf_free(&name);
	return o;
}

/* What attribution sets on a finding of rule id: the person, and info when
 * the same rule fired on that person's template. New reference. */
static json_t *
attribution_set(const struct owned *o, const char *id)
{
	json_t *set = json_object();

	json_object_set(set, "attributed_user", json_object_get(o->info, "person"));
	if (rules_has(json_object_get(o->info, "rules"), id))
		json_object_set_new(set, "severity", json_string("info"));
	return set;
}

/* A workload finding on an object a controller made: follow the owners to
 * the first one a person wrote. Its template reported by the same rule: the
 * finding is what actually runs of an alert already made (info); its
 * template seen but not reported (changed on its way, by a mutating
 * webhook say): the rule's severity; no owner seen at all (older than the
 * log, or an operator's resource): the rule's severity, nobody attributed.
 * An owner not seen yet may still arrive (from another source partition,
 * within the lateness): the finding is made now with the rule's severity,
 * kept pending, and updated when the owner shows up. */
static void
feed_attribute(struct state *st, struct skey *k, const struct signal *sg,
    const struct state_out *out)
{
	json_t *ref = json_loadb(sg->value ? sg->value : "", sg->valuelen, 0, NULL);
	json_t *f = json_copy(sg->finding), *set = NULL;
	struct owned *o = owner_resolve(k, ref);
	char *dedup;

	(void)st;
	if (o != NULL) {
		set = attribution_set(o, sg->rule->id);
		json_object_update(f, set);
		json_decref(set);
	}
	json_object_set_new(f, "repeats", json_integer(0));
	/* one per event and rule, whichever of its stages came */
	dedup = xasprintf("attributed %s %.*s", sg->audit_id ? sg->audit_id : "", (int)k->klen,
	    k->key);
	out->finding(out->arg, f, dedup, sg->rule, sg->event, sg->eventlen);
	if (o == NULL && json_is_object(ref)) {
		struct entry e = { .t = sg->t };
		e.finding = json_pack("{sssssO}", "rule", sg->rule->id, "dedup", dedup, "ref", ref);
		vec_insert(&k->pending, &e);
	}
	free(dedup);
	json_decref(ref);
}

/* After an owner was observed: the pending findings it explains now. */
static void
attribution_retry(struct state *st, struct skey *k, const struct state_out *out)
{
	for (size_t i = 0; i < k->pending.n; ) {
		json_t *p = k->pending.e[i].finding;
		struct owned *o = owner_resolve(k, json_object_get(p, "ref"));
		const struct rule *r = ruleset_find(st->rs,
		    json_string_value(json_object_get(p, "rule")));
		if (o == NULL || r == NULL) {
			i++;
			continue;
		}
		out->update(out->arg, r, json_string_value(json_object_get(p, "dedup")),
		    attribution_set(o, r->id));
		vec_remove(&k->pending, i);
	}
}

/* --- expiry ------------------------------------------------------------------------- */

/* Drops what hwm has left behind; 1 when nothing of the key remains. */
static int
key_expire(struct state *st, struct skey *k, int64_t hwm)
{
	const struct rule *r = k->rule;
	int64_t late = st->o.lateness_ms;

	if (r == NULL) {
		vec_expire(&k->pending, hwm - late);	/* its owner will not come now */
		for (size_t i = 0; i < k->objects.cap; i++) {
			struct hmap_slot *s = &k->objects.slot[i];
			if (s->key && ((struct owned *)s->val)->t < hwm - OWNERS_HISTORY) {
				owned_free(hmap_del(&k->objects, s->key, s->klen));
				i--;
			}
		}
		return k->objects.n == 0 && k->pending.n == 0;
	}
	if (r->corr == NULL) {
		if (k->al.active && hwm > k->al.end + late) {
			alert_clear(&k->al);
			k->nrecent = 0;
		}
		return !k->al.active;
	}
	switch (r->corr->kind) {
	case CK_EVENT_COUNT:
	case CK_VALUE_COUNT:
		if (k->al.active && hwm > k->al.end + late) {
			vec_expire(&k->ent, k->al.end + 1);
			alert_clear(&k->al);
		}
		vec_expire(&k->ent, hwm - r->corr->span_ms - late);
		return k->ent.n == 0 && !k->al.active;
	case CK_TEMPORAL:
	case CK_TEMPORAL_ORDERED:
		vec_expire(&k->ent, hwm - r->corr->span_ms - late);
		if (k->until != INT64_MIN && k->until < hwm - r->corr->span_ms - late)
			k->until = INT64_MIN;
		return k->ent.n == 0 && k->pending.n == 0 && k->until == INT64_MIN;
	case CK_FIRST_SEEN:
		for (size_t i = 0; i < k->tuples.cap; i++) {
			struct hmap_slot *s = &k->tuples.slot[i];
			if (s->key && ((struct seen_tuple *)s->val)->last < hwm - r->corr->history_ms) {
				free(hmap_del(&k->tuples, s->key, s->klen));
				i--;	/* a later entry may have moved here */
			}
		}
		return k->tuples.n == 0;
	}
	return 0;
}

static void
sweep(struct state *st, int part, int final, const struct state_out *out)
{
	struct spart *p = part_get(st, part);
	struct skey **dead = NULL;
	size_t ndead = 0;

	if (p->hwm == INT64_MIN)
		return;
	for (size_t i = 0; i < p->keys.cap; i++) {
		struct skey *k = p->keys.slot[i].val;
		if (p->keys.slot[i].key == NULL)
			continue;
		if (k->rule && k->rule->corr && k->pending.n)
			temporal_due(st, k, p->hwm, final ? 0 : st->o.lateness_ms, out);
		if (key_expire(st, k, p->hwm)) {
			dead = xrealloc(dead, (ndead + 1) * sizeof(*dead));
			dead[ndead++] = k;
		} else {
			k->dirty = 1;
		}
	}
	for (size_t i = 0; i < ndead; i++)
		key_delete(st, dead[i]);
	free(dead);
	p->swept = p->hwm;
}

/* --- entry points -------------------------------------------------------------------- */

struct state *
state_new(const struct ruleset *rs, const struct state_opts *o)
{
	struct state *st = xcalloc(1, sizeof(*st));

	st->rs = rs;
	st->o = *o;
	return st;
}

void
state_drop(struct state *st, int part)
{
	struct spart *p;

	if (part < 0 || (size_t)part >= st->npart || !st->part[part].used)
		return;
	p = &st->part[part];
	for (size_t i = 0; i < p->keys.cap; i++) {
		struct skey *k = p->keys.slot[i].val;
		if (p->keys.slot[i].key == NULL)
			continue;
		lru_unlink(st, k);
		st->st.keys--;
		skey_free(k);
	}
	hmap_free(&p->keys);
	for (size_t i = 0; i < p->learn.cap; i++)
		if (p->learn.slot[i].key)
			free(p->learn.slot[i].val);
	hmap_free(&p->learn);
	hmap_free(&p->deleted);
	memset(p, 0, sizeof(*p));
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->npart; i++)
		state_drop(st, (int)i);
	free(st->part);
	free(st);
}

void
state_feed(struct state *st, int part, const struct signal *sg, const struct state_out *out)
{
	struct spart *p = part_get(st, part);
	const struct rule *r = sg->rule;
	uint64_t idh = fnv1a64(FNV1A64_INIT, sg->audit_id ? sg->audit_id : "",
	    sg->audit_id ? strlen(sg->audit_id) : 0) ^ (uint64_t)(sg->step + 3) * 0x9e3779b97f4a7c15ull;
	int64_t keep;
	struct skey *k;

	st->st.signals++;
	st->feeding = sg;
	if (sg->kind != SIGNAL_RULE) {
		/* one namespace key takes the findings of every workload rule
		 * that fired on an event: the rule is part of what counts once */
		if (r != NULL)
			idh ^= fnv1a64(FNV1A64_INIT, r->id, strlen(r->id));
		k = key_get(st, part, NULL, sg->key, sg->keylen);
		if (sg->kind == SIGNAL_ATTRIBUTE && recent_has(k, idh)) {
			st->st.duplicates++;
			st->feeding = NULL;
			return;
		}
		k->dirty = 1;
		if (sg->kind == SIGNAL_OBSERVE) {
			feed_observe(k, sg);
			attribution_retry(st, k, out);
		} else {
			feed_attribute(st, k, sg, out);
		}
		goto time;
	}
	keep = r->corr ? (r->corr->kind == CK_FIRST_SEEN ? r->corr->history_ms :
	    r->corr->span_ms) : r->suppress->for_ms;
	if (p->hwm != INT64_MIN && sg->t < p->hwm - keep - st->o.lateness_ms) {
		st->st.late++;
		st->feeding = NULL;
		return;
	}
	k = key_get(st, part, r, sg->key, sg->keylen);
	if (r->corr == NULL && recent_has(k, idh)) {
		st->st.duplicates++;
		st->feeding = NULL;
		return;
	}
	/* first_seen needs no check: a tuple seen once is not new again */
	for (size_t i = 0; r->corr && r->corr->kind != CK_FIRST_SEEN && i < k->ent.n; i++) {
		if (k->ent.e[i].id == idh) {
			st->st.duplicates++;
			st->feeding = NULL;
			return;
		}
	}
	k->dirty = 1;
	if (r->corr == NULL)
		feed_suppress(st, k, sg, out);
	else if (r->corr->kind == CK_EVENT_COUNT || r->corr->kind == CK_VALUE_COUNT)
		feed_count(st, k, sg, idh, out);
	else if (r->corr->kind == CK_FIRST_SEEN)
		feed_first_seen(st, k, sg, out);
	else
		feed_temporal(st, k, sg, idh, out);
time:
	if (sg->t > k->newest)
		k->newest = sg->t;
	if (sg->t > p->hwm)
		p->hwm = sg->t;
	st->feeding = NULL;	/* a sweep fires on time, not on this event */
	if (p->swept == INT64_MIN || p->hwm - p->swept >= SWEEP_MS)
		sweep(st, part, 0, out);
}

void
state_tick(struct state *st, int part, int final, const struct state_out *out)
{
	if (part >= 0 && (size_t)part < st->npart && st->part[part].used)
		sweep(st, part, final, out);
}

void
state_stats(const struct state *st, struct state_stats *out)
{
	*out = st->st;
}

/* --- the signal stream ------------------------------------------------------------ */

char *
signal_encode(const struct signal *sg, size_t *len)
{
	json_t *o = json_object(), *ev;
	char *text;

	json_object_set_new(o, "kind", json_integer(sg->kind));
	if (sg->rule)
		json_object_set_new(o, "rule", json_string(sg->rule->id));
	json_object_set_new(o, "step", json_integer(sg->step));
	json_object_set_new(o, "key", json_stringn(sg->key, sg->keylen));
	json_object_set_new(o, "t", json_integer(sg->t));
	json_object_set_new(o, "audit_id", json_string(sg->audit_id ? sg->audit_id : ""));
	if (sg->value)
		json_object_set_new(o, "value", json_stringn(sg->value, sg->valuelen));
	json_object_set(o, "finding", sg->finding);
	if (sg->message)
		json_object_set(o, "message", sg->message);
	/* an event that is not valid UTF-8 cannot travel as a JSON string:
	 * its finding does, without it */
	if (sg->event && (ev = json_stringn(sg->event, sg->eventlen)) != NULL)
		json_object_set_new(o, "event", ev);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		abort();
	*len = strlen(text);
	return text;
}

int
signal_decode(const struct ruleset *rs, const char *text, size_t len, struct signal *sg,
    json_t **hold)
{
	json_t *o = json_loadb(text, len, 0, NULL), *key, *val;
	const char *id;
	const struct rule *r = NULL;
	json_int_t kind;

	*hold = o;
	memset(sg, 0, sizeof(*sg));
	if (!json_is_object(o) || !json_is_string(key = json_object_get(o, "key")) ||
	    !json_is_integer(json_object_get(o, "t")) ||
	    !json_is_object(json_object_get(o, "finding")))
		return -1;
	kind = json_integer_value(json_object_get(o, "kind"));
	if (kind < SIGNAL_RULE || kind > SIGNAL_ATTRIBUTE)
		return -1;
	sg->kind = (enum signal_kind)kind;
	id = json_string_value(json_object_get(o, "rule"));
	if (id && (r = ruleset_find(rs, id)) == NULL)
		return -1;
	if ((sg->kind == SIGNAL_RULE && (r == NULL || !rule_stateful(r))) ||
	    (sg->kind == SIGNAL_ATTRIBUTE && (r == NULL || !r->attribute)) ||
	    (sg->kind == SIGNAL_OBSERVE && r != NULL))
		return -1;
	sg->rule = r;
	sg->step = (int)json_integer_value(json_object_get(o, "step"));
	if (r && r->corr && sg->kind == SIGNAL_RULE &&
	    (sg->step < SIGNAL_ABSENT || sg->step >= (int)r->corr->nstep))
		return -1;
	if ((r == NULL || r->corr == NULL) && sg->step != 0)
		return -1;
	sg->key = json_string_value(key);
	sg->keylen = json_string_length(key);
	sg->t = json_integer_value(json_object_get(o, "t"));
	sg->audit_id = json_string_value(json_object_get(o, "audit_id"));
	if ((val = json_object_get(o, "value")) != NULL && json_is_string(val)) {
		sg->value = json_string_value(val);
		sg->valuelen = json_string_length(val);
	}
	sg->finding = json_object_get(o, "finding");
	sg->message = json_object_get(o, "message");
	if ((val = json_object_get(o, "event")) != NULL && json_is_string(val)) {
		sg->event = json_string_value(val);
		sg->eventlen = json_string_length(val);
	}
	if (r && r->corr && sg->step >= 0 && !json_is_array(sg->message))
		return -1;
	return 0;
}

/* --- persistence ---------------------------------------------------------------- */

static json_t *
entries_save(const struct vec *v, int full)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->n; i++) {
		const struct entry *e = &v->e[i];
		json_t *x = json_pack("[IIIis]", (json_int_t)e->t, (json_int_t)e->id,
		    (json_int_t)e->v, e->step, e->audit_id ? e->audit_id : "");
		if (full) {
			json_array_append(x, e->finding ? e->finding : json_null());
			json_array_append(x, e->parts ? e->parts : json_null());
		}
		json_array_append_new(a, x);
	}
	return a;
}

static void
entries_load(struct vec *v, json_t *a)
{
	size_t i;
	json_t *x;

	json_array_foreach(a, i, x) {
		struct entry e = { 0 };
		json_t *f;
		if (!json_is_array(x) || json_array_size(x) < 5)
			continue;
		e.t = json_integer_value(json_array_get(x, 0));
		e.id = (uint64_t)json_integer_value(json_array_get(x, 1));
		e.v = (uint64_t)json_integer_value(json_array_get(x, 2));
		e.step = (int)json_integer_value(json_array_get(x, 3));
		e.audit_id = strndup(json_string_value(json_array_get(x, 4)) ?
		    json_string_value(json_array_get(x, 4)) : "", AUDIT_ID_MAX);
		if ((f = json_array_get(x, 5)) != NULL && !json_is_null(f))
			e.finding = json_incref(f);
		if ((f = json_array_get(x, 6)) != NULL && !json_is_null(f))
			e.parts = json_incref(f);
		vec_insert(v, &e);
	}
}

static json_t *
alert_save(const struct alert *a)
{
	json_t *o, *vals;

	if (!a->active)
		return json_null();
	vals = json_array();
	for (size_t i = 0; i < a->vals.cap; i++)
		if (a->vals.slot[i].key) {
			uint64_t h;
			memcpy(&h, a->vals.slot[i].key, sizeof(h));
			json_array_append_new(vals, json_integer((json_int_t)h));
		}
	o = json_pack("{sIsIsssIsIsI}", "s", (json_int_t)a->s, "end", (json_int_t)a->end,
	    "dedup", a->dedup ? a->dedup : "", "count", (json_int_t)a->count,
	    "first", (json_int_t)a->first, "last", (json_int_t)a->last);
	json_object_set_new(o, "vals", vals);
	if (a->audit_ids)
		json_object_set(o, "audit_ids", a->audit_ids);
	if (a->parts)
		json_object_set(o, "parts", a->parts);
	if (a->key)
		json_object_set(o, "key", a->key);
	return o;
}

static void
alert_load(struct alert *a, json_t *o)
{
	size_t i;
	json_t *v;
	int added;

	alert_clear(a);
	if (!json_is_object(o))
		return;
	a->active = 1;
	a->s = json_integer_value(json_object_get(o, "s"));
	a->end = json_integer_value(json_object_get(o, "end"));
	a->dedup = xstrdup(json_string_value(json_object_get(o, "dedup")) ?
	    json_string_value(json_object_get(o, "dedup")) : "");
	a->count = json_integer_value(json_object_get(o, "count"));
	a->first = json_integer_value(json_object_get(o, "first"));
	a->last = json_integer_value(json_object_get(o, "last"));
	json_array_foreach(json_object_get(o, "vals"), i, v) {
		uint64_t h = (uint64_t)json_integer_value(v);
		(void)hmap_put(&a->vals, (const char *)&h, sizeof(h), &added);
	}
	if ((v = json_object_get(o, "audit_ids")) != NULL)
		a->audit_ids = json_incref(v);
	if ((v = json_object_get(o, "parts")) != NULL)
		a->parts = json_incref(v);
	if ((v = json_object_get(o, "key")) != NULL)
		a->key = json_incref(v);
}

static json_t *
key_save(const struct skey *k)
{
	json_t *o = json_object(), *t, *rc;

	if (k->rule)
		json_object_set_new(o, "rule", json_string(k->rule->id));
	else
		json_object_set_new(o, "owners", json_true());
	json_object_set_new(o, "newest", json_integer(k->newest));
	if (k->ent.n)
		json_object_set_new(o, "entries", entries_save(&k->ent, 1));
	if (k->pending.n)
		json_object_set_new(o, "pending", entries_save(&k->pending, 1));
	if (k->until != INT64_MIN)
		json_object_set_new(o, "until", json_integer(k->until));
	if (k->al.active)
		json_object_set_new(o, "alert", alert_save(&k->al));
	if (k->tuples.n) {
		t = json_object();
		for (size_t i = 0; i < k->tuples.cap; i++)
			if (k->tuples.slot[i].key)
				json_object_setn_new(t, k->tuples.slot[i].key, k->tuples.slot[i].klen,
				    json_integer(((struct seen_tuple *)k->tuples.slot[i].val)->last));
		json_object_set_new(o, "tuples", t);
	}
	if (k->objects.n) {
		t = json_object();
		for (size_t i = 0; i < k->objects.cap; i++) {
			struct owned *ob = k->objects.slot[i].val;
			if (k->objects.slot[i].key == NULL)
				continue;
			json_object_setn_new(t, k->objects.slot[i].key, k->objects.slot[i].klen,
			    json_pack("{sIsO}", "t", (json_int_t)ob->t, "info", ob->info));
		}
		json_object_set_new(o, "objects", t);
	}
	if (k->nrecent) {
		rc = json_array();
		for (int i = 0; i < k->nrecent; i++)
			json_array_append_new(rc, json_integer((json_int_t)k->recent[i]));
		json_object_set_new(o, "recent", rc);
	}
	return o;
}

void
state_changed(struct state *st, int part, state_key_fn fn, void *arg)
{
	struct spart *p;

	if (part < 0 || (size_t)part >= st->npart || !st->part[part].used)
		return;
	p = &st->part[part];
	for (size_t i = 0; i < p->deleted.cap; i++)
		if (p->deleted.slot[i].key)
			fn(arg, p->deleted.slot[i].key, p->deleted.slot[i].klen, NULL);
	hmap_free(&p->deleted);
	hmap_init(&p->deleted);
	for (size_t i = 0; i < p->keys.cap; i++) {
		struct skey *k = p->keys.slot[i].val;
		json_t *j;
		if (p->keys.slot[i].key == NULL || !k->dirty)
			continue;
		j = key_save(k);
		fn(arg, k->key, k->klen, j);
		json_decref(j);
		k->dirty = 0;
	}
}

int
state_key_load(struct state *st, int part, const char *key, size_t klen, json_t *state)
{
	const char *id = json_string_value(json_object_get(state, "rule"));
	const struct rule *r = id ? ruleset_find(st->rs, id) : NULL;
	int owners = json_is_true(json_object_get(state, "owners"));
	struct skey *k;
	json_t *v;
	const char *tk;
	int added;

	if (!owners && (r == NULL || !rule_stateful(r)))
		return -1;
	k = key_get(st, part, owners ? NULL : r, key, klen);
	json_object_foreach(json_object_get(state, "objects"), tk, v) {
		struct hmap_slot *s = hmap_put(&k->objects, tk, strlen(tk), &added);
		struct owned *ob;
		if (!added || !json_is_object(json_object_get(v, "info")))
			continue;
		ob = s->val = xcalloc(1, sizeof(*ob));
		ob->t = json_integer_value(json_object_get(v, "t"));
		ob->info = json_incref(json_object_get(v, "info"));
	}
	k->newest = json_integer_value(json_object_get(state, "newest"));
	entries_load(&k->ent, json_object_get(state, "entries"));
	entries_load(&k->pending, json_object_get(state, "pending"));
	if ((v = json_object_get(state, "until")) != NULL)
		k->until = json_integer_value(v);
	alert_load(&k->al, json_object_get(state, "alert"));
	json_object_foreach(json_object_get(state, "tuples"), tk, v) {
		struct hmap_slot *s = hmap_put(&k->tuples, tk, strlen(tk), &added);
		if (added)
			s->val = xmalloc(sizeof(struct seen_tuple));
		((struct seen_tuple *)s->val)->last = json_integer_value(v);
	}
	{
		size_t i;
		json_array_foreach(json_object_get(state, "recent"), i, v) {
			if (k->recent == NULL)
				k->recent = xmalloc(RECENT_MAX * sizeof(*k->recent));
			if (k->nrecent < RECENT_MAX)
				k->recent[k->nrecent++] = (uint64_t)json_integer_value(v);
		}
	}
	k->dirty = 0;
	return 0;
}

json_t *
state_part_save(struct state *st, int part)
{
	struct spart *p = part_get(st, part);
	json_t *o = json_object(), *learn = json_object();

	json_object_set_new(o, "hwm", json_integer(p->hwm));
	for (size_t i = 0; i < p->learn.cap; i++)
		if (p->learn.slot[i].key)
			json_object_set_new(learn, p->learn.slot[i].key,
			    json_integer(*(int64_t *)p->learn.slot[i].val));
	json_object_set_new(o, "learn", learn);
	return o;
}

void
state_part_load(struct state *st, int part, json_t *meta)
{
	struct spart *p = part_get(st, part);
	const char *id;
	json_t *v;

	if (json_is_integer(json_object_get(meta, "hwm"))) {
		p->hwm = json_integer_value(json_object_get(meta, "hwm"));
		p->swept = p->hwm;
	}
	json_object_foreach(json_object_get(meta, "learn"), id, v) {
		const struct rule *r = ruleset_find(st->rs, id);
		if (r && json_is_integer(v))
			*learn_start(p, r, json_integer_value(v)) = json_integer_value(v);
	}
}

/* --- held findings ---------------------------------------------------------- */

void
state_held_init(struct state_held *h)
{
	h->list = json_array();
	h->index = json_object();
}

void
state_held_free(struct state_held *h)
{
	json_decref(h->list);
	json_decref(h->index);
	h->list = h->index = NULL;
}

void
state_held_add(struct state_held *h, json_t *finding, const struct rule *r, const char *dedup)
{
	char *k = xasprintf("%s %s", rule_id(r), dedup);

	json_object_set_new(h->index, k, json_integer((json_int_t)json_array_size(h->list)));
	json_array_append_new(h->list, finding);
	free(k);
}

int
state_held_update(struct state_held *h, const struct rule *r, const char *dedup, json_t *set)
{
	char *k = xasprintf("%s %s", rule_id(r), dedup);
	json_t *i = json_object_get(h->index, k);

	free(k);
	if (i != NULL)
		json_object_update(json_array_get(h->list, (size_t)json_integer_value(i)), set);
	json_decref(set);
	return i != NULL ? 0 : -1;
}
