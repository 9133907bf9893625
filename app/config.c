/* config.c — the configuration: one key table drives parsing, validation,
 * defaults and the documented example (`kaudit check --example`).
 *
 * The YAML is loaded as a libyaml document (nodes keep their line numbers),
 * then walked against the table. Every problem is reported as
 * `file:line: message` and parsing goes on, so one `kaudit check` run lists
 * them all. Scalars may hold ${VAR} references to the environment, so secrets
 * (database passwords, webhook tokens) stay out of the file. */
#include "app/config.h"
#include "alert/format.h"
#include "alert/sign.h"
#include "alert/groups.h"
#include "base/log.h"
#include "base/file.h"
#include "base/num.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define CONFIG_MAX_BYTES	(1u << 20)	/* a configuration file */
#define WEBHOOK_NAME_MAX	128		/* bytes: a key of kaudit.outbox's index */

enum ctype {
	CT_SECTION,	/* a mapping of further keys */
	CT_STR,
	CT_INT,
	CT_SIZE,
	CT_STRLIST,
	CT_KV,		/* mapping of scalar -> scalar */
	CT_SEVERITY,
	CT_LOGLEVEL,
	CT_LOGFORMAT,	/* text or json */
	CT_DURATION,	/* "10m", "24h": stored as int64_t milliseconds, min..max ms */
	CT_RATE,	/* per second, at most 3 decimals ("0.5"): a double, min..max
			 * in thousandths */
	CT_WEBHOOKS,	/* sequence of webhook mappings (webhook_keys) */
	CT_FORMAT,	/* enum alert_format */
	CT_BOOL,	/* true or false: an int 1 or 0 */
};

struct ckey {
	const char	*path;
	enum ctype	 type;
	size_t		 off;
	const char	*def;		/* default, as it would be written in YAML */
	long		 min, max;	/* CT_INT, CT_SIZE */
	const char	*help;
};

#define C(f)	offsetof(struct config, f)
#define W(f)	offsetof(struct webhook_conf, f)

/* CT_DURATION stores an int64_t; webhook_conf's group durations are long. */
_Static_assert(sizeof(long) == sizeof(int64_t), "durations are stored as int64_t");

static const struct ckey config_keys[] = {
	{ "cluster", CT_STR, C(cluster), "default", 0, 0,
	  "cluster name recorded on every finding (when the event does not carry one)" },
	{ "kafka", CT_SECTION, 0, NULL, 0, 0, "where audit events come from" },
	{ "kafka.brokers", CT_STR, C(brokers), "127.0.0.1:9092", 0, 0,
	  "bootstrap servers, comma-separated" },
	{ "kafka.topics", CT_STRLIST, C(topics), "[\"k8s-audit\"]", 0, 0,
	  "topics to consume" },
	{ "kafka.group", CT_STR, C(group), "kaudit", 0, 0,
	  "consumer group id; processes with the same group share partitions" },
	{ "kafka.properties", CT_KV, C(kafka_props), "{}", 0, 0,
	  "any other librdkafka property, passed through (e.g. security.protocol)" },
	{ "ingest", CT_SECTION, 0, NULL, 0, 0, "decoding and batching" },
	{ "ingest.workers", CT_INT, C(workers), "2", 1, 64,
	  "consumer threads, each with its own Kafka consumer and database connection" },
	{ "ingest.max_message_bytes", CT_SIZE, C(max_message_bytes), "4194304", 1024, 1L << 30,
	  "larger messages go to kaudit.ingest_errors instead of the rules" },
	{ "ingest.batch_max", CT_INT, C(batch_max), "500", 1, 100000,
	  "messages per database transaction" },
	{ "ingest.batch_ms", CT_INT, C(batch_ms), "200", 1, 60000,
	  "longest wait, in ms, to fill a batch; an ingest worker writes its batch as soon as "
	  "nothing more is queued (a backlog still fills batch_max)" },
	{ "ingest.envelope_field", CT_STR, C(envelope_field), "\"\"", 0, 0,
	  "log-shipper envelope field holding the event as a string or object (empty: none)" },
	{ "postgres", CT_SECTION, 0, NULL, 0, 0, "where findings are stored" },
	{ "postgres.url", CT_STR, C(pg_url), "postgresql://kaudit@127.0.0.1:5432/kaudit", 0, 0,
	  "libpq connection URI; use ${VAR} for the password" },
	{ "alert", CT_SECTION, 0, NULL, 0, 0, "webhook notifications" },
	{ "alert.webhooks", CT_WEBHOOKS, 0, "[]", 0, 0,
	  "webhooks; each gets every finding that passes its filters" },
	{ "alert.max_age", CT_DURATION, C(alert.max_age_ms), "24h", 1000, 365L * 86400000,
	  "a delivery is retried until it is this old (from its finding, or its last "
	  "`kaudit alerts retry`), then dead" },
	{ "alert.max_attempts", CT_INT, C(alert.max_attempts), "0", 0, 1000000,
	  "also dead after this many attempts; 0: no limit, max_age alone decides" },
	{ "alert.backoff_ms", CT_INT, C(alert.backoff_ms), "5000", 1, 3600000,
	  "first wait before a retry; the schedule 5s, 5m, 30m, 2h, 5h, 10h, 10h... "
	  "is scaled by backoff_ms/5000" },
	{ "alert.max_backoff_ms", CT_INT, C(alert.max_backoff_ms), "36000000", 1, 86400000,
	  "longest wait between attempts (and cap of a Retry-After)" },
	{ "alert.poll_ms", CT_INT, C(alert.poll_ms), "500", 10, 60000,
	  "longest wait for due deliveries without a notification (the alerter "
	  "LISTENs for new outbox rows and wakes at once)" },
	{ "alert.batch", CT_INT, C(alert.batch), "32", 1, 1000,
	  "deliveries in flight at once, over every webhook" },
	{ "alert.suppressions_refresh", CT_DURATION, C(suppress_refresh_ms), "30s", 1000,
	  86400000, "how often the daemon reloads the suppressions of `kaudit findings "
	  "suppress` in any case (it also reloads at once when PostgreSQL notifies a change)" },
	{ "rules", CT_STRLIST, C(rules), "[]", 0, 0,
	  "rule files or folders, read in order; empty: the shipped pack built into kaudit" },
	{ "disabled_rules", CT_STRLIST, C(disabled_rules), "[]", 0, 0,
	  "rule ids to switch off" },
	{ "disabled_tags", CT_STRLIST, C(disabled_tags), "[]", 0, 0,
	  "rules carrying any of these tags are switched off" },
	{ "platforms", CT_STRLIST, C(platforms), "[]", 0, 0,
	  "managed platforms this cluster runs on (openshift, gke, eks, aks): their control-plane "
	  "identities are trusted; empty: plain upstream Kubernetes" },
	{ "stateful", CT_SECTION, 0, NULL, 0, 0,
	  "memory across events: correlations, suppress, attribution (see docs/design.md)" },
	{ "stateful.topic", CT_STR, C(state_topic), "\"\"", 0, 0,
	  "Kafka topic that carries signals to their key's state owner; created at start if "
	  "missing (empty: KAFKA.GROUP-signals, so groups sharing a cluster never share one)" },
	{ "stateful.partitions", CT_INT, C(state_partitions), "12", 1, 10000,
	  "partitions of stateful.topic when kaudit creates it: the most state owners that can share the work" },
	{ "stateful.workers", CT_INT, C(state_workers), "1", 0, 64,
	  "state-owner threads in this process (0: signals are produced, others own the state)" },
	{ "stateful.lateness", CT_DURATION, C(state_lateness_ms), "10m", 0, 7L * 86400000,
	  "how far behind the newest event time an event may arrive and still count" },
	{ "stateful.max_keys", CT_INT, C(state_max_keys), "1000000", 1000, 100000000,
	  "keys each state owner keeps in memory; past it the least recently used is dropped (counted, logged)" },
	{ "retention", CT_SECTION, 0, NULL, 0, 0,
	  "how long findings and archived events are kept: whole months are dropped once "
	  "their last day is older (docs/storage.md)" },
	{ "retention.findings", CT_DURATION, C(retention_findings_ms), "0d", 0,
	  36500L * 86400000,
	  "drop the months of findings older than this, by event time (0d: keep forever, "
	  "the default: findings are the record, and a replayed old log must not vanish "
	  "at the next upkeep); e.g. 400d keeps a year and a month" },
	{ "retention.events", CT_DURATION, C(retention_events_ms), "90d", 0, 36500L * 86400000,
	  "drop the months of archived events older than this, by event time (0d: keep "
	  "forever; replaying logs older than this archives nothing that lasts)" },
	{ "retention.interval", CT_DURATION, C(retention_interval_ms), "1h", 60000,
	  7L * 86400000,
	  "how often the daemon makes the coming months and applies retention (also at start)" },
	{ "archive", CT_SECTION, 0, NULL, 0, 0,
	  "the event archive kaudit.events: events kept whether or not a rule fired, for "
	  "timelines around a finding (docs/storage.md)" },
	{ "archive.enabled", CT_BOOL, C(archive_enabled), "true", 0, 0,
	  "archive the events that archive.when holds on, in the transaction of their "
	  "batch's findings (the event of every finding is archived whatever this says)" },
	{ "archive.when", CT_STR, C(archive_when), "\"" ARCHIVE_WHEN_DEFAULT "\"", 0, 0,
	  "which events to archive: a condition in the rule language, with the rules' lists "
	  "and macros; the default takes every exec, attach, port-forward and proxy, every "
	  "denied request, everything a person did, and every write but the control plane's "
	  "and nodes' routine ones (leases, events, status)" },
	{ "gateway", CT_SECTION, 0, NULL, 0, 0,
	  "kaudit gateway: receives the API server's audit webhook and produces each event to "
	  "Kafka, answering 200 once Kafka has acknowledged them all (docs/ingest.md)" },
	{ "gateway.listen", CT_STR, C(gw_listen), "\"0.0.0.0:8443\"", 0, 0,
	  "HOST:PORT or [V6]:PORT to listen on; without tls_cert only a loopback address is "
	  "allowed (tokens must not cross a network in the clear)" },
	{ "gateway.tls_cert", CT_STR, C(gw_tls_cert), "\"\"", 0, 0,
	  "server certificate chain, PEM (the API server's kubeconfig names its CA)" },
	{ "gateway.tls_key", CT_STR, C(gw_tls_key), "\"\"", 0, 0, "its private key, PEM" },
	{ "gateway.client_ca", CT_STR, C(gw_client_ca), "\"\"", 0, 0,
	  "CA certificates, PEM: a client certificate that chains to one of them (valid now, "
	  "for TLS client use) is let in; one that does not is refused, token or not" },
	{ "gateway.tokens", CT_STRLIST, C(gw_tokens), "[]", 0, 0,
	  "bearer tokens let in (Authorization: Bearer ...), each as ${VAR}; a list while "
	  "rotating. With client_ca too, either a verified certificate or a token lets in; "
	  "at least one of the two is required" },
	{ "gateway.topic", CT_STR, C(gw_topic), "\"\"", 0, 0,
	  "Kafka topic the events go to, one message per event keyed by auditID (empty: the "
	  "first of kafka.topics); kafka.properties apply to the producer too" },
	{ "gateway.cluster", CT_STR, C(gw_cluster), "\"\"", 0, 0,
	  "when this gateway serves one cluster: its name, sent in a kaudit-cluster header "
	  "with every message (empty: none)" },
	{ "gateway.max_body_bytes", CT_SIZE, C(gw_max_body), "33554432", 1024, 1L << 30,
	  "larger POSTs get 413 (from Content-Length before the body is read, or once the "
	  "body passes it)" },
	{ "gateway.timeout_ms", CT_INT, C(gw_timeout_ms), "10000", 100, 25000,
	  "how long a POST waits for Kafka's acknowledgement of every event; past it, 503 "
	  "with Retry-After (the API server sends the batch again). Below the API server's "
	  "own 30 s limit on a webhook request" },
	{ "gateway.max_connections", CT_INT, C(gw_max_conns), "64", 1, 10000,
	  "connections served at once; each may hold up to max_body_bytes" },
	{ "gateway.metrics_listen", CT_STR, C(gw_metrics_listen), "\"127.0.0.1:9465\"", 0, 0,
	  "HOST:PORT of a plain-HTTP listener for /metrics (Prometheus text) and /healthz, "
	  "apart from the authenticated one (empty: none)" },
	{ "metrics", CT_SECTION, 0, NULL, 0, 0,
	  "the daemon's (kaudit run) Prometheus endpoint; see docs/operations.md" },
	{ "metrics.listen", CT_STR, C(metrics_listen), "\"\"", 0, 0,
	  "HOST:PORT of a plain-HTTP listener for /metrics (Prometheus text), /healthz "
	  "(the process answers) and /readyz (in the consumer group, database reachable, "
	  "rules loaded); empty: none. Bind to loopback or a pod address, not a public one" },
	{ "shutdown_timeout", CT_DURATION, C(shutdown_timeout_ms), "30s", 1000, 3600000,
	  "longest wait of `kaudit run` on SIGTERM (or a SIGHUP that reconnects) for the "
	  "batches in hand and the broker's answer to the final offset commit and group "
	  "leave; past it the daemon exits without the leave (offsets are stored only "
	  "after their batch is committed, so what the broker did not acknowledge is "
	  "read again: nothing is lost)" },
	{ "log_level", CT_LOGLEVEL, C(log_level), "info", 0, 0,
	  "debug, info, warn or error" },
	{ "log_format", CT_LOGFORMAT, C(log_format), "text", 0, 0,
	  "text (one line: time, level, message) or json (one object per line: time, "
	  "level, msg); passwords, tokens and header values are redacted in both" },
	{ NULL, 0, 0, NULL, 0, 0, NULL }
};

static const struct ckey webhook_keys[] = {
	{ "name", CT_STR, W(name), NULL, 0, 0, "required; unique name (at most 128 bytes) recorded with each delivery" },
	{ "url", CT_STR, W(url), NULL, 0, 0, "required (for pagerduty: defaults to "
	  ALERT_PAGERDUTY_URL "); http or https URL that receives a POST per finding" },
	{ "min_severity", CT_SEVERITY, W(min_severity), "info", 0, 0,
	  "only findings at or above this severity" },
	{ "categories", CT_STRLIST, W(categories), "[]", 0, 0, "only these categories (empty: all)" },
	{ "rules", CT_STRLIST, W(rules), "[]", 0, 0, "only these rule ids (empty: all)" },
	{ "headers", CT_KV, W(headers), "{}", 0, 0, "extra HTTP headers, e.g. Authorization: \"Bearer ${TOKEN}\"" },
	{ "timeout_ms", CT_INT, W(timeout_ms), "5000", 100, 600000,
	  "per-request timeout (connecting included); outbox rows stay claimed for twice "
	  "the longest one plus 10 s" },
	{ "rate_limit", CT_RATE, W(rate_limit), "0", 0, 100000000,
	  "notifications per second (e.g. 1 or 0.5), held across every kaudit process "
	  "sharing the database; the excess waits in the outbox; 0: no limit" },
	{ "concurrency", CT_INT, W(concurrency), "4", 1, 1000,
	  "requests in flight to this webhook at once, per kaudit process" },
	{ "format", CT_FORMAT, W(format), "generic", 0, 0,
	  "generic (the finding JSON, or template), slack (Block Kit), teams (Workflows "
	  "Adaptive Card) or pagerduty (Events API v2); see docs/alerting.md" },
	{ "template", CT_STR, W(template), "\"\"", 0, 0,
	  "generic only: JSON body with %{field} placeholders, each value JSON-escaped "
	  "(empty: the finding itself)" },
	{ "routing_key", CT_STR, W(routing_key), "\"\"", 0, 0,
	  "pagerduty only, and required there: the Events API v2 integration key, e.g. ${PD_KEY}" },
	{ "secret", CT_STRLIST, W(secrets), "[]", 0, 0,
	  "Standard Webhooks signing secret(s), whsec_<base64> (a list while rotating): each "
	  "POST carries webhook-id, webhook-timestamp and webhook-signature" },
	{ "when", CT_STR, W(when), "\"\"", 0, 0,
	  "only findings this condition holds on, in the rule language over the finding's fields, "
	  "e.g. \"category = exec and severity >= high\" (docs/alerting.md); empty: all" },
	{ "group_by", CT_STRLIST, W(group_by), "[]", 0, 0,
	  "finding fields whose values make a group, notified as one (e.g. [rule, user], "
	  "[namespace], correlation.kind; the cluster always counts); empty: one notification "
	  "per finding (docs/alerting.md, Grouping)" },
	{ "group_wait", CT_DURATION, W(group_wait_ms), "30s", 0, 86400000,
	  "with group_by: how long a new group collects findings before its first notification" },
	{ "group_interval", CT_DURATION, W(group_interval_ms), "5m", 1000, 7L * 86400000,
	  "with group_by: least time between two notifications of a group; each carries what is new" },
	{ "repeat_interval", CT_DURATION, W(repeat_interval_ms), "4h", 1000, 30L * 86400000,
	  "with group_by: a notified group that gets nothing new for this long closes; the next "
	  "finding with its values opens a new group" },
	{ "ca_file", CT_STR, W(ca_file), "\"\"", 0, 0,
	  "https only: PEM file of the CA certificate(s) that sign the receiver's certificate, "
	  "trusted instead of the system's CAs (a private CA); empty: the system's" },
	{ "client_cert", CT_STR, W(client_cert), "\"\"", 0, 0,
	  "https only: PEM client certificate (chain) presented to a receiver that asks for "
	  "one; with client_key" },
	{ "client_key", CT_STR, W(client_key), "\"\"", 0, 0,
	  "the private key of client_cert, PEM, unencrypted; its path is logged, never its "
	  "contents" },
	{ NULL, 0, 0, NULL, 0, 0, NULL }
};

/* Parsing context: the document and where errors go. */
struct cparse {
	const char	*file;
	yaml_document_t	*doc;
	struct buf	*errs;
	int		 nerr;
};

static void
cerr(struct cparse *p, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
cerr(struct cparse *p, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_printf(p->errs, "%s:%lu: %s\n", p->file,
	    n ? (unsigned long)n->start_mark.line + 1 : 1UL, msg);
	p->nerr++;
}

/* Expands ${VAR} from the environment. Returns a new string, or NULL after
 * reporting an unset variable or an unterminated reference. */
static char *
expand_env(struct cparse *p, const yaml_node_t *n, const char *s)
{
	struct buf b;
	const char *q, *end;

	buf_init(&b);
	buf_append(&b, "", 0);
	for (q = s; *q; q++) {
		if (q[0] != '$' || q[1] != '{') {
			buf_putc(&b, *q);
			continue;
		}
		end = strchr(q + 2, '}');
		if (end == NULL) {
			cerr(p, n, "unterminated ${ in \"%s\"", s);
			goto fail;
		}
		char name[256];
		size_t len = (size_t)(end - (q + 2));
		if (len == 0 || len >= sizeof(name)) {
			cerr(p, n, "bad environment reference in \"%s\"", s);
			goto fail;
		}
		memcpy(name, q + 2, len);
		name[len] = '\0';
		const char *v = getenv(name);
		if (v == NULL) {
			cerr(p, n, "environment variable %s is not set", name);
			goto fail;
		}
		buf_puts(&b, v);
		q = end;
	}
	return b.data;
fail:
	buf_free(&b);
	return NULL;
}

static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:	 return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE:	 return "a mapping";
	default:		 return "nothing";
	}
}

static const char *
scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
is_null_scalar(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(scalar(n), "") == 0 || strcmp(scalar(n), "~") == 0 ||
	    strcmp(scalar(n), "null") == 0);
}

/* Integers follow base/num.h: decimal digits only, so "1e3", " 5", "+5",
 * "0x10", "010", "5.0" and YAML's true are errors, not 1000, 5, 16, 8 or 1.
 * A quoted "5" is taken like 5, so that "${WORKERS}" works. */
static int
parse_long(struct cparse *p, const yaml_node_t *n, const struct ckey *k, const char *s, long *out)
{
	char err[160];
	int64_t v;

	if (num_parse_i64(s, k->min, k->max, &v, err, sizeof(err)) < 0) {
		cerr(p, n, "%s: %s", k->path, err);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static void
set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

/* A scalar node, env-expanded; NULL after reporting. */
static char *
node_string(struct cparse *p, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		cerr(p, n, "%s: expected a scalar, got %s", what, node_kind(n));
		return NULL;
	}
	return expand_env(p, n, scalar(n));
}

static void
set_strlist(struct cparse *p, const yaml_node_t *n, const struct ckey *k, struct strlist *l)
{
	yaml_node_item_t *it;

	if (is_null_scalar(n)) {
		strlist_free(l);
		return;
	}
	if (n->type == YAML_SCALAR_NODE) {	/* a single string stands for a list of one */
		char *v = node_string(p, n, k->path);
		if (v) {
			strlist_free(l);
			l->v = xmalloc(sizeof(*l->v));
			l->v[l->n++] = v;
		}
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		cerr(p, n, "%s: expected a list, got %s", k->path, node_kind(n));
		return;
	}
	strlist_free(l);
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(p->doc, *it);
		char *v = node_string(p, e, k->path);
		if (v == NULL)
			continue;
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = v;
	}
}

static void
set_kv(struct cparse *p, const yaml_node_t *n, const struct ckey *k, struct kvlist *l)
{
	yaml_node_pair_t *pr;

	if (is_null_scalar(n)) {
		kvlist_free(l);
		return;
	}
	if (n->type != YAML_MAPPING_NODE) {
		cerr(p, n, "%s: expected a mapping, got %s", k->path, node_kind(n));
		return;
	}
	kvlist_free(l);
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
		if (kn->type != YAML_SCALAR_NODE) {
			cerr(p, kn, "%s: keys must be scalars", k->path);
			continue;
		}
		char *v = node_string(p, vn, k->path);
		if (v == NULL)
			continue;
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n].key = xstrdup(scalar(kn));
		l->v[l->n].value = v;
		l->n++;
	}
}

/* Sets one typed value at base + k->off from node n. */
static void
set_value(struct cparse *p, const yaml_node_t *n, const struct ckey *k, char *base)
{
	void *dst = base + k->off;
	char *s;
	long v;

	switch (k->type) {
	case CT_STRLIST:
		set_strlist(p, n, k, dst);
		return;
	case CT_KV:
		set_kv(p, n, k, dst);
		return;
	case CT_SECTION:
	case CT_WEBHOOKS:
		return;		/* handled by the walkers */
	default:
		break;
	}
	if ((s = node_string(p, n, k->path)) == NULL)
		return;
	switch (k->type) {
	case CT_STR:
		set_str(dst, s);
		return;
	case CT_INT:
		if (parse_long(p, n, k, s, &v) == 0)
			*(int *)dst = (int)v;
		break;
	case CT_SIZE:
		if (parse_long(p, n, k, s, &v) == 0)
			*(size_t *)dst = (size_t)v;
		break;
	case CT_FORMAT:
		if (alert_format_parse(s, dst) != 0)
			cerr(p, n, "%s: \"%s\" is not one of generic, slack, teams, pagerduty",
			    k->path, s);
		break;
	case CT_SEVERITY:
		if (severity_parse(s, dst) != 0)
			cerr(p, n, "%s: \"%s\" is not one of info, low, medium, high, critical",
			    k->path, s);
		break;
	case CT_BOOL:
		if (strcmp(s, "true") == 0)
			*(int *)dst = 1;
		else if (strcmp(s, "false") == 0)
			*(int *)dst = 0;
		else
			cerr(p, n, "%s: expected true or false, got \"%s\"", k->path, s);
		break;
	case CT_DURATION: {
		int64_t ms;
		if (duration_parse(s, &ms) != 0 || ms < k->min || ms > k->max) {
			cerr(p, n, "%s: expected a duration such as 90s, 10m, 24h or 7d within "
			    "[%ldms, %ldms], got \"%s\"", k->path, k->min, k->max, s);
			break;
		}
		*(int64_t *)dst = ms;
		break;
	}
	case CT_RATE: {
		int64_t milli;
		char why[160];
		/* Seconds with 3 decimals read the same as a rate: "0.5" is 500
		 * thousandths either way. */
		if (num_parse_ms(s, k->min, k->max, &milli, why, sizeof(why)) != 0) {
			cerr(p, n, "%s: expected a number per second from %g to %g with "
			    "at most 3 decimals (e.g. 1 or 0.5), got \"%s\"", k->path,
			    k->min / 1000.0, k->max / 1000.0, s);
			break;
		}
		*(double *)dst = (double)milli / 1000.0;
		break;
	}
	case CT_LOGLEVEL: {
		enum log_level lvl;
		if (log_level_parse(s, &lvl) != 0) {
			cerr(p, n, "%s: \"%s\" is not one of debug, info, warn, error", k->path, s);
			break;
		}
		set_str(dst, s);
		return;
	}
	case CT_LOGFORMAT:
		if (log_format_parse(s, NULL) != 0) {
			cerr(p, n, "%s: \"%s\" is not one of text, json", k->path, s);
			break;
		}
		set_str(dst, s);
		return;
	default:
		break;
	}
	free(s);
}

/* The signal topic of a consumer group: GROUP-signals, with what a Kafka
 * topic name cannot hold (anything but letters, digits, '.', '_', '-')
 * made '_', and cut to Kafka's 249 characters. */
static char *
state_topic_of(const char *group)
{
	char *t = xasprintf("%.241s-signals", group ? group : "kaudit");

	for (char *q = t; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '.' || *q == '_' || *q == '-'))
			*q = '_';
	return t;
}

/* Sets every key of table that has a default, by parsing the default as
 * the YAML a user would write, through the same set_value() as the file's
 * values: the table is the only place a default is written. */
static void
table_defaults(const struct ckey *table, char *base)
{
	for (const struct ckey *k = table; k->path; k++) {
		struct buf text, errs;
		struct cparse p;
		yaml_parser_t parser;
		yaml_document_t doc;
		yaml_node_t *root, *v;

		if (k->def == NULL || k->type == CT_SECTION || k->type == CT_WEBHOOKS)
			continue;
		buf_init(&text);
		buf_init(&errs);
		buf_printf(&text, "v: %s\n", k->def);
		p = (struct cparse){ "(defaults)", &doc, &errs, 0 };
		yaml_parser_initialize(&parser);
		yaml_parser_set_input_string(&parser, (const unsigned char *)text.data, text.len);
		if (!yaml_parser_load(&parser, &doc) ||
		    (root = yaml_document_get_root_node(&doc)) == NULL ||
		    root->type != YAML_MAPPING_NODE) {
			fprintf(stderr, "kaudit: the default of %s does not parse: %s\n", k->path, k->def);
			abort();
		}
		v = yaml_document_get_node(&doc, root->data.mapping.pairs.start->value);
		set_value(&p, v, k, base);
		if (p.nerr) {
			fprintf(stderr, "kaudit: the default of %s: %s", k->path, buf_cstr(&errs));
			abort();
		}
		yaml_document_delete(&doc);
		yaml_parser_delete(&parser);
		buf_free(&text);
		buf_free(&errs);
	}
}

static const struct ckey *
key_find(const struct ckey *table, const char *path)
{
	for (const struct ckey *k = table; k->path; k++)
		if (strcmp(k->path, path) == 0)
			return k;
	return NULL;
}

static void
webhook_defaults(struct webhook_conf *w)
{
	memset(w, 0, sizeof(*w));
	table_defaults(webhook_keys, (char *)w);
}

static void
webhook_free(struct webhook_conf *w)
{
	free(w->name);
	free(w->url);
	strlist_free(&w->categories);
	strlist_free(&w->rules);
	kvlist_free(&w->headers);
	free(w->template);
	free(w->routing_key);
	strlist_free(&w->secrets);
	free(w->when);
	fcond_free(w->when_cond);
	strlist_free(&w->group_by);
	free(w->ca_file);
	free(w->client_cert);
	free(w->client_key);
}

/* The value nodes of a webhook's keys that are checked together. */
struct webhook_nodes {
	const yaml_node_t	*template;
	const yaml_node_t	*routing_key;
	const yaml_node_t	*secret;
	const yaml_node_t	*tls[3];	/* ca_file, client_cert, client_key */
};

static void
webhook_node(struct webhook_nodes *wn, const struct ckey *k, const yaml_node_t *vn)
{
	if (k->off == W(template))
		wn->template = vn;
	else if (k->off == W(routing_key))
		wn->routing_key = vn;
	else if (k->off == W(secrets))
		wn->secret = vn;
	else if (k->off == W(ca_file))
		wn->tls[0] = vn;
	else if (k->off == W(client_cert))
		wn->tls[1] = vn;
	else if (k->off == W(client_key))
		wn->tls[2] = vn;
}

#define TLS_FILE_MAX	(1u << 20)	/* a PEM bundle of CAs, a certificate chain */

/* Whether a TLS file of a webhook can be read and holds PEM: checked here so
 * that `kaudit check` and a reload say it, not the first delivery. The
 * key's bytes are wiped before they are freed. */
static void
webhook_check_pem(struct cparse *p, const yaml_node_t *n, const char *name,
    const char *key, const char *path)
{
	struct buf b;
	char why[256];

	buf_init(&b);
	if (file_read(path, TLS_FILE_MAX, &b, why, sizeof(why)) != 0)
		cerr(p, n, "alert.webhooks: webhook \"%s\": %s %s: %s", name, key, path, why);
	else if (strstr(buf_cstr(&b), "-----BEGIN ") == NULL)
		cerr(p, n, "alert.webhooks: webhook \"%s\": %s %s: not a PEM file (no "
		    "-----BEGIN line)", name, key, path);
	if (b.data != NULL)
		memset(b.data, 0, b.len);
	buf_free(&b);
}

/* ca_file, client_cert and client_key: readable PEM files, for an https
 * url, the certificate and its key together. */
static void
webhook_check_tls(struct cparse *p, const yaml_node_t *n, const struct webhook_conf *w,
    const struct webhook_nodes *wn)
{
	static const char *const keys[3] = { "ca_file", "client_cert", "client_key" };
	const char *files[3] = { w->ca_file, w->client_cert, w->client_key };
	const char *name = w->name ? w->name : "?";
	int any = 0;

	for (int i = 0; i < 3; i++) {
		if (files[i] == NULL || *files[i] == '\0')
			continue;
		any = 1;
		webhook_check_pem(p, wn->tls[i] ? wn->tls[i] : n, name, keys[i], files[i]);
	}
	if ((*w->client_cert == '\0') != (*w->client_key == '\0'))
		cerr(p, wn->tls[1] ? wn->tls[1] : wn->tls[2] ? wn->tls[2] : n,
		    "alert.webhooks: webhook \"%s\": client_cert and client_key go "
		    "together: %s is missing", name, *w->client_cert ? "client_key" : "client_cert");
	if (any && w->url != NULL && strncmp(w->url, "https://", 8) != 0)
		cerr(p, n, "alert.webhooks: webhook \"%s\": ca_file, client_cert and "
		    "client_key apply only to an https:// url", name);
}

/* format, template, routing_key and secret, which depend on one another. */
static void
webhook_check_format(struct cparse *p, const yaml_node_t *n, struct webhook_conf *w,
    const struct webhook_nodes *wn)
{
	const char *name = w->name ? w->name : "?";
	unsigned char key[SIGN_KEY_MAX];
	char err[512];
	size_t len;

	if (w->format == ALERT_FORMAT_PAGERDUTY) {
		if (w->url == NULL)
			w->url = xstrdup(ALERT_PAGERDUTY_URL);
		if (w->routing_key == NULL || *w->routing_key == '\0')
			cerr(p, wn->routing_key ? wn->routing_key : n, "alert.webhooks: webhook "
			    "\"%s\": format pagerduty needs a routing_key", name);
	} else if (wn->routing_key != NULL) {
		cerr(p, wn->routing_key, "alert.webhooks: webhook \"%s\": routing_key "
		    "applies only to format pagerduty", name);
	}
	if (w->template != NULL && *w->template != '\0') {
		if (w->format != ALERT_FORMAT_GENERIC)
			cerr(p, wn->template, "alert.webhooks: webhook \"%s\": template applies "
			    "only to format generic", name);
		else if (alert_template_check(w->template, err, sizeof(err)) == -1)
			cerr(p, wn->template, "alert.webhooks: webhook \"%s\": %s", name, err);
	}
	for (size_t i = 0; i < w->secrets.n; i++)
		if (sign_secret_parse(w->secrets.v[i], key, &len, err, sizeof(err)) == -1)
			cerr(p, wn->secret, "alert.webhooks: webhook \"%s\": secret %zu: %s",
			    name, i + 1, err);
}

/* Compiles w's when condition, read from node n; errors point into it as
 * into a rule's condition (a block scalar's text starts a line below). */
static void
webhook_when(struct cparse *p, const yaml_node_t *n, struct webhook_conf *w)
{
	char what[WEBHOOK_NAME_MAX + 64];
	int line = (int)n->start_mark.line + 1;

	if (w->when == NULL || *w->when == '\0' || is_null_scalar(n))
		return;		/* no condition */
	if (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
		line++;
	snprintf(what, sizeof(what), "alert.webhooks[%.*s].when", WEBHOOK_NAME_MAX,
	    w->name ? w->name : "?");
	if ((w->when_cond = fcond_compile(w->when, strlen(w->when), p->file, line, what,
	    p->errs)) == NULL)
		p->nerr++;
}

/* group_by names finding fields, each once; reported at the item's line. */
static void
check_group_by(struct cparse *p, const yaml_node_t *n, const struct webhook_conf *w)
{
	const yaml_node_item_t *it = NULL;
	char why[256];

	/* items that were not strings were reported and left out: then the
	 * list's own line */
	if (n->type == YAML_SEQUENCE_NODE && (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start) == w->group_by.n)
		it = n->data.sequence.items.start;

	for (size_t i = 0; i < w->group_by.n; i++, it = it ? it + 1 : NULL) {
		const yaml_node_t *at = it ? yaml_document_get_node(p->doc, *it) : n;
		if (alert_group_field_check(w->group_by.v[i], why, sizeof(why)) == -1)
			cerr(p, at, "alert.webhooks: webhook \"%s\": group_by: %s",
			    w->name ? w->name : "?", why);
		for (size_t j = 0; j < i; j++)
			if (strcmp(w->group_by.v[i], w->group_by.v[j]) == 0)
				cerr(p, at, "alert.webhooks: webhook \"%s\": group_by: "
				    "\"%s\" is listed twice", w->name ? w->name : "?",
				    w->group_by.v[i]);
	}
}

static void
walk_webhook(struct cparse *p, const yaml_node_t *n, struct webhook_conf *w)
{
	struct webhook_nodes wn = { NULL, NULL, NULL, { NULL, NULL, NULL } };
	yaml_node_pair_t *pr;
	const yaml_node_t *when = NULL;
	const yaml_node_t *group_by = NULL;

	if (n->type != YAML_MAPPING_NODE) {
		cerr(p, n, "alert.webhooks: each webhook must be a mapping, got %s", node_kind(n));
		return;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
		const struct ckey *k = kn->type == YAML_SCALAR_NODE ?
		    key_find(webhook_keys, scalar(kn)) : NULL;
		if (k == NULL) {
			cerr(p, kn, "alert.webhooks: unknown key \"%s\"",
			    kn->type == YAML_SCALAR_NODE ? scalar(kn) : "?");
			continue;
		}
		set_value(p, vn, k, (char *)w);
		webhook_node(&wn, k, vn);
		if (k->off == W(when) && vn->type == YAML_SCALAR_NODE)
			when = vn;
		if (k->off == W(group_by))
			group_by = vn;
	}
	if (when)	/* after the loop: the name may come after it */
		webhook_when(p, when, w);
	if (group_by != NULL)
		check_group_by(p, group_by, w);
	if (w->name == NULL || *w->name == '\0')
		cerr(p, n, "alert.webhooks: a webhook needs a name");
	else if (strlen(w->name) > WEBHOOK_NAME_MAX)
		cerr(p, n, "alert.webhooks: a webhook name has at most %d bytes",
		    WEBHOOK_NAME_MAX);
	webhook_check_format(p, n, w, &wn);
	webhook_check_tls(p, n, w, &wn);
	if (w->url == NULL || (strncmp(w->url, "http://", 7) != 0 &&
	    strncmp(w->url, "https://", 8) != 0))
		cerr(p, n, "alert.webhooks: webhook \"%s\" needs an http:// or https:// url",
		    w->name ? w->name : "?");
}

static void
walk_webhooks(struct cparse *p, const yaml_node_t *n, struct config *c)
{
	yaml_node_item_t *it;

	if (is_null_scalar(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		cerr(p, n, "alert.webhooks: expected a list, got %s", node_kind(n));
		return;
	}
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(p->doc, *it);
		struct webhook_conf w;

		webhook_defaults(&w);
		walk_webhook(p, e, &w);
		for (size_t i = 0; w.name && i < c->alert.nwebhooks; i++)
			if (strcmp(c->alert.webhooks[i].name, w.name) == 0)
				cerr(p, e, "alert.webhooks: duplicate webhook name \"%s\"", w.name);
		c->alert.webhooks = xrealloc(c->alert.webhooks, (c->alert.nwebhooks + 1) * sizeof(*c->alert.webhooks));
		c->alert.webhooks[c->alert.nwebhooks++] = w;
	}
}

static void
walk_mapping(struct cparse *p, const yaml_node_t *n, const char *prefix, struct config *c)
{
	yaml_node_pair_t *pr;
	char path[256];

	if (n->type != YAML_MAPPING_NODE) {
		cerr(p, n, "%s: expected a mapping, got %s", *prefix ? prefix : "config",
		    node_kind(n));
		return;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
		const struct ckey *k;

		if (kn->type != YAML_SCALAR_NODE) {
			cerr(p, kn, "keys must be scalars");
			continue;
		}
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", scalar(kn));
		if ((k = key_find(config_keys, path)) == NULL) {
			cerr(p, kn, "unknown key \"%s\"", path);
			continue;
		}
		if (k->type == CT_SECTION) {
			if (!is_null_scalar(vn))
				walk_mapping(p, vn, path, c);
		} else if (k->type == CT_WEBHOOKS) {
			walk_webhooks(p, vn, c);
		} else {
			set_value(p, vn, k, (char *)c);
		}
		/* The rule compiler checks these ids and tags, and the
		 * consumer the Kafka properties; both report against the
		 * line they were set on. */
		if (k->off == C(disabled_rules) && k->type == CT_STRLIST)
			c->disabled_rules_line = (int)kn->start_mark.line + 1;
		else if (k->off == C(disabled_tags) && k->type == CT_STRLIST)
			c->disabled_tags_line = (int)kn->start_mark.line + 1;
		else if (k->off == C(platforms) && k->type == CT_STRLIST)
			c->platforms_line = (int)kn->start_mark.line + 1;
		else if (k->off == C(kafka_props) && k->type == CT_KV)
			c->kafka_props_line = (int)kn->start_mark.line + 1;
		else if (k->off == C(archive_when) && k->type == CT_STR)
			c->archive_when_line = (int)kn->start_mark.line + 1;
	}
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->path = xstrdup("(default)");
	table_defaults(config_keys, (char *)c);
}

static int
yaml_problem(struct cparse *p, yaml_parser_t *parser)
{
	buf_printf(p->errs, "%s:%lu: %s%s%s\n", p->file,
	    (unsigned long)parser->problem_mark.line + 1,
	    parser->problem ? parser->problem : "YAML syntax error",
	    parser->context ? " " : "", parser->context ? parser->context : "");
	return -1;
}

int
config_load_text(struct config *c, const char *name, const char *text, size_t len,
    struct buf *errs)
{
	struct cparse p = { name, NULL, errs, 0 };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int rc = -1;

	set_str(&c->path, xstrdup(name));
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_problem(&p, &parser);
		yaml_parser_delete(&parser);
		return rc;
	}
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !is_null_scalar(root))
		walk_mapping(&p, root, "", c);
	if (c->topics.n == 0)
		cerr(&p, root, "kafka.topics: at least one topic is needed");
	if (c->state_topic == NULL || *c->state_topic == '\0')
		set_str(&c->state_topic, state_topic_of(c->group));
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	rc = p.nerr ? -1 : 0;
	return rc;
}

int
config_load(struct config *c, const char *path, struct buf *errs)
{
	struct buf text;
	char why[256];
	int rc;

	buf_init(&text);
	if (file_read(path, CONFIG_MAX_BYTES, &text, why, sizeof(why)) < 0) {
		buf_printf(errs, "%s: %s\n", path, why);
		buf_free(&text);
		return -1;
	}
	rc = config_load_text(c, path, text.data, text.len, errs);
	buf_free(&text);
	return rc;
}

void
config_free(struct config *c)
{
	free(c->path);
	free(c->cluster);
	free(c->brokers);
	strlist_free(&c->topics);
	free(c->group);
	kvlist_free(&c->kafka_props);
	free(c->envelope_field);
	free(c->pg_url);
	for (size_t i = 0; i < c->alert.nwebhooks; i++)
		webhook_free(&c->alert.webhooks[i]);
	free(c->alert.webhooks);
	strlist_free(&c->rules);
	strlist_free(&c->disabled_rules);
	strlist_free(&c->disabled_tags);
	strlist_free(&c->platforms);
	free(c->state_topic);
	free(c->archive_when);
	free(c->gw_listen);
	free(c->gw_tls_cert);
	free(c->gw_tls_key);
	free(c->gw_client_ca);
	strlist_free(&c->gw_tokens);
	free(c->gw_topic);
	free(c->gw_cluster);
	free(c->gw_metrics_listen);
	free(c->log_level);
	free(c->log_format);
	free(c->metrics_listen);
	memset(c, 0, sizeof(*c));
}

static void
example_keys(struct buf *b, const struct ckey *table, const char *indent, int depth_of_dot)
{
	for (const struct ckey *k = table; k->path; k++) {
		const char *leaf = strrchr(k->path, '.');
		int depth = 0;

		for (const char *q = k->path; *q; q++)
			depth += *q == '.';
		if (depth != depth_of_dot && depth_of_dot >= 0)
			continue;
		leaf = leaf ? leaf + 1 : k->path;
		buf_printf(b, "%s# %s\n", indent, k->help);
		if (k->type == CT_SECTION) {
			char sub[64];
			buf_printf(b, "%s%s:\n", indent, leaf);
			snprintf(sub, sizeof(sub), "%s  ", indent);
			for (const struct ckey *s = table; s->path; s++) {
				size_t pl = strlen(k->path);
				if (strncmp(s->path, k->path, pl) == 0 && s->path[pl] == '.') {
					buf_printf(b, "%s# %s\n", sub, s->help);
					if (s->type == CT_WEBHOOKS) {
						buf_printf(b, "%s%s:\n", sub, s->path + pl + 1);
						buf_printf(b, "%s  - name: soc\n%s    url: \"http://127.0.0.1:9000/hook\"\n",
						    sub, sub);
						for (const struct ckey *w = webhook_keys + 2; w->path; w++)
							buf_printf(b, "%s    # %s: %s  (%s)\n", sub, w->path,
							    w->def, w->help);
					} else {
						buf_printf(b, "%s%s: %s\n", sub, s->path + pl + 1, s->def);
					}
				}
			}
		} else {
			buf_printf(b, "%s%s: %s\n", indent, leaf, k->def);
		}
	}
}

void
config_example(struct buf *b)
{
	buf_puts(b, "# kaudit configuration: every key with its default.\n"
	    "# Values may reference the environment as ${VAR}.\n");
	example_keys(b, config_keys, "", 0);
}

/* Whether a kafka.properties key holds a credential (sasl.password,
 * ssl.key.password, sasl.oauthbearer.client.secret, ...config). */
static int
secret_prop(const char *key)
{
	return strstr(key, "password") || strstr(key, "secret") ||
	    strstr(key, "oauthbearer.config") || strstr(key, "ssl.key.pem") ||
	    strstr(key, "ssl_key");
}

static void
webhook_secrets(const struct webhook_conf *w)
{
	const char *q;

	for (size_t i = 0; i < w->headers.n; i++)
		log_secret(w->headers.v[i].value);
	for (size_t i = 0; i < w->secrets.n; i++)
		log_secret(w->secrets.v[i]);
	log_secret(w->routing_key);
	if (w->url == NULL)
		return;
	if ((q = strchr(w->url, '?')) != NULL)
		log_secret(q + 1);
	if ((w->format == ALERT_FORMAT_SLACK || w->format == ALERT_FORMAT_TEAMS) &&
	    (q = strstr(w->url, "://")) != NULL && (q = strchr(q + 3, '/')) != NULL)
		log_secret(q);
}

void
config_apply_logging(const struct config *c)
{
	enum log_level lvl;
	enum log_format fmt;

	if (c->log_level && log_level_parse(c->log_level, &lvl) == 0)
		log_set_level(lvl);
	if (c->log_format && log_format_parse(c->log_format, &fmt) == 0)
		log_set_format(fmt);
	log_secrets_clear();
	for (size_t i = 0; i < c->alert.nwebhooks; i++)
		webhook_secrets(&c->alert.webhooks[i]);
	for (size_t i = 0; i < c->gw_tokens.n; i++)
		log_secret(c->gw_tokens.v[i]);
	for (size_t i = 0; i < c->kafka_props.n; i++)
		if (secret_prop(c->kafka_props.v[i].key))
			log_secret(c->kafka_props.v[i].value);
}
