/* cmd_run.c — `kaudit run`: the daemon.
 *
 * DESIGN: the main thread loads and validates everything (config, rules,
 * database schema) before any thread starts, so a broken rule file or a
 * database that is behind never starts a half-working daemon. Then it
 * starts the suppression watcher (alert/suppress.h), ingest.workers worker
 * threads and one alerter thread and sleeps, waking each second to log
 * progress and to check for a signal or, with --idle-exit, for quiet.
 * Shutdown: workers finish the batch in hand, commit, store offsets and
 * leave the group; the alerter finishes the deliveries in flight and
 * releases the leases of rows it claimed but did not send, which stay
 * pending in the outbox for any alerter. shutdown_timeout bounds the wait
 * for the broker: past it the group leave is given up (offsets follow
 * commits, so nothing is lost) and a thread still busy is left to the
 * exiting process. SIGHUP reloads: see reload(). */
#include "alert/alert.h"
#include "alert/suppress.h"
#include "base/clock.h"
#include "app/cmd.h"
#include "app/config.h"
#include "base/log.h"
#include "base/num.h"
#include "app/rulefiles.h"
#include "app/ingester.h"
#include "app/reload.h"
#include "app/stateowner.h"
#include "app/worker.h"
#include "app/opsmetrics.h"
#include "base/obs.h"
#include "base/version.h"
#include "ingest/producer.h"
#include "base/xmalloc.h"
#include "ingest/consumer.h"
#include "schema/db.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATS_EVERY_MS	30000
#define TICK_MS		200	/* the supervisor's sleep between checks */
#define LAG_EVERY_MS	1000	/* kaudit_consumer_lag, from librdkafka's cache */
#define PENDING_EVERY_MS	5000	/* kaudit_outbox_pending and /readyz's database */
#define IDLE_EXIT_MAX_MS	(7 * 86400 * 1000L)	/* a week */
#define SIGNALS_RETRY_MS	5000	/* between tries to make the signals topic */

struct reload_counters reload_counters;

static atomic_int stop_requested;
static atomic_int reload_requested;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		atomic_store(&reload_requested, 1);
	else
		atomic_store(&stop_requested, sig);
}

static void
run_usage(FILE *out)
{
	fprintf(out,
	    "usage: kaudit run -c FILE [--idle-exit SECONDS]\n"
	    "\n"
	    "Consumes audit events from Kafka, evaluates the rules, stores findings in\n"
	    "PostgreSQL and delivers them to the configured webhooks. SIGTERM or SIGINT\n"
	    "finish the batch in hand and exit 0, within shutdown_timeout (past it, with\n"
	    "the broker away, the daemon exits without leaving the group; offsets are\n"
	    "stored only after commits, so nothing is lost). SIGHUP reads the config\n"
	    "file and its rules again: a set `kaudit check` would refuse is refused and\n"
	    "the running one kept (logged); a valid one replaces it between batches,\n"
	    "reconnecting to the brokers, group and database it names. With\n"
	    "metrics.listen set it serves /metrics (Prometheus), /healthz and /readyz\n"
	    "(docs/observability.md; metrics.listen itself is read at start only).\n"
	    "\n"
	    "  -c, --config FILE      configuration (see kaudit check --example)\n"
	    "      --idle-exit SECS   exit 0 once no message arrived for SECS seconds and\n"
	    "                         no alert is due or in flight (replays, tests, the\n"
	    "                         demo); SECS is 0.001 to 604800, with at most 3\n"
	    "                         decimals (0.5, 30)\n"
	    "\n"
	    "Exits 2 on a usage error (an unknown option, a bad option value).\n");
}

/* At debug level, what the connections will use, for a TLS or SASL setup
 * that does not connect; the log redacts the credentials among them. */
static void
log_settings(const struct config *c)
{
	log_debug("postgres.url %s", c->pg_url);
	for (size_t i = 0; i < c->kafka_props.n; i++)
		log_debug("kafka.properties: %s=%s", c->kafka_props.v[i].key,
		    c->kafka_props.v[i].value);
	for (size_t i = 0; i < c->alert.nwebhooks; i++)
		for (size_t k = 0; k < c->alert.webhooks[i].headers.n; k++)
			log_debug("webhook %s: header %s: %s", c->alert.webhooks[i].name,
			    c->alert.webhooks[i].headers.v[k].key,
			    c->alert.webhooks[i].headers.v[k].value);
}

/* Loads config and rules and checks the database; everything that can be
 * wrong is reported before any thread starts. */
int
run_prepare(const char *path, struct config *c, struct ruleset **rs, int check_db)
{
	struct buf errs;
	struct rules_options ro = { 0 };
	char err[512], warn[1024];
	struct db *db;

	buf_init(&errs);
	config_defaults(c);
	if (config_load(c, path, &errs) != 0) {
		fputs(buf_cstr(&errs), stderr);
		buf_free(&errs);
		return -1;
	}
	config_apply_logging(c);
	if (consumer_check_props(&c->kafka_props, err, sizeof(err), warn, sizeof(warn)) != 0) {
		log_redact(err, sizeof(err));	/* librdkafka quotes the value */
		fprintf(stderr, "%s:%d: %s\n", c->path, c->kafka_props_line, err);
		buf_free(&errs);
		return -1;
	}
	if (warn[0])
		log_warn("%s:%d: %s", c->path, c->kafka_props_line, warn);
	log_settings(c);
	ro.disabled_ids = (const char *const *)c->disabled_rules.v;
	ro.ndisabled_ids = c->disabled_rules.n;
	ro.disabled_tags = (const char *const *)c->disabled_tags.v;
	ro.ndisabled_tags = c->disabled_tags.n;
	ro.cluster = c->cluster;
	ro.origin = c->path;
	ro.ids_line = c->disabled_rules_line;
	ro.tags_line = c->disabled_tags_line;
	ro.platforms = (const char *const *)c->platforms.v;
	ro.nplatforms = c->platforms.n;
	ro.platforms_line = c->platforms_line;
	if (c->archive_enabled && c->archive_when[0] != '\0') {
		ro.archive_when = c->archive_when;
		ro.archive_line = c->archive_when_line;
	}
	*rs = rulefiles_load((const char *const *)c->rules.v, c->rules.n, &ro, &errs);
	if (*rs == NULL) {
		fputs(buf_cstr(&errs), stderr);
		buf_free(&errs);
		return -1;
	}
	buf_free(&errs);
	if (!check_db)
		return 0;
	if ((db = db_connect(c->pg_url, err, sizeof(err))) == NULL) {
		log_error("postgres %s: %s", c->pg_url, err);
		return -1;
	}
	if (db_check_schema(db, err, sizeof(err)) != 0) {
		log_error("%s", err);
		db_close(db);
		return -1;
	}
	db_close(db);
	return 0;
}

static void
log_stats(const struct worker_stats *st)
{
	log_info("messages %lu events %lu findings %lu bad-input %lu dead-letters %lu "
	    "db-retries %lu signals %lu stateful-findings %lu archived %lu write-ms %lu "
	    "write-wait-ms %lu",
	    atomic_load(&st->messages), atomic_load(&st->events), atomic_load(&st->findings),
	    atomic_load(&st->errors), atomic_load(&st->dead_letters),
	    atomic_load(&st->db_retries), atomic_load(&st->signals),
	    atomic_load(&st->state_findings), atomic_load(&st->archived),
	    atomic_load(&st->write_ms), atomic_load(&st->write_wait_ms));
}

/* The workers of one process: ingesters, then state owners. */
struct crew {
	struct worker	**w;
	int		  n, ningest;
	struct db	 *db;		/* the supervisor's, for --idle-exit */
	char		 *state_group;
	struct strlist	  state_topics;
};

/* 1 when every partition of the signal topic has been read to its end by
 * its owner, as the offsets kept with the state show. */
static int
state_drained(const struct config *c, struct crew *cr)
{
	int64_t hi[1024], next[1024];
	int n = 0;
	char err[256];

	if (cr->n == cr->ningest)
		return 1;	/* another process owns the state */
	if (worker_watermarks(cr->w[cr->ningest], c->state_topic, hi, &n, 1024) < 0)
		return 0;
	if (cr->db == NULL || db_state_offsets(cr->db, c->state_topic, next, n, err,
	    sizeof(err)) < 0) {
		db_ok(cr->db);
		return 0;
	}
	for (int p = 0; p < n; p++)
		if (hi[p] > 0 && next[p] < hi[p])
			return 0;
	return 1;
}

/* state_drained() on a thread of its own, beside the ingesters' check. */
struct state_check {
	const struct config	*c;
	struct crew		*cr;
	int			 drained;
};

static void *
state_check_main(void *arg)
{
	struct state_check *sc = arg;

	sc->drained = state_drained(sc->c, sc->cr);
	return NULL;
}

/* True once --idle-exit's condition holds: partitions were assigned,
 * nothing arrived for idle_ms, no batch is in hand, every worker has read its
 * partitions to the end, the group has committed every partition of the
 * topics to its end, and the alerter found nothing due and no delivery under
 * a lease. Quiet alone is not enough: after a SIGKILL the killed members keep
 * their partitions until their session times out, and only the committed
 * offsets show that; likewise the killed alerter's leases, until they
 * expire, hold rows that must still be delivered. */
static int
is_idle(const struct config *c, struct worker_stats *st, struct crew *cr, struct alerter *al,
    long idle_ms, long started_ms)
{
	long last = atomic_load(&st->last_message_ms);

	if (!atomic_load(&st->assigned) || atomic_load(&st->busy))
		return 0;
	if (last == 0)
		last = started_ms;
	if (clock_ms() - last < idle_ms || !alerter_idle(al))
		return 0;
	struct state_check sc = { c, cr, 0 };
	pthread_t t;
	int threaded, drained;

	for (int i = 0; i < cr->ningest; i++)
		if (!worker_caught_up(cr->w[i]))
			return 0;
	/* The two groups' checks ask different consumers, so different broker
	 * connections, and each takes a few round trips: side by side they
	 * cost the longer one, not the sum. */
	threaded = pthread_create(&t, NULL, state_check_main, &sc) == 0;
	drained = cr->ningest > 0 && worker_group_drained(cr->w[0]);
	if (threaded)
		pthread_join(t, NULL);
	else
		sc.drained = state_drained(c, cr);
	return drained && sc.drained;
}

/* The supervisor's next sleep: TICK_MS, or less when --idle-exit's quiet
 * ends sooner, so that the exit does not wait for the tick after it. */
static long
tick_ms(struct worker_stats *st, long idle_ms, long started_ms)
{
	long last = atomic_load(&st->last_message_ms), left;

	if (idle_ms <= 0)
		return TICK_MS;
	/* Past the quiet, is_idle() asks the broker: once a tick is enough. */
	left = (last ? last : started_ms) + idle_ms - clock_ms();
	return left <= 0 || left >= TICK_MS ? TICK_MS : left;
}

void
cmd_signals(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Makes the signals topic when missing. patient (the daemon's first
 * start): tries again every SIGNALS_RETRY_MS until it works or a signal
 * stops the daemon, so that brokers refusing the credentials or the
 * certificate leave it running, not ready, as the workers do; each new
 * reason is logged once. Otherwise (a reload) one try: a refused one keeps
 * the previous configuration. */
static int
signals_topic(const struct config *c, int patient)
{
	struct producer_opts po = { .brokers = c->brokers, .props = &c->kafka_props,
	    .topic = c->state_topic };
	char err[512], last[512] = "";
	int have;

	while (producer_topic_ensure(&po, c->state_partitions, &have, &stop_requested, err,
	    sizeof(err)) < 0) {
		if (atomic_load(&stop_requested))
			return -1;
		if (!patient) {
			log_error("stateful: %s", err);
			return -1;
		}
		if (strcmp(err, last) != 0)
			log_error("stateful: %s; trying again every %d s (not ready until then)",
			    err, SIGNALS_RETRY_MS / 1000);
		snprintf(last, sizeof(last), "%s", err);
		for (int i = 0; i < SIGNALS_RETRY_MS / 100 && !atomic_load(&stop_requested); i++)
			nanosleep(&(struct timespec){ 0, 100 * 1000000L }, NULL);
	}
	if (have != c->state_partitions)
		log_info("stateful: topic %s has %d partition(s) (stateful.partitions %d "
		    "applies when kaudit creates it)", c->state_topic, have, c->state_partitions);
	return 0;
}

/* Starts the ingesters and, when the rules remember across events, the
 * state owners; the signal topic is made first when missing. */
static int
crew_start(const struct config *c, const struct ruleset *rs, struct suppress_set *sup,
    struct worker_stats *st, atomic_int *stop, atomic_long *deadline, struct crew *cr,
    int patient)
{
	int stateful = ruleset_stateful(rs), total = c->workers + (stateful ? c->state_workers : 0);
	char err[512];

	cr->w = xcalloc((size_t)total, sizeof(*cr->w));
	if (stateful) {
		if (signals_topic(c, patient) != 0)
			return -1;
		cr->state_group = xasprintf("%s.state", c->group);
		strlist_add(&cr->state_topics, c->state_topic);
		if ((cr->db = db_connect(c->pg_url, err, sizeof(err))) == NULL)
			log_warn("postgres: %s (--idle-exit cannot see the state owners' offsets)", err);
	}
	for (int i = 0; i < total; i++) {
		int owner = i >= c->workers, id = owner ? i - c->workers : i;
		struct worker_conf wc = { .id = id, .name = owner ? "state owner" : "worker",
		    .batch_max = c->batch_max, .batch_ms = c->batch_ms, .st = st, .stop = stop,
		    .deadline = deadline };
		wc.kafka = (struct consumer_opts){ .brokers = c->brokers,
		    .group = owner ? cr->state_group : c->group,
		    .topics = owner ? &cr->state_topics : &c->topics, .props = &c->kafka_props,
		    .worker = id, .name = wc.name, .stop = stop };
		if (owner) {
			wc.ops = &stateowner_ops;
			wc.impl = stateowner_new(id, c, rs, sup, st, stop, &wc.kafka, err,
			    sizeof(err));
		} else {
			wc.ops = &ingester_ops;
			wc.pipelined = 1;
			wc.impl = ingester_new(id, c, rs, stateful, sup, st, err, sizeof(err));
		}
		if (wc.impl == NULL || (cr->w[cr->n] = worker_start(&wc, err, sizeof(err))) == NULL) {
			log_error("%s %d: %s", wc.name, id, err);
			return -1;
		}
		cr->n++;
		if (!owner)
			cr->ningest++;
	}
	log_info("running: %d worker(s), %d state owner(s), %zu webhook(s), group %s, brokers %s",
	    cr->ningest, cr->n - cr->ningest, c->alert.nwebhooks, c->group, c->brokers);
	return 0;
}

/* Stops the crew: workers finish the batch in hand, and their consumers
 * close by deadline_ms at most. 0 when every worker ended cleanly, -1 when
 * one gave a batch back, -2 when a thread was still busy two seconds past
 * the deadline: it is left running, with everything it uses, and the
 * process must exit. */
static int
crew_stop(struct crew *cr, atomic_int *stop, atomic_long *deadline, long deadline_ms)
{
	int rc = 0, busy = 1;

	atomic_store(deadline, deadline_ms);
	atomic_store(stop, 1);
	while (busy && clock_ms() < deadline_ms + 2000) {
		struct timespec ts = { 0, 10 * 1000000L };
		busy = 0;
		for (int i = 0; i < cr->n; i++)
			busy |= !worker_done(cr->w[i]);
		if (busy)
			nanosleep(&ts, NULL);
	}
	if (busy) {
		log_error("a worker is still busy after shutdown_timeout; exiting without it "
		    "(its batch was not committed, so it is read again)");
		return -2;
	}
	for (int i = 0; i < cr->n; i++)
		if (worker_join(cr->w[i]) != 0)
			rc = -1;
	free(cr->w);
	if (cr->db)
		db_close(cr->db);
	free(cr->state_group);
	strlist_free(&cr->state_topics);
	memset(cr, 0, sizeof(*cr));
	return rc;
}

/* The month partitions' upkeep: the coming months made, retention applied.
 * A failure is logged and tried again at the next interval: batches make
 * the months they need themselves. */
static void
upkeep(const struct config *c, struct db **db)
{
	char err[512];
	long long dropped;

	if (*db == NULL && (*db = db_connect(c->pg_url, err, sizeof(err))) == NULL) {
		log_warn("retention: %s", err);
		return;
	}
	if (!db_ok(*db) || retention_apply(*db, c, 0, NULL, &dropped, err, sizeof(err)) != 0)
		log_warn("retention: %s (tried again in %lld s)", err,
		    (long long)(c->retention_interval_ms / 1000));
}

/* What runs for one configuration: the alerter, the suppression watcher
 * and the workers. Workers point into it: it does not move while they run. */
struct running {
	struct suppress_set	*sup;
	struct suppress_watch	*sw;
	struct alerter		*al;
	struct crew		 cr;
	atomic_int		 wstop;
	atomic_long		 deadline;	/* of the stop in progress */
	int			 patient;	/* the first start: see signals_topic() */
};

static int
running_start(const struct config *c, const struct ruleset *rs, struct worker_stats *st,
    struct running *r)
{
	char err[512];

	memset(&r->cr, 0, sizeof(r->cr));
	r->al = NULL;
	r->sw = NULL;
	atomic_store(&r->wstop, 0);
	atomic_store(&r->deadline, 0);
	r->sup = suppress_new();
	if ((r->al = alerter_start(c->pg_url, &c->alert, err, sizeof(err))) == NULL) {
		log_error("alerter: %s", err);
		return -1;
	}
	if ((r->sw = suppress_watch_start(r->sup, c->pg_url, (long)c->suppress_refresh_ms, err,
	    sizeof(err))) == NULL) {
		log_error("suppressions: %s", err);
		return -1;
	}
	return crew_start(c, rs, r->sup, st, &r->wstop, &r->deadline, &r->cr, r->patient);
}

/* Stops what running_start started (even in part) by deadline_ms: as
 * crew_stop, whose -2 leaves everything to the exiting process. */
static int
running_stop(struct running *r, long deadline_ms)
{
	int rc = crew_stop(&r->cr, &r->wstop, &r->deadline, deadline_ms);

	if (rc == -2)
		return rc;
	if (r->al && alerter_stop_by(r->al, deadline_ms) == -2)
		return -2;
	suppress_watch_stop(r->sw);
	suppress_free(r->sup);
	r->al = NULL;
	r->sw = NULL;
	r->sup = NULL;
	return rc;
}

/* The configuration in force: its file, its settings and its rules. */
struct daemon {
	const char	*path;
	struct config	*c;		/* owned */
	struct ruleset	*rs;		/* owned */
};

static void
settings_free(struct config *c, struct ruleset *rs)
{
	if (rs)
		ruleset_free(rs);
	config_free(c);
	free(c);
}

static void
settings_log_level(const struct config *c)
{
	enum log_level lvl;

	if (log_level_parse(c->log_level, &lvl) == 0)
		log_set_level(lvl);
}

/* SIGHUP: reads the file again and validates it as `kaudit check` does
 * (rules compiled, database reachable and up to date) while the old set
 * keeps running. A set that is not valid changes nothing. A valid one
 * replaces the old between batches: the workers commit the batch in hand,
 * store its offsets and leave the group, the alerter finishes its
 * deliveries, and everything starts again on the new settings, reconnecting
 * to whatever brokers, group and database they name. Messages that arrive
 * meanwhile wait in Kafka: none is dropped. Returns 1 applied, 0 refused
 * (the old set runs), -1 nothing runs, -2 the process must exit at once. */
static int
reload(struct daemon *d, struct worker_stats *st, struct running *r)
{
	struct config *nc = xcalloc(1, sizeof(*nc));
	struct ruleset *nrs = NULL;
	int rc;

	log_info("SIGHUP: reloading %s", d->path);
	if (run_prepare(d->path, nc, &nrs, 1) != 0) {
		atomic_fetch_add(&reload_counters.failed, 1);
		settings_free(nc, nrs);
		settings_log_level(d->c);
		log_error("reload refused: %s is not valid (the errors above; `kaudit check` "
		    "says the same); still running the previous configuration and its %zu "
		    "rule(s)", d->path, ruleset_count(d->rs));
		return 0;
	}
	log_info("reload: %s is valid, %zu rule(s); restarting the workers and the alerter "
	    "between batches", d->path, ruleset_count(nrs));
	if ((rc = running_stop(r, clock_ms() + d->c->shutdown_timeout_ms)) == -2)
		return -2;	/* nc and nrs go with the process */
	if (running_start(nc, nrs, st, r) == 0) {
		settings_free(d->c, d->rs);
		d->c = nc;
		d->rs = nrs;
		atomic_fetch_add(&reload_counters.ok, 1);
		atomic_store(&reload_counters.rules_loaded, ruleset_count(nrs));
		log_info("reload applied: %zu rule(s) in force", ruleset_count(nrs));
		return 1;
	}
	atomic_fetch_add(&reload_counters.failed, 1);
	log_error("reload: the new configuration did not start; going back to the previous one");
	if (running_stop(r, clock_ms() + nc->shutdown_timeout_ms) == -2)
		return -2;
	settings_free(nc, nrs);
	settings_log_level(d->c);
	return running_start(d->c, d->rs, st, r) == 0 ? 0 : -1;
}

static void
lag_one(void *arg, const char *topic, int32_t partition, int64_t lag)
{
	(void)arg;
	obs_lag(topic, partition, lag);
}

/* Whether the database answers, sampled with the outbox's pending rows
 * (kaudit_outbox_pending). */
static int
database_answers(const struct config *c, struct db **db)
{
	long pending;
	char err[512];

	if (*db == NULL)
		*db = db_connect(c->pg_url, err, sizeof(err));
	if (*db != NULL && db_outbox_pending(*db, &pending, err, sizeof(err)) == 0) {
		obs_outbox_pending(pending);
		return 1;
	}
	if (*db != NULL)
		db_ok(*db);
	return 0;
}

/* 1 while some worker of the crew is a member of its group: /readyz's
 * "joined", which a session lost while the broker is away takes back. */
static int
crew_member(const struct crew *cr)
{
	for (int i = 0; i < cr->n; i++)
		if (worker_member(cr->w[i]))
			return 1;
	return 0;
}

/* The gauges sampled rather than counted, and what /readyz says: the lag of
 * the partitions this process reads each second, the database every few. */
static void
observe(const struct config *c, const struct ruleset *rs, struct crew *cr,
    struct opsmetrics *om, struct db **db, long *last_db, int *db_up)
{
	if (om == NULL)
		return;
	obs_reloads_set(atomic_load(&reload_counters.ok), atomic_load(&reload_counters.failed));
	obs_rules_loaded((long)atomic_load(&reload_counters.rules_loaded));
	for (int i = 0; i < cr->n; i++)
		worker_lag(cr->w[i], lag_one, NULL);
	obs_lag_sweep();
	if (clock_ms() - *last_db >= PENDING_EVERY_MS) {
		*db_up = database_answers(c, db);
		*last_db = clock_ms();
	}
	opsmetrics_ready(om, crew_member(cr), *db_up, ruleset_count(rs) > 0);
}

/* Runs until a signal, --idle-exit or a failure. Returns the exit status;
 * 3 when threads are still busy and the process must _exit. */
static int
supervise(struct daemon *d, long idle_ms, struct opsmetrics *om)
{
	long last_db = 0, last_lag = 0;
	int db_up = 1;	/* run_prepare() reached it */
	struct db *updb = NULL;
	long last_upkeep;
	struct worker_stats st;
	struct running r;
	long started = clock_ms(), last_stats = started;
	int rc = 0, stop;

	memset(&st, 0, sizeof(st));
	memset(&r, 0, sizeof(r));
	upkeep(d->c, &updb);
	last_upkeep = clock_ms();
	r.patient = 1;
	if (running_start(d->c, d->rs, &st, &r) < 0) {
		rc = atomic_load(&stop_requested) ? 0 : 1;	/* a signal ended the wait */
		goto out;
	}
	r.patient = 0;
	while (!atomic_load(&stop_requested)) {
		long nap = tick_ms(&st, idle_ms, started);
		struct timespec ts = { 0, nap * 1000000L };
		nanosleep(&ts, NULL);
		if (atomic_exchange(&reload_requested, 0)) {
			int applied = reload(d, &st, &r);
			if (applied == -2)
				return 3;
			if (applied < 0) {
				rc = 1;
				goto out;
			}
			if (applied == 1 && updb) {
				db_close(updb);	/* postgres.url may have changed */
				updb = NULL;
			}
		}
		if (clock_ms() - last_stats >= STATS_EVERY_MS) {
			log_stats(&st);
			last_stats = clock_ms();
		}
		if (clock_ms() - last_lag >= LAG_EVERY_MS) {
			observe(d->c, d->rs, &r.cr, om, &updb, &last_db, &db_up);
			last_lag = clock_ms();
		}
		if (clock_ms() - last_upkeep >= d->c->retention_interval_ms) {
			upkeep(d->c, &updb);
			last_upkeep = clock_ms();
		}
		if (idle_ms > 0 && is_idle(d->c, &st, &r.cr, r.al, idle_ms, started)) {
			log_info("idle for %g s: exiting", idle_ms / 1000.0);
			break;
		}
	}
	if (atomic_load(&stop_requested))
		log_info("signal %d: finishing the batch in hand (shutdown_timeout %g s)",
		    atomic_load(&stop_requested), d->c->shutdown_timeout_ms / 1000.0);
out:
	stop = running_stop(&r, clock_ms() + d->c->shutdown_timeout_ms);
	if (stop == -2)
		return 3;
	if (stop != 0)
		rc = 1;
	if (updb)
		db_close(updb);
	log_stats(&st);
	return rc;
}

/* The registry and the listener of metrics.listen, before any thread
 * records. */
static int
start_metrics(const struct config *c, const struct ruleset *rs, struct opsmetrics **om)
{
	char err[600];

	obs_init(KAUDIT_VERSION);
	obs_rules_loaded((long)ruleset_count(rs));
	if ((*om = opsmetrics_start(c->metrics_listen, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		obs_free();
		return -1;
	}
	opsmetrics_ready(*om, 0, 1, ruleset_count(rs) > 0);
	log_info("metrics: http://%s/metrics, /healthz, /readyz (port %u)", c->metrics_listen,
	    opsmetrics_port(*om));
	return 0;
}

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "idle-exit", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct daemon d = { NULL, NULL, NULL };
	int64_t idle_ms = 0;
	struct opsmetrics *om = NULL;
	char err[160];
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': d.path = optarg; break;
		case 'i':
			if (num_parse_ms(optarg, 1, IDLE_EXIT_MAX_MS, &idle_ms, err, sizeof(err)) < 0) {
				fprintf(stderr, "kaudit run: --idle-exit: %s\n", err);
				return 2;
			}
			break;
		case 'h': run_usage(stdout); return 0;
		default:  run_usage(stderr); return 2;
		}
	}
	if (d.path == NULL || optind != argc) {
		run_usage(stderr);
		return 2;
	}
	/* Signals are caught before the config is read: a SIGHUP sent while
	 * the daemon starts asks for a reload then, instead of killing it. */
	cmd_signals(on_signal);
	d.c = xcalloc(1, sizeof(*d.c));
	if (run_prepare(d.path, d.c, &d.rs, 1) != 0) {
		settings_free(d.c, d.rs);
		return 1;
	}
	atomic_store(&reload_counters.rules_loaded, ruleset_count(d.rs));
	log_info("kaudit: %zu rule(s) loaded from %s", ruleset_count(d.rs),
	    d.c->rules.n ? "the configured paths" : "the built-in pack");
	if (d.c->metrics_listen[0] && start_metrics(d.c, d.rs, &om) != 0) {
		settings_free(d.c, d.rs);
		return 1;
	}
	alert_global_init();
	rc = supervise(&d, (long)idle_ms, om);
	if (rc == 3) {
		/* A thread still holds the settings and the libraries' state. */
		fflush(NULL);
		_exit(1);
	}
	alert_global_cleanup();
	opsmetrics_stop(om);
	obs_free();
	settings_free(d.c, d.rs);
	return rc;
}
