/* stateowner.c — the work of a state owner (see worker.h): read the signal
 * topic, keep the state of the keys of the partitions Kafka assigned to this
 * owner, and write the findings the state makes.
 *
 * DESIGN: exactly once. Each partition's next offset is kept in PostgreSQL
 * (kaudit.state_partitions) with the state of its keys (kaudit.state_keys),
 * and a batch writes its findings, its updates of earlier findings, the
 * state its signals changed and the partitions' new offsets in ONE
 * transaction: they move together or not at all. When Kafka assigns a
 * partition, its state and offset are read back from PostgreSQL and reading
 * starts there; Kafka's own offsets for this group are never used. A crash
 * anywhere replays from the last commit onto the state of that commit, so
 * nothing is counted twice or lost; a signal sent twice by an ingester (a
 * redelivered batch) is counted once by the state itself. A partition
 * revoked while a batch is in hand drops that batch's results for it: its new
 * owner starts from the last commit and makes them again. */
#include "app/stateowner.h"
#include "alert/alert.h"
#include "analyze/state.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/obs.h"
#include "base/xmalloc.h"
#include "schema/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOAD_BACKOFF_MAX_MS	5000

struct owned_finding {
	int32_t		 part;
	json_t		*finding;	/* owned */
	char		*dedup;		/* owned */
	const struct rule *rule;
	char		*event;		/* owned JSON text, or NULL */
	size_t		 eventlen;
};

struct owned_update {
	int32_t		 part;
	const struct rule *rule;
	char		*dedup;		/* owned */
	json_t		*set;		/* owned; later sets merged in */
};

struct owned_key {
	int32_t		 part;
	char		*key;		/* owned */
	size_t		 klen;
	char		*state;		/* owned JSON text; NULL: deleted */
};

struct owned_part {
	int32_t		 part;
	int64_t		 next;		/* offset after the last signal of the batch */
	char		*meta;		/* owned JSON text */
};

struct stateowner {
	int			 id;
	const struct config	*c;
	const struct ruleset	*rs;
	struct suppress_set	*sup;		/* shared */
	struct worker_stats	*st;
	atomic_int		*stop;
	struct db		*db;
	struct state		*state;
	int32_t			 cur;		/* partition of the signal being fed */
	struct owned_finding	*f;
	size_t			 nf, capf;
	struct owned_update	*u;
	size_t			 nu, capu;
	struct owned_key	*k;
	size_t			 nk, capk;
	struct owned_part	*p;
	size_t			 np, capp;
	unsigned long		 bad;		/* signals that did not decode */
};

static void *
grow(void *v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 16;
	return xrealloc(v, *cap * size);
}

static void
on_finding(void *arg, json_t *finding, const char *dedup, const struct rule *r,
    const char *event, size_t len)
{
	struct stateowner *o = arg;
	char *ev = NULL;

	obs_finding(json_string_value(json_object_get(finding, "rule")),
	    json_string_value(json_object_get(finding, "severity")));
	if (event) {
		ev = xmalloc(len + 1);
		memcpy(ev, event, len);
		ev[len] = '\0';
	}
	o->f = grow(o->f, &o->capf, o->nf, sizeof(*o->f));
	o->f[o->nf++] = (struct owned_finding){ o->cur, finding, xstrdup(dedup), r, ev, len };
}

/* Later sets of the same finding in one batch merge into one update. */
static void
on_update(void *arg, const struct rule *r, const char *dedup, json_t *set)
{
	struct stateowner *o = arg;

	for (size_t i = 0; i < o->nu; i++) {
		if (o->u[i].rule == r && strcmp(o->u[i].dedup, dedup) == 0) {
			json_object_update(o->u[i].set, set);
			json_decref(set);
			return;
		}
	}
	o->u = grow(o->u, &o->capu, o->nu, sizeof(*o->u));
	o->u[o->nu++] = (struct owned_update){ o->cur, r, xstrdup(dedup), set };
}

static void
on_key(void *arg, const char *key, size_t klen, json_t *state)
{
	struct stateowner *o = arg;
	char *text = state ? json_dumps(state, JSON_COMPACT) : NULL;

	o->k = grow(o->k, &o->capk, o->nk, sizeof(*o->k));
	o->k[o->nk].part = o->cur;
	o->k[o->nk].key = xmalloc(klen + 1);
	memcpy(o->k[o->nk].key, key, klen);
	o->k[o->nk].key[klen] = '\0';
	o->k[o->nk].klen = klen;
	o->k[o->nk].state = text;
	o->nk++;
}

static struct owned_part *
part_touch(struct stateowner *o, int32_t part)
{
	for (size_t i = 0; i < o->np; i++)
		if (o->p[i].part == part)
			return &o->p[i];
	o->p = grow(o->p, &o->capp, o->np, sizeof(*o->p));
	o->p[o->np] = (struct owned_part){ part, 0, NULL };
	return &o->p[o->np++];
}

static void
stateowner_evaluate(void *impl, struct kmsg *msgs, int n)
{
	struct stateowner *o = impl;
	struct state_out out = { on_finding, on_update, o };
	struct signal sg;
	json_t *hold;

	for (int i = 0; i < n; i++) {
		struct owned_part *p = part_touch(o, msgs[i].partition);
		o->cur = msgs[i].partition;
		if (signal_decode(o->rs, msgs[i].payload, msgs[i].len, &sg, &hold) == 0)
			state_feed(o->state, o->cur, &sg, &out);
		else if (o->bad++ == 0)
			log_warn("state owner %d: a signal at %s[%d]@%lld did not decode or names "
			    "a rule these rules lack (a rule removed since it was sent?); "
			    "skipped, further cases counted", o->id, msgs[i].topic,
			    (int)msgs[i].partition, (long long)msgs[i].offset);
		json_decref(hold);
		if (msgs[i].offset + 1 > p->next)
			p->next = msgs[i].offset + 1;
	}
	/* time moved on in each partition read: expire, fire what is due,
	 * then collect what changed */
	for (size_t i = 0; i < o->np; i++) {
		json_t *meta;
		o->cur = o->p[i].part;
		state_tick(o->state, o->cur, 0, &out);
		state_changed(o->state, o->cur, on_key, o);
		meta = state_part_save(o->state, o->cur);
		o->p[i].meta = json_dumps(meta, JSON_COMPACT);
		json_decref(meta);
	}
}

static int
write_batch(struct stateowner *o)
{
	size_t nhooks = o->c->alert.nwebhooks ? o->c->alert.nwebhooks : 1;
	struct db_finding *rows = xcalloc(o->nf ? o->nf : 1, sizeof(*rows));
	const char **names = xcalloc((o->nf ? o->nf : 1) * nhooks, sizeof(*names));
	struct db_grouping *groups = xcalloc((o->nf ? o->nf : 1) * nhooks, sizeof(*groups));
	struct db_state_key *keys = xcalloc(o->nk ? o->nk : 1, sizeof(*keys));
	struct db_state_part *parts = xcalloc(o->np ? o->np : 1, sizeof(*parts));
	struct db_state_update *upd = xcalloc(o->nu ? o->nu : 1, sizeof(*upd));
	char **sets = xcalloc(o->nu ? o->nu : 1, sizeof(*sets));
	struct db_state_write w = { o->c->state_topic, parts, o->np, keys, o->nk, upd, o->nu };
	size_t inserted = 0, dead = 0;
	int64_t now = suppress_now_ms(), sup;
	char err[512];
	int rc = -1;

	for (size_t i = 0; i < o->nf; i++) {
		const char **mine = names + i * nhooks;
		sup = suppress_match(o->sup, o->f[i].finding, now);
		rows[i] = (struct db_finding){ .finding = o->f[i].finding, .webhooks = mine,
		    .groups = groups + i * nhooks, .nwebhooks = !sup && rule_alerts(o->f[i].rule) ?
		    alert_route(&o->c->alert, o->f[i].finding, mine, groups + i * nhooks) : 0,
		    .event_json = o->f[i].event, .event_len = o->f[i].eventlen,
		    .topic = o->c->state_topic, .partition = o->f[i].part, .offset = -1,
		    .dedup = o->f[i].dedup, .suppressed_by = sup };
	}
	for (size_t i = 0; i < o->nk; i++)
		keys[i] = (struct db_state_key){ o->k[i].part, o->k[i].key, o->k[i].klen,
		    o->k[i].state, o->k[i].state ? strlen(o->k[i].state) : 0 };
	for (size_t i = 0; i < o->np; i++)
		parts[i] = (struct db_state_part){ o->p[i].part, o->p[i].next, o->p[i].meta,
		    o->p[i].meta ? strlen(o->p[i].meta) : 0 };
	for (size_t i = 0; i < o->nu; i++) {
		sets[i] = json_dumps(o->u[i].set, JSON_COMPACT);
		upd[i] = (struct db_state_update){ rule_id(o->u[i].rule), o->u[i].dedup, sets[i],
		    sets[i] ? strlen(sets[i]) : 0 };
	}
	for (int again = 1;; again = 0) {
		if (db_write_batch_with(o->db, rows, o->nf, NULL, 0, db_state_write, &w, &inserted,
		    &dead, err, sizeof(err)) == 0) {
			atomic_fetch_add(&o->st->state_findings, inserted);
			atomic_fetch_add(&o->st->dead_letters, dead);
			rc = 0;
			break;
		}
		atomic_fetch_add(&o->st->db_retries, 1);
		obs_db_retry();
		log_once("db.state_write", "state owner %d: writing a batch failed, retrying: %s",
		    o->id, err);
		if (!again || !db_ok(o->db))
			break;
	}
	for (size_t i = 0; i < o->nu; i++)
		free(sets[i]);
	free(sets);
	free(upd);
	free(parts);
	free(keys);
	for (size_t i = 0; i < o->nf; i++)
		alert_route_release(groups + i * nhooks, rows[i].nwebhooks);
	free(rows);
	free(names);
	free(groups);
	return rc;
}

static int
stateowner_commit(void *impl)
{
	return write_batch(impl);
}

static void
stateowner_end(void *impl)
{
	struct stateowner *o = impl;

	for (size_t i = 0; i < o->nf; i++) {
		json_decref(o->f[i].finding);
		free(o->f[i].dedup);
		free(o->f[i].event);
	}
	for (size_t i = 0; i < o->nu; i++) {
		json_decref(o->u[i].set);
		free(o->u[i].dedup);
	}
	for (size_t i = 0; i < o->nk; i++) {
		free(o->k[i].key);
		free(o->k[i].state);
	}
	for (size_t i = 0; i < o->np; i++)
		free(o->p[i].meta);
	o->nf = o->nu = o->nk = o->np = 0;
}

/* Drops the batch's results for a partition that was revoked while the
 * batch was in hand: its new owner makes them again from the last commit. */
static void
results_drop(struct stateowner *o, int32_t part)
{
	size_t j;

#define DROP(arr, n, freeit) do { \
	for (size_t i = j = 0; i < (n); i++) { \
		if ((arr)[i].part == part) { freeit; } else (arr)[j++] = (arr)[i]; \
	} \
	(n) = j; \
} while (0)
	DROP(o->f, o->nf, { json_decref(o->f[i].finding); free(o->f[i].dedup);
	    free(o->f[i].event); });
	DROP(o->u, o->nu, { json_decref(o->u[i].set); free(o->u[i].dedup); });
	DROP(o->k, o->nk, { free(o->k[i].key); free(o->k[i].state); });
	DROP(o->p, o->np, { free(o->p[i].meta); });
#undef DROP
}

struct loading {
	struct stateowner	*o;
	int32_t			 part;
	size_t			 keys, bad;
};

static void
load_key(void *arg, const char *key, size_t klen, const char *state, size_t slen)
{
	struct loading *l = arg;
	json_t *j = json_loadb(state, slen, 0, NULL);

	if (j && state_key_load(l->o->state, l->part, key, klen, j) == 0)
		l->keys++;
	else
		l->bad++;
	json_decref(j);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A partition assigned: its state and next offset from PostgreSQL. Waits
 * for the database (the partition cannot be read without its state). */
static int
stateowner_own(void *arg, const char *topic, int32_t part, int64_t *offset)
{
	struct stateowner *o = arg;
	struct loading l = { o, part, 0, 0 };
	struct buf meta;
	json_t *m;
	long backoff = 200;
	char err[512];
	int64_t next;

	buf_init(&meta);
	state_drop(o->state, part);
	while (db_state_load(o->db, topic, part, &next, &meta, load_key, &l, err,
	    sizeof(err)) != 0) {
		log_once("state.load", "state owner %d: cannot read the state of %s[%d], "
		    "retrying: %s", o->id, topic, (int)part, err);
		state_drop(o->state, part);
		l.keys = l.bad = 0;
		if (atomic_load(o->stop)) {
			buf_free(&meta);
			return -1;
		}
		sleep_ms(backoff);
		backoff = backoff < LOAD_BACKOFF_MAX_MS / 2 ? backoff * 2 : LOAD_BACKOFF_MAX_MS;
		db_ok(o->db);
	}
	if ((m = json_loadb(meta.data, meta.len, 0, NULL)) != NULL)
		state_part_load(o->state, part, m);
	json_decref(m);
	buf_free(&meta);
	*offset = next >= 0 ? next : CONSUMER_OFFSET_BEGINNING;
	log_info("state owner %d: %s[%d] from offset %lld with %zu key(s)%s", o->id, topic,
	    (int)part, (long long)next, l.keys, l.bad ? " (some of a rule no longer loaded: "
	    "dropped)" : "");
	return 0;
}

static void
stateowner_disown(void *arg, const char *topic, int32_t part)
{
	struct stateowner *o = arg;

	(void)topic;
	results_drop(o, part);
	state_drop(o->state, part);
}

static void
stateowner_free(void *impl)
{
	struct stateowner *o = impl;

	stateowner_end(o);
	free(o->f);
	free(o->u);
	free(o->k);
	free(o->p);
	state_free(o->state);
	if (o->db)
		db_close(o->db);
	free(o);
}

const struct worker_ops stateowner_ops = {
	stateowner_evaluate, stateowner_commit, stateowner_end, stateowner_free,
};

void *
stateowner_new(int id, const struct config *c, const struct ruleset *rs,
    struct suppress_set *sup, struct worker_stats *st, atomic_int *stop,
    struct consumer_opts *k, char *err, size_t errlen)
{
	struct stateowner *o = xcalloc(1, sizeof(*o));
	struct state_opts so = { c->state_lateness_ms, (size_t)c->state_max_keys };

	o->id = id;
	o->c = c;
	o->rs = rs;
	o->sup = sup;
	o->st = st;
	o->stop = stop;
	o->state = state_new(rs, &so);
	if ((o->db = db_connect(c->pg_url, err, errlen)) == NULL) {
		stateowner_free(o);
		return NULL;
	}
	k->own = stateowner_own;
	k->disown = stateowner_disown;
	k->owner = o;
	return o;
}
