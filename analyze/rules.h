/* rules.h — compiled detection rules: load, evaluate, describe.
 *
 * A struct ruleset is compiled once from YAML rule sources and is immutable
 * afterwards, so every worker thread shares one read-only. Per-thread mutable
 * state (scratch buffers, regex match data) lives in a struct eval_scratch.
 * Nothing here does I/O: the caller reads the files (app/rulefiles.c). */
#ifndef KAUDIT_RULES_H
#define KAUDIT_RULES_H

#include <stddef.h>

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
};

/* Compiles sources in order (later files may override or append to lists
 * and macros of earlier ones). Returns NULL and appends one
 * `file:line: message` line per problem to errs. */
struct ruleset *ruleset_compile(const struct rule_source *src, size_t nsrc,
	    const struct rules_options *o, struct buf *errs);
void	ruleset_free(struct ruleset *rs);

size_t	ruleset_count(const struct ruleset *rs);	/* all rules */
const struct rule *ruleset_rule(const struct ruleset *rs, size_t i);

/* Description of one rule for `kaudit rules list` and docs: a new reference
 * to {"id","title","severity","category","tags":[...],"enabled"}. */
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

/* Evaluates every enabled rule that can match ev. Returns findings emitted. */
size_t	ruleset_eval(const struct ruleset *rs, const struct audit_event *ev,
	    struct eval_scratch *s, finding_fn emit, void *arg);

#endif
