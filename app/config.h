/* config.h — the daemon's configuration, read from YAML with libyaml.
 *
 * Every key comes from one table in config.c (name, type, default, bounds,
 * help) that also drives `kaudit check`, `--help` and config/kaudit.example.yaml.
 * Unknown keys and wrong types are errors reported as `file:line: message`.
 * Scalars may reference the environment as ${VAR} (an unset VAR is an error). */
#ifndef KAUDIT_CONFIG_H
#define KAUDIT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "alert/alert.h"
#include "base/buf.h"
#include "base/strlist.h"

struct config {
	char		*path;		/* file it was read from, or "(default)" */
	char		*cluster;	/* cluster name for findings; default "default" */

	/* kafka */
	char		*brokers;
	struct strlist	 topics;
	char		*group;
	struct kvlist	 kafka_props;	/* passed through to librdkafka */
	int		 kafka_props_line;	/* where they were set, for errors */

	/* ingest */
	int		 workers;		/* default 2 */
	size_t		 max_message_bytes;	/* default 4 MiB */
	int		 batch_max;		/* messages per transaction, default 500 */
	int		 batch_ms;		/* max wait to fill a batch, default 200 */
	char		*envelope_field;	/* NULL = none */

	/* postgres */
	char		*pg_url;

	/* alert: the alerter's and the router's options, owned here */
	struct alert_opts alert;
	int64_t		 suppress_refresh_ms;	/* alert.suppressions_refresh */

	/* rules */
	struct strlist	 rules;		/* files or folders; default config/rules */
	struct strlist	 disabled_rules;	/* rule ids */
	struct strlist	 disabled_tags;
	struct strlist	 platforms;	/* managed platforms the rules trust */
	int		 disabled_rules_line;	/* where they were set, for rule errors */
	int		 disabled_tags_line;
	int		 platforms_line;

	/* stateful */
	char		*state_topic;
	int		 state_partitions;
	int		 state_workers;
	int64_t		 state_lateness_ms;
	int		 state_max_keys;

	/* retention (0: keep forever) */
	int64_t		 retention_findings_ms;
	int64_t		 retention_events_ms;
	int64_t		 retention_interval_ms;

	/* the event archive */
	int		 archive_enabled;
	char		*archive_when;		/* a condition; "" none */
	int		 archive_when_line;

	/* gateway: kaudit gateway, the API server's audit webhook */
	char		*gw_listen;
	char		*gw_tls_cert, *gw_tls_key, *gw_client_ca;	/* PEM files, "" none */
	struct strlist	 gw_tokens;	/* bearer tokens, from ${ENV} */
	char		*gw_topic;	/* "" : the first of kafka.topics */
	char		*gw_cluster;	/* "" : no kaudit-cluster header */
	size_t		 gw_max_body;
	int		 gw_timeout_ms;
	int		 gw_max_conns;
	char		*gw_metrics_listen;	/* "" : no metrics listener */

	int64_t		 shutdown_timeout_ms;	/* longest stop of kaudit run */
	char		*log_level;	/* debug|info|warn|error */
	char		*log_format;	/* text|json */
	char		*metrics_listen;	/* "": no daemon metrics listener */
};

/* archive.when's default (see config.c). Fields only, no macro, so that it
 * compiles with any rule files: a person is who is not a service account,
 * a node, anonymous or a system: identity (a managed platform's own
 * identities count as persons here: archived, not lost). Single quotes:
 * the default is written into YAML inside double quotes. */
#define ARCHIVE_WHEN_DEFAULT \
	"objectRef.subresource in (exec, attach, portforward, proxy)" \
	" or responseStatus.code in (401, 403) or ka.decision = forbid" \
	" or (verb in (create, update, patch, delete, deletecollection)" \
	" and not ((ka.user.is_node = true or user.username startswith 'system:')" \
	" and (objectRef.resource in (leases, events) or objectRef.subresource = status)))" \
	" or not (ka.user.is_serviceaccount = true or ka.user.is_node = true" \
	" or ka.user.is_anonymous = true or user.username startswith 'system:')"

/* Fills c with every default. */
void	config_defaults(struct config *c);
/* Reads and validates path. Returns 0, or -1 with one `file:line: message`
 * line per problem appended to errs. */
int	config_load(struct config *c, const char *path, struct buf *errs);
/* Same, from text already in memory; name is used in messages. */
int	config_load_text(struct config *c, const char *name, const char *text,
	    size_t len, struct buf *errs);
void	config_free(struct config *c);
/* Writes the documented example config (from the key table) to b. */
void	config_example(struct buf *b);
/* Applies log_level and log_format, and registers with log_secret() every
 * value of c that no log line may show: webhook header values, signing
 * secrets, routing keys, the query of webhook URLs (and the whole path of
 * Slack and Teams ones, which is their credential), gateway tokens, and
 * kafka.properties values whose key names a secret. Forgets the secrets of
 * an earlier configuration first. */
void	config_apply_logging(const struct config *c);

#endif
