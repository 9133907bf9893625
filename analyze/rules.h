/* rules.h — compiled detection rules: load, evaluate, describe.
 *
 * A struct ruleset is compiled once from YAML rule sources and is immutable
 * afterwards, so every worker thread shares one read-only. Per-thread mutable
 * state (scratch buffers, regex match data) lives in a struct eval_scratch.
 * Nothing here does I/O: the caller reads the files (app/rulefiles.c). */
#ifndef KAUDIT_RULES_H
#define KAUDIT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "analyze/event.h"
#include "base/buf.h"

/* The rule vocabulary that findings, routing and configuration share. */
enum severity { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* "info" ... "critical"; "info" for anything out of range. */
const char *severity_name(enum severity s);
/* 0 and *out, or -1 when s is not one of the five names. */
int	severity_parse(const char *s, enum severity *out);

struct ruleset;
struct rule;
struct eval_scratch;

struct rule_source {
	const char	*name;	/* file name used in `file:line: message` */
	const char	*text;
	size_t		 len;
};

struct rules_options {
	const char *const *disabled_ids;	/* rule ids switched off */
	size_t		   ndisabled_ids;
	const char *const *disabled_tags;	/* rules with any of these tags off */
	size_t		   ndisabled_tags;
	const char	  *cluster;		/* unused by rules; kept for findings */
	const char	  *origin;		/* where the lists above come from (the
						   config file), for error messages */
	int		   ids_line;		/* its line of disabled_rules */
	int		   tags_line;		/* its line of disabled_tags */
	/* Platforms whose list and macro items (`platform: NAME`) apply;
	 * items of other platforms are checked and dropped. A name that no
	 * item of the rules uses is an error at origin:platforms_line. */
	const char *const *platforms;
	size_t		   nplatforms;
	int		   platforms_line;
	/* A condition over the audit event, compiled with the rules' lists
	 * and macros, that ruleset_archive() evaluates (archive.when); NULL:
	 * none. Errors are reported at origin:archive_line. */
	const char	  *archive_when;
	int		   archive_line;
};

/* Compiles sources in order (later files may override or append to lists
 * and macros of earlier ones). Returns NULL and appends one
 * `file:line: message` line per problem to errs. */
struct ruleset *ruleset_compile(const struct rule_source *src, size_t nsrc,
	    const struct rules_options *o, struct buf *errs);
void	ruleset_free(struct ruleset *rs);

size_t	ruleset_count(const struct ruleset *rs);	/* all rules */
/* What compiled with a warning, as `file:line: warning: message` lines
 * (borrowed; "" when none); *n is their count. */
const char *ruleset_warnings(const struct ruleset *rs, size_t *n);
const struct rule *ruleset_rule(const struct ruleset *rs, size_t i);

/* Description of one rule for `kaudit rules list` and docs: a new reference
 * to {"id","title","severity","category","tags":[...],"enabled","kind",
 * "alert","format","file"[,"suppress"]}; kind is "rule" or a correlation's type;
 * format "kaudit", "falco" or "sigma", the file's own; file as the source named it; suppress
 * the rule's period ("24h") when it has one. */
json_t	*rule_describe(const struct rule *r);
const char *rule_id(const struct rule *r);

struct eval_scratch *eval_scratch_new(const struct ruleset *rs);
void	eval_scratch_free(struct eval_scratch *s);
/* Remembers up to `slots` (audit_id, rule) pairs that fired through this
 * scratch and does not build or emit them again, so an event logged at
 * several stages yields one finding (kaudit scan, rules test). Off by
 * default: the daemon relies on the database's unique key, and a batch it
 * retries must emit its findings again. slots is rounded up to a power of
 * two; 0 turns it off. When full, older pairs are forgotten. */
void	eval_scratch_dedup(struct eval_scratch *s, size_t slots);

/* Called once per finding. `finding` is a new reference that the callee
 * owns (steals): an object with every field of DESIGN.md's finding contract
 * (rule, title, severity, category, tags, audit_id, stage, time, cluster,
 * user, groups, impersonated_user, source_ip, user_agent, verb, resource,
 * subresource, namespace, name, code, message, evidence). */
typedef void (*finding_fn)(void *arg, json_t *finding,
	    const struct audit_event *ev);

/* Evaluates every enabled rule that can match ev. Returns findings emitted.
 * Without a signal callback there is no memory across events: rules with
 * `suppress` make a finding per event, correlations are not fed. */
size_t	ruleset_eval(const struct ruleset *rs, const struct audit_event *ev,
	    struct eval_scratch *s, finding_fn emit, void *arg);

/* What one event hands to the state engine (stage 2, see state.h) for a
 * rule that remembers: a correlation it feeds, or its own `suppress`. All
 * pointers are borrowed for the duration of the callback. */
enum signal_kind {
	SIGNAL_RULE,		/* for a correlation or a suppressing rule */
	SIGNAL_OBSERVE,		/* a controller object written: finding holds what is known */
	SIGNAL_ATTRIBUTE,	/* a workload finding on an object a controller made */
};

struct signal {
	enum signal_kind   kind;
	const struct rule *rule;	/* the correlation, the suppressing or the workload
					   rule; NULL for SIGNAL_OBSERVE */
	int		   step;	/* the feed: a step index, SIGNAL_UNTIL or SIGNAL_ABSENT */
	const char	  *key;		/* state key: JSON array [cluster, rule id, values...] */
	size_t		   keylen;
	int64_t		   t;		/* event time, ms since the epoch */
	const char	  *audit_id;
	const char	  *value;	/* value_count's value, first_seen's tuple (JSON), the
					   owner reference to follow (JSON); or NULL */
	size_t		   valuelen;
	json_t		  *finding;	/* the finding this event would make for rule */
	json_t		  *message;	/* correlations: the output template rendered for this
					   event, as parts: strings and {"c": "count"} */
	const char	  *event;	/* the event's JSON text (eventlen bytes) */
	size_t		   eventlen;
};

#define SIGNAL_UNTIL	(-1)
#define SIGNAL_ABSENT	(-2)

struct eval_out {
	/* a finding made per event (steals finding); r is the rule */
	void	(*finding)(void *arg, json_t *finding, const struct audit_event *ev,
		    const struct rule *r);
	/* a signal; NULL: no memory across events, as ruleset_eval() */
	void	(*signal)(void *arg, const struct signal *sg);
	void	*arg;
};

/* ruleset_eval() with signals. Returns findings and signals emitted. */
size_t	ruleset_eval_out(const struct ruleset *rs, const struct audit_event *ev,
	    struct eval_scratch *s, const struct eval_out *out);

/* 0 for a rule whose findings are stored but never delivered (`alert: false`). */
int	rule_alerts(const struct rule *r);
/* 1 when the archive condition (rules_options.archive_when) holds on ev, 0
 * when not or when there is none. Call it right after ruleset_eval_out() on
 * the same event with the same scratch: it reuses what that evaluation
 * computed of the event. */
int	ruleset_archive(const struct ruleset *rs, const struct audit_event *ev,
	    struct eval_scratch *s);
/* 1 for a rule whose findings go through the state engine (a correlation,
 * or a rule with `suppress`). */
int	rule_stateful(const struct rule *r);
/* 1 when some enabled rule remembers across events (a correlation,
 * suppress, attribution): the daemon then runs state owners. */
int	ruleset_stateful(const struct ruleset *rs);
/* The rule with this id, or NULL. */
const struct rule *ruleset_find(const struct ruleset *rs, const char *id);
/* Counters of one scratch: signals emitted, and events a stateful rule
 * matched that had no usable time (not counted). */
unsigned long eval_scratch_signals(const struct eval_scratch *s);
unsigned long eval_scratch_untimed(const struct eval_scratch *s);

#endif
