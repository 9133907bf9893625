/* rules_impl.h — the insides of a compiled rule set, shared by the files of
 * analyze/ that build it (rules.c, cond.c, field.c) and read it (eval.c,
 * finding.c). Nothing outside analyze/ includes this, except unit tests and
 * fuzz targets that poke at the condition compiler directly.
 *
 * Everything a ruleset owns lives in one arena freed at once, so the compiled
 * tree can share subtrees (a macro used by ten rules is compiled once). */
#ifndef KAUDIT_RULES_IMPL_H
#define KAUDIT_RULES_IMPL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "analyze/rules.h"

#define COND_MAX_LEN	65536	/* bytes of condition text */
#define COND_MAX_DEPTH	64	/* nesting of parentheses / not / any */
#define MACRO_MAX_DEPTH	32	/* macros inside macros */
#define EVIDENCE_MAX	16	/* fields in one finding's evidence */
#define EVIDENCE_STR_MAX 512	/* bytes of one evidence string */
#define EVIDENCE_RAW_MAX 1024	/* bytes of one evidence array/object */

/* --- arena ------------------------------------------------------------- */

struct arena {
	struct arena_chunk *head;
};

void	*arena_alloc(struct arena *a, size_t n);	/* zeroed */
char	*arena_strndup(struct arena *a, const char *s, size_t n);
void	 arena_free(struct arena *a);

/* --- literals ---------------------------------------------------------- */

#define LIT_QUOTED	0x01	/* written in quotes: a string, nothing else */
#define LIT_NUM		0x02	/* bare and parses as a number */
#define LIT_BOOL	0x04	/* bare true / false */
#define LIT_NULL	0x08	/* bare null */

struct lit {
	const char	*s;	/* text (unquoted, unescaped); NUL-terminated */
	size_t		 n;
	double		 num;	/* LIT_NUM */
	int		 b;	/* LIT_BOOL */
	unsigned	 flags;
};

/* A set of literals for `in` and for string operators over several values.
 * Strings are sorted by (length, bytes) for binary search. */
struct litset {
	struct lit	*str;	/* every literal by its text */
	size_t		 nstr;
	double		*num;	/* LIT_NUM literals */
	size_t		 nnum;
	unsigned	 bools;	/* bit 0: false present, bit 1: true present */
	unsigned	 null;
};

int	litset_has_str(const struct litset *set, const char *s, size_t n);
/* A set of the n literals v (copied), in the arena. */
struct litset *litset_build(struct arena *a, const struct lit *v, size_t n);
/* Classifies a bare word or an unquoted YAML scalar (number, bool, null). */
void	lit_bare(struct lit *l);

/* --- fields -------------------------------------------------------------- */

enum ftype {
	FT_ANY = 0,	/* unknown below an open object: checked at run time */
	FT_STR,
	FT_NUM,
	FT_BOOL,
	FT_ARR,
	FT_OBJ,
	FT_SEV,		/* a finding's severity: one of five names, compared by rank */
};

enum fbase {
	FB_ROOT,	/* path from the event root */
	FB_WELL,	/* path from a well-known token ev->f[ef] */
	FB_ELEM,	/* path from the current any/all element */
	FB_COMPUTED,	/* a ka.* field, possibly followed by a path */
	FB_FINDING,	/* path from the root of a finding (fcond.c) */
};

enum computed {
	KA_EXEC_COMMAND, KA_EXEC_CONTAINER, KA_EXEC_ARGV0,
	KA_UA_CLIENT, KA_UA_VERSION, KA_UA_MAJOR, KA_UA_MINOR, KA_UA_PATCH, KA_UA_OS, KA_UA_ARCH,
	KA_SOURCE_IP, KA_DECISION, KA_REASON,
	KA_IS_SA, KA_IS_NODE, KA_IS_ANON, KA_SA_NAMESPACE, KA_SA_NAME,
	KA_OBJECT, KA_PODSPEC, KA_CONTAINERS, KA_VOLUMES, KA_CM_DATA, KA_CSR_SUBJECT,
	KA_PROXY_PATH, KA_LABEL_SELECTOR, KA_FIELD_SELECTOR,
	KA_DUP_KEYS, KA_BAD_UTF8,
	KA_ACTOR, KA_ACTOR_IDENTITIES, KA_BINDING_SUBJECTS,
	KA_COUNT
};

/* Which index dimension a field feeds (see eval.c). */
enum ikey { IK_NONE, IK_VERB, IK_RESOURCE, IK_SUBRESOURCE, IK_COUNT };

struct pathseg {
	const char	*key;	/* NULL for an array index */
	size_t		 len;
	uint32_t	 index;
};

struct field {
	const char	*name;	/* as written: evidence keys, messages */
	enum fbase	 base;
	int		 ef;	/* FB_WELL: enum event_field */
	enum computed	 comp;	/* FB_COMPUTED */
	struct pathseg	*seg;	/* path after the base */
	size_t		 nseg;
	enum ftype	 type;
	enum ikey	 ikey;
};

enum val_kind { VAL_NONE, VAL_TOK, VAL_STR, VAL_NUM, VAL_BOOL, VAL_ARRS, VAL_LIST, VAL_JSON };

/* Strings made from an event (ka.actor.identities, ka.binding.subjects):
 * n strings, the i-th at b.data + off[i], len[i] bytes. */
struct strvec {
	struct buf	 b;
	size_t		*off, *len;
	size_t		 n, cap;
};

/* A field's value during evaluation; points into the event or the scratch. */
struct val {
	enum val_kind	 kind;
	int		 tok;		/* VAL_TOK */
	const char	*s;		/* VAL_STR */
	size_t		 n;
	double		 num;		/* VAL_NUM */
	int		 b;		/* VAL_BOOL */
	int		 arr[3];	/* VAL_ARRS: arrays read one after another */
	int		 narr;
	const struct strvec *list;	/* VAL_LIST */
	const json_t	*j;		/* VAL_JSON: an array or object of a finding */
};

/* What a condition is evaluated on: an audit event (ev, s), or a finding
 * (fcond.c: finding set, ev and s NULL). Inside any/all over a finding's
 * array, elem is a slot of fel[] holding the element. */
struct evctx {
	const struct audit_event *ev;
	struct eval_scratch	*s;
	const json_t		*finding;	/* borrowed */
	const json_t		**fel;		/* COND_MAX_DEPTH slots */
	int			 nfel;
	pcre2_match_data	*md;		/* regex matches on a finding */
};

/* Parses a field path. relative: inside any/all (paths from the element).
 * Returns NULL with a message in err. */
struct field *field_compile(struct arena *a, const char *text, size_t len,
	    int relative, char *err, size_t errlen);
/* The same over the finding's fields (the finding contract of
 * docs/design.md) instead of the audit event's. */
struct field *field_compile_finding(struct arena *a, const char *text, size_t len,
	    int relative, char *err, size_t errlen);
void	field_eval(const struct field *f, struct evctx *c, int elem, struct val *v);
/* Renders v for messages: strings bare, the rest as JSON text. */
void	field_render(const struct val *v, struct evctx *c, struct buf *out, size_t cap);
/* computed.c: forgets the computed fields of the previous event. */
void	field_reset(struct eval_scratch *s);
/* computed.c: the value of a ka.* field. Scalar fields set v and return
 * -1; fields a path may follow (ka.object, ka.podspec, ...) leave v unset
 * and return their token (-1 when absent). */
int	computed_eval(const struct field *f, struct evctx *c, struct val *v);
void	strvec_free(struct strvec *v);
/* computed.c: appends prefix and s[0..n) as one more string of v. */
void	strvec_add(struct strvec *v, const char *prefix, const char *s, size_t n);
/* computed.c: the first value of the query parameter name in the query
 * q[0..n), as Go's url.ParseQuery reads it, into out; 1 when there is one. */
int	query_first(struct eval_scratch *s, const char *q, size_t n, const char *name,
	    struct buf *out);
/* computed.c: the token of ka.object, or -1. */
int	computed_object(struct evctx *c);

/* --- conditions ---------------------------------------------------------- */

enum op {
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
	OP_IN, OP_CONTAINS, OP_ICONTAINS, OP_STARTSWITH, OP_ENDSWITH,
	OP_GLOB, OP_REGEX, OP_EXISTS, OP_CIDR,
};

/* N_MEMO wraps a macro used outside any/all: its result is computed once
 * per event however many rules use it. */
/* N_FALCO holds a Falco rule's condition (falco.h), evaluated with
 * Falco's semantics. */
enum nkind { N_AND, N_OR, N_NOT, N_CMP, N_ANY, N_ALL, N_TRUE, N_FALSE, N_MEMO, N_FALCO };

struct fexpr;
struct ffield;
struct orsw;

struct cidr {
	int		 family;	/* 4 or 6 */
	uint8_t		 addr[16];
	unsigned	 bits;
};

struct node {
	enum nkind	 kind;
	struct node	**kid;		/* AND/OR: n kids; NOT/ANY/ALL: kid[0] */
	size_t		 nkid;
	struct field	*f;		/* CMP, ANY, ALL */
	enum op		 op;
	struct lit	*lit;		/* single value */
	struct litset	*set;		/* several values (in, string ops) */
	pcre2_code	*re;		/* OP_REGEX */
	struct cidr	*cidr;		/* OP_CIDR */
	size_t		 ncidr;
	size_t		 memo;		/* N_MEMO: slot in eval_scratch.memo */
	struct fexpr	*fx;		/* N_FALCO */
	struct orsw	*sw;		/* N_OR: branches ruled out by one field (cond.c) */
};

struct rlist;
struct cond_ctx;

/* The compiler's view of the names a condition may use (rules.c provides). */
struct cond_names {
	const struct rlist *(*list)(void *arg, const char *name);
	/* Compiled macro; NULL and *found set when it failed or does not exist. */
	struct node *(*macro)(void *arg, const char *name, int relative,
	    struct cond_ctx *cc, int *found);
	void	*arg;
};

struct cond_ctx {
	struct arena		*ar;
	const char		*file;	/* for `file:line: message` */
	int			 line;
	struct buf		*errs;
	int			 nerr;
	const struct cond_names	*names;	/* NULL: syntax only, no name checks */
	pcre2_code		***regexes;	/* where compiled regexes are recorded */
	size_t			*nregexes;
	int			 depth;	/* macro nesting */
	int			 lenient; /* fields unchecked: syntax of unused macros */
	int			 finding; /* fields are a finding's, not an event's (fcond.c) */
	const char		*what;	/* messages start "WHAT: "; NULL: "condition" */
};

/* Compiles a condition. Returns NULL after appending one error to cc->errs. */
struct node *cond_compile(struct cond_ctx *cc, const char *text, size_t len,
	    int relative);
int	cond_eval(const struct node *n, struct evctx *c, int elem);
/* Prepares n and what it contains for faster evaluation, once compiled
 * (an OR of comparisons of one field: see cond.c). Results do not change. */
void	cond_optimize(struct arena *a, struct node *n);
/* A comparison built from parts instead of text (rule exceptions): `field
 * op value` with op as written ("=", "in", "contains", ...). With seq, val
 * holds a sequence's items; otherwise val[0] is the one value, and a
 * scalar after `in` (or an unquoted one naming a list after a string
 * operator) names a list. Lists named among the values are expanded.
 * Errors are reported as "WHAT: message" at cc's file and line. Returns
 * NULL after appending one error. */
/* 1 when name is a comparison cond_cmp() accepts (every operator but exists). */
int	cond_op_known(const char *name);
struct node *cond_cmp(struct cond_ctx *cc, const char *what, const char *field,
	    const char *op, const struct lit *val, size_t nval, int seq);
/* An AND, OR or NOT node over kid[0..nkid). */
struct node *cond_group(struct arena *a, enum nkind kind, struct node **kid, size_t nkid);
/* Appends `file:line: message` to cc->errs. */
void	cond_error(struct cond_ctx *cc, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Parses a condition alone (fuzzing, tests): 0 or -1 with the message. */
int	cond_check(const char *text, size_t len, struct buf *errs);

/* --- lists ---------------------------------------------------------------- */

struct rlist {
	const char	*name;
	struct lit	*item;
	size_t		 nitem;
	const char	*file;
	int		 line;
	int		 state;	/* rules.c: 0 raw, 1 expanding, 2 expanded */
};

/* --- rules ------------------------------------------------------------------ */

#define STAGE_REQUEST_RECEIVED	0x1
#define STAGE_RESPONSE_STARTED	0x2
#define STAGE_RESPONSE_COMPLETE	0x4
#define STAGE_PANIC		0x8

struct tmpl_seg {
	const char	*text;	/* literal text, or NULL for a field */
	size_t		 len;
	struct field	*f;
	const char	*corr;	/* a correlation rule's %{correlation.X}: "X" (f is NULL) */
	struct ffield	*ff;	/* a Falco rule's %field (f is NULL) */
};

/* --- memory across events ------------------------------------------------ */

/* `suppress: {by: [...], for: 24h}` on a rule. */
struct suppress {
	const char	**name;		/* the by fields as written (the key's names) */
	struct field	**by;
	size_t		  nby;
	int64_t		  for_ms;
};

enum corr_kind { CK_EVENT_COUNT, CK_VALUE_COUNT, CK_TEMPORAL, CK_TEMPORAL_ORDERED, CK_FIRST_SEEN };

/* What a correlation needs from each rule that feeds it (a step, an `until`
 * or the `absent` rule): its group_by fields after aliases, and the field
 * whose values are counted (value_count) or the tuple (first_seen). */
struct corr_feed {
	struct rule	 *rule;
	struct rule	 *corr;		/* the correlation it feeds */
	int		  step;		/* 0..nstep-1, SIGNAL_UNTIL or SIGNAL_ABSENT */
	struct field	**key;		/* ngroup fields */
	struct field	**value;	/* nvalue fields */
};

struct corr {
	enum corr_kind	  kind;
	struct rule	**step;
	size_t		  nstep;
	const char	**group;	/* group_by names as written (the key's names) */
	size_t		  ngroup;
	const char	**value_name;	/* value_count's field, first_seen's fields */
	size_t		  nvalue;
	int64_t		  span_ms;	/* timespan */
	int64_t		  gte;		/* event_count, value_count */
	int64_t		  history_ms, learning_ms;	/* first_seen */
	struct corr_feed *feed;		/* steps, then until rules, then absent */
	size_t		  nfeed;
};

/* 1 for the X of %{correlation.X} in a correlation rule's output. */
int	corr_field_known(const char *name);
/* "event_count", "value_count", "temporal", "temporal_ordered", "first_seen". */
const char *corr_kind_name(enum corr_kind k);

#define KEY_VALUES_MAX	64	/* keys one event may complete for one rule */
/* The file format a rule was written in: kaudit's own, or one read as it is
 * from another tool (rule-language.md, "Falco and Sigma rules"). */
enum rule_format { RULE_KAUDIT, RULE_FALCO, RULE_SIGMA };

struct rule {
	const char	*id;
	const char	*title;
	const char	*description;
	enum severity	 severity;
	const char	*category;
	const char	**tags;
	size_t		 ntags;
	int		 enabled;	/* its own findings are made */
	int		 needed;	/* evaluated: enabled, or feeding an enabled correlation */
	int		 alert;		/* 0: findings are stored, never delivered (a signal) */
	int		 attribute;	/* a workload rule: findings on objects a controller
					   made go to the owner chain's person */
	unsigned	 stages;
	struct suppress	*suppress;	/* NULL: a finding per (audit_id, rule) */
	struct corr	*corr;		/* a correlation rule: no condition of its own */
	struct corr_feed **feeds;	/* the correlations this rule feeds */
	size_t		 nfeeds;
	struct node	*cond;		/* condition and not exceptions */
	struct tmpl_seg	*out;		/* output template */
	size_t		 nout;
	struct litset	*ik[IK_COUNT];	/* index constraints; NULL = any value */
	json_t		*head;		/* rule, title, severity, category, tags of
					   its findings, built for the first (finding.c);
					   owned */
	size_t		 index;		/* position in the rule set */
	const char	*file;
	int		 line;
	enum rule_format format;
};

struct bucket {
	const char	*key;
	size_t		 len;
	uint32_t	*rule;	/* rule indices, ascending */
	size_t		 nrule;
};

struct rindex {
	struct bucket	*b;	/* open addressing; key NULL = empty */
	size_t		 cap;
};

/* The bucket of rules keyed by s[0..n), or NULL. */
const struct bucket *rindex_find(const struct rindex *x, const char *s, size_t n);

struct ruleset {
	struct arena	 ar;
	struct rule	**rule;
	size_t		 nrule;
	pcre2_code	**regex;
	size_t		 nregex;
	/* rules keyed by subresource, resource or verb, and the rest */
	struct rindex	 idx[IK_COUNT];
	uint32_t	*catchall;
	size_t		 ncatchall;
	size_t		 nmemo;		/* N_MEMO slots */
	/* attribution: the `controller_identity` macro, when the rules define
	 * it (who makes objects for others: the control plane, nodes) */
	struct node	*controller;
	/* archive.when, compiled like a rule's condition; NULL: none */
	struct node	*archive;
	/* `file:line: warning: message` lines: what loads but deserves a
	 * look (a rule that can never fire as written) */
	struct buf	 warnings;
	size_t		 nwarnings;
};

/* index.c: reads each rule's constraints off its condition and builds the
 * index (once, after compiling); frees what that allocated. */
void	ruleset_index(struct ruleset *rs);
void	ruleset_index_free(struct ruleset *rs);

/* --- evaluation ------------------------------------------------------------ */

struct ua_part {
	const char	*s;
	size_t		 n;
};

struct eval_scratch {
	const struct ruleset *rs;
	pcre2_match_data *md;
	struct buf	 tmp;		/* unescaping one string at a time */
	struct buf	 key[IK_COUNT];	/* verb, resource, subresource */
	uint32_t	*cand;		/* candidate rules of one event */
	size_t		 ncand, capcand;
	struct cand_list *cache;	/* eval.c: candidates by (verb, resource, subresource) */
	struct cimemo	*cim;		/* cond.c: icontains results by (set, value) */
	unsigned long	 evaluated;	/* conditions evaluated (tests, stats) */
	uint64_t	*seen;		/* eval_scratch_dedup(): hashes of (audit_id, rule) */
	struct buf	 msg, evname;	/* finding_build() */
	uint32_t	 gen;		/* event counter for memo */
	uint32_t	*memo;		/* per N_MEMO slot: gen << 1 | result */
	size_t		 seenmask;
	unsigned long	 events;
	unsigned long	 signals, untimed;	/* signal.c */
	struct buf	 sigkey, sigval, sigtmp;	/* signal.c */

	/* computed fields of the current event, filled on first use */
	uint32_t	 have;		/* bit per computed group */
	struct buf	 exec_cmd, exec_container, exec_argv0;
	struct buf	 query_name, query_value;	/* one query pair */
	int		 exec_has_cmd, exec_has_container;
	struct buf	 label_selector, field_selector;
	int		 has_label_selector, has_field_selector;
	struct buf	 ua;
	struct ua_part	 ua_client, ua_version, ua_os, ua_arch;
	double		 ua_major, ua_minor, ua_patch;
	int		 ua_has_major, ua_has_minor, ua_has_patch;
	int		 source_ip;
	struct buf	 user;
	int		 user_flags;
	struct ua_part	 sa_ns, sa_name;
	int		 object, podspec;
	int		 containers[3], ncontainers;
	struct buf	 csr_pem, csr_subject;
	int		 csr_has_subject;
	struct buf	 proxy_path, proxy_tmp;
	int		 proxy_has_path;
	struct buf	 actor;
	int		 has_actor;
	struct strvec	 identities, subjects;
	struct strvec	 fvals;		/* falcofield.c: one Falco field's values */
	struct buf	 ftmp, ftmp2;
};

/* Test hooks: how many conditions the last ruleset_eval() calls evaluated. */
unsigned long eval_scratch_evaluated(const struct eval_scratch *s);

/* Builds the finding object for r firing on the current event. */
json_t	*finding_build(const struct rule *r, struct evctx *c);
/* Renders the rule's output template. */
void	finding_message(const struct rule *r, struct evctx *c, struct buf *out);
/* A correlation's output template rendered for this event, as parts:
 * strings, and {"c": NAME} where %{correlation.NAME} stands. New reference. */
json_t	*finding_message_parts(const struct rule *r, struct evctx *c);
/* A new copy of finding with the head (rule, title, severity, category,
 * tags) of r instead. */
json_t	*finding_retitle(json_t *finding, const struct rule *r);

/* signal.c: whether the event of c has a time (stageTimestamp, else
 * requestReceivedTimestamp) the engine can order it by. */
int	signal_timed(struct evctx *c);
/* signal.c: the signals of rule r, which fired on the event of c with
 * finding (borrowed), handed to out->signal. Returns how many. */
size_t	signals_emit(const struct rule *r, struct evctx *c, json_t *finding,
	    const struct eval_out *out);
/* signal.c: attribution. The controller ownerReference of ka.object when a
 * controller identity made it: a new {"kind","name","uid"}, else NULL. */
json_t	*owner_made_by_controller(struct evctx *c);
/* Hands over finding (borrowed) for the owner chain to attribute. */
size_t	signal_attribute(const struct rule *r, struct evctx *c, json_t *finding, json_t *owner,
	    const struct eval_out *out);
/* After every rule of the event: a write of a controller kind (Deployment,
 * ReplicaSet, ...) is recorded with who made it and which of the fired[]
 * workload rules fired on it. */
size_t	signal_observe(struct evctx *c, const struct rule *const *fired, size_t nfired,
	    const struct eval_out *out);
/* A field's values as strings for keys: one per element of an array (up
 * to max), or the one value. Appends to vals the offsets into b. */
size_t	field_strings(const struct field *f, struct evctx *c, struct buf *b,
	    size_t *off, size_t *len, size_t max);

#endif
