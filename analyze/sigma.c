/* sigma.c — Sigma rule files read as they are: rule documents (logsource
 * and detection) and correlation documents (`correlation:` a mapping)
 * become rules and correlations of the rule set, with the Sigma id as the
 * rule id, the title as title and message (with the author, as the
 * Detection Rule License asks of messages), the level as severity, and the
 * tags turned into the pack's form (attack.t1609 -> T1609,
 * attack.privilege-escalation -> mitre_privilege_escalation), from which
 * the category is taken. The detection itself is compiled in sigmadet.c.
 *
 * Only rules whose logsource is Kubernetes audit (product: kubernetes,
 * service: audit) apply to audit events; any other is skipped with a
 * warning, so a folder of mixed Sigma rules loads. Sigma allows custom
 * attributes, so keys this file does not read are ignored. */
#include "analyze/compile.h"
#include "base/timefmt.h"
#include "base/yamldoc.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The category of a technique (by its id's prefix) or of a tactic tag. */
static const struct {
	const char	*tag;
	const char	*category;
} tag_category[] = {
	{ "T1609", "exec" }, { "T1610", "workload" }, { "T1611", "workload" },
	{ "T1612", "workload" }, { "T1525", "workload" }, { "T1496", "workload" },
	{ "T1498", "workload" }, { "T1499", "workload" }, { "T1485", "workload" },
	{ "T1489", "workload" }, { "T1552", "secrets" }, { "T1528", "secrets" },
	{ "T1555", "secrets" }, { "T1098", "rbac" }, { "T1069", "rbac" }, { "T1087", "rbac" },
	{ "T1078", "authn" }, { "T1110", "authn" }, { "T1550", "authn" },
	{ "T1070", "evasion" }, { "T1562", "evasion" }, { "T1036", "evasion" },
	{ "T1564", "evasion" }, { "T1136", "persistence" }, { "T1053", "persistence" },
	{ "T1543", "persistence" }, { "T1546", "persistence" }, { "T1133", "persistence" },
	{ "T1046", "network" }, { "T1557", "network" }, { "T1090", "network" },
	{ "T1613", "inventory" },
	{ "mitre_execution", "exec" }, { "mitre_persistence", "persistence" },
	{ "mitre_privilege_escalation", "rbac" }, { "mitre_defense_evasion", "evasion" },
	{ "mitre_stealth", "evasion" }, { "mitre_credential_access", "secrets" },
	{ "mitre_collection", "secrets" }, { "mitre_initial_access", "authn" },
	{ "mitre_lateral_movement", "network" }, { "mitre_command_and_control", "network" },
	{ "mitre_exfiltration", "network" }, { "mitre_impact", "workload" },
	{ "mitre_discovery", "inventory" }, { "mitre_reconnaissance", "inventory" },
};

#define SIGMA_STAGES_ALL (STAGE_REQUEST_RECEIVED | STAGE_RESPONSE_STARTED | \
	STAGE_RESPONSE_COMPLETE | STAGE_PANIC)

/* An ATT&CK tag in the pack's form: techniques, groups and software by
 * their id, tactics as mitre_NAME; any other tag as written. */
static const char *
tag_convert(struct compiler *c, const char *t)
{
	char out[128];
	size_t i, n = 0;

	if (strncasecmp(t, "attack.", 7) != 0 || strlen(t) >= sizeof(out) - 8)
		return t;
	t += 7;
	if (strchr("tgsTGS", t[0]) && isdigit((unsigned char)t[1])) {
		for (i = 0; t[i]; i++)
			out[n++] = (char)toupper((unsigned char)t[i]);
	} else {
		n = (size_t)snprintf(out, sizeof(out), "mitre_");
		for (i = 0; t[i]; i++)
			out[n++] = t[i] == '-' ? '_' : (char)tolower((unsigned char)t[i]);
	}
	out[n] = '\0';
	return adup(c, out);
}

static const char *
tags_category(const struct rule *r)
{
	for (int pass = 0; pass < 2; pass++) {	/* techniques first, then tactics */
		for (size_t i = 0; i < r->ntags; i++) {
			const char *t = r->tags[i];
			if ((t[0] == 'T') != (pass == 0))
				continue;
			for (size_t k = 0; k < sizeof(tag_category) / sizeof(tag_category[0]); k++) {
				size_t n = strlen(tag_category[k].tag);
				if (strncmp(t, tag_category[k].tag, n) == 0 && (t[n] == '\0' || t[n] == '.'))
					return tag_category[k].category;
			}
		}
	}
	return "inventory";
}

static void
sigma_level(struct compiler *c, yaml_document_t *d, yaml_node_t *m, struct rule *r)
{
	const char *lv = get_str(c, d, m, "level", 0, "sigma");

	r->severity = SEV_MEDIUM;
	if (lv == NULL) {
		if (yamldoc_get(d, m, "level") == NULL)
			cwarn(c, c->file, yamldoc_line(m), "sigma rule %s: no level: medium assumed",
			    r->id);
	} else if (strcmp(lv, "informational") == 0) {
		r->severity = SEV_INFO;
	} else if (strcmp(lv, "info") == 0 || severity_parse(lv, &r->severity) < 0) {
		cerr(c, c->file, yamldoc_line(yamldoc_get(d, m, "level")), "sigma: unknown level "
		    "\"%s\" (informational, low, medium, high or critical)", lv);
	}
}

void
sigma_message(struct compiler *c, struct prule *pr)
{
	struct rule *r = pr->r;
	struct buf msg;

	buf_init(&msg);
	buf_puts(&msg, r->title ? r->title : r->id);
	if (pr->author && *pr->author)
		buf_printf(&msg, " (Sigma rule by %s)", pr->author);
	r->out = arena_alloc(c->ar, sizeof(*r->out));
	r->out[0].text = arena_strndup(c->ar, buf_cstr(&msg), msg.len);
	r->out[0].len = msg.len;
	r->nout = 1;
	buf_free(&msg);
}

/* What rules and correlations share: id, name, title, level, tags. NULL
 * after an error. */
static struct prule *
sigma_head(struct compiler *c, yaml_document_t *d, yaml_node_t *m, const char *kind)
{
	const char *id = get_str(c, d, m, "id", 1, kind);
	struct prule *pr, *old;
	struct rule *r;
	char *low;

	if (id == NULL)
		return NULL;
	low = (char *)adup(c, id);	/* a UUID: its hex digits in either case */
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!id_valid(low)) {
		cerr(c, c->file, yamldoc_line(yamldoc_get(d, m, "id")), "%s: id \"%s\": expected "
		    "a UUID (letters, digits, '.', '-' and '_')", kind, id);
		return NULL;
	}
	if ((old = prule_find(c, low)) != NULL) {
		cerr(c, c->file, yamldoc_line(m), "duplicate rule id \"%s\" (first defined at %s:%d)",
		    low, old->r->file, old->r->line);
		return NULL;
	}
	pr = arena_alloc(c->ar, sizeof(*pr));
	r = pr->r = arena_alloc(c->ar, sizeof(*r));
	r->id = low;
	r->file = c->file;
	r->line = yamldoc_line(m);
	r->format = RULE_SIGMA;
	r->enabled = 1;
	r->alert = 1;
	r->title = get_str(c, d, m, "title", 1, kind);
	r->description = get_str(c, d, m, "description", 0, kind);
	pr->name = get_str(c, d, m, "name", 0, kind);
	if (yamldoc_scalar(yamldoc_get(d, m, "author")))
		pr->author = adup(c, yamldoc_scalar(yamldoc_get(d, m, "author")));
	sigma_level(c, d, m, r);
	rule_tags(c, d, yamldoc_get(d, m, "tags"), r);
	for (size_t i = 0; i < r->ntags; i++)
		r->tags[i] = tag_convert(c, r->tags[i]);
	r->category = tags_category(r);
	return r->title ? pr : NULL;
}

static void
prule_add(struct compiler *c, struct prule *pr)
{
	c->rule = xgrow(c->rule, c->nrule, sizeof(*c->rule));
	c->rule[c->nrule++] = pr;
}

/* 1 when the logsource is Kubernetes audit; 0 after a warning (skipped);
 * -1 after an error. */
static int
logsource_audit(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	yaml_node_t *ls = yamldoc_get(d, m, "logsource");
	const char *product, *service;

	if (ls == NULL || ls->type != YAML_MAPPING_NODE) {
		cerr(c, c->file, yamldoc_line(ls ? ls : m), "sigma: %s", ls ? "logsource must be "
		    "a mapping" : "missing logsource");
		return -1;
	}
	product = yamldoc_scalar(yamldoc_get(d, ls, "product"));
	service = yamldoc_scalar(yamldoc_get(d, ls, "service"));
	if (product && service && strcasecmp(product, "kubernetes") == 0 &&
	    strcasecmp(service, "audit") == 0)
		return 1;
	cwarn(c, c->file, yamldoc_line(ls), "sigma rule %s: logsource product %s, service %s "
	    "is not Kubernetes audit (product: kubernetes, service: audit): skipped",
	    yamldoc_scalar(yamldoc_get(d, m, "id")) ? yamldoc_scalar(yamldoc_get(d, m, "id")) : "?",
	    product ? product : "(none)", service ? service : "(none)");
	return 0;
}

static void
sigma_rule(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	struct prule *pr;
	yaml_node_t *det = yamldoc_get(d, m, "detection");
	int on = logsource_audit(c, d, m);

	if (on <= 0)
		return;
	if (det == NULL) {
		cerr(c, c->file, yamldoc_line(m), "sigma: missing detection");
		return;
	}
	if ((pr = sigma_head(c, d, m, "sigma rule")) == NULL)
		return;
	if ((pr->r->cond = sigmadet_compile(c, d, det, pr->r->id)) == NULL)
		return;
	/* a SIEM sees every stage the audit policy writes; one finding per
	 * request all the same (findings are per audit ID and rule) */
	pr->r->stages = SIGMA_STAGES_ALL;
	sigma_message(c, pr);
	prule_add(c, pr);
}

/* --- correlations ------------------------------------------------------------------- */

static int
corr_type(struct compiler *c, yaml_node_t *n, enum corr_kind *k)
{
	static const char *const types[] = { "event_count", "value_count", "temporal",
	    "temporal_ordered" };
	static const enum corr_kind kinds[] = { CK_EVENT_COUNT, CK_VALUE_COUNT, CK_TEMPORAL,
	    CK_TEMPORAL_ORDERED };
	const char *t = yamldoc_scalar(n);

	for (size_t i = 0; t && i < 4; i++)
		if (strcmp(t, types[i]) == 0) {
			*k = kinds[i];
			return 0;
		}
	cerr(c, c->file, yamldoc_line(n), "sigma correlation: type must be event_count, "
	    "value_count, temporal or temporal_ordered%s%s%s", t ? " (got \"" : "",
	    t ? t : "", t ? "\")" : "");
	return -1;
}

/* A scalar or a list of scalars. */
static int
corr_lits(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct lit **out, size_t *nout,
    const char *what)
{
	if (n && yamldoc_scalar(n)) {
		*out = arena_alloc(c->ar, sizeof(**out));
		lit_from_node(c, n, *out);
		*nout = 1;
		return 0;
	}
	return get_lits(c, d, n, out, nout, what);
}

/* condition: {gte: N} or {gt: N} (and field: for value_count). The
 * engine reports a group when its count reaches a threshold, so lt, lte,
 * eq and neq (decided when a window closes) are refused. */
static void
corr_threshold(struct compiler *c, yaml_document_t *d, yaml_node_t *n, struct rule *r,
    struct pcorr *pc)
{
	static const char *const keys[] = { "gte", "gt", "lt", "lte", "eq", "neq", "field", NULL };
	const char *gte, *gt, *field, *s;
	long long v;
	char *end;

	if (n == NULL || n->type != YAML_MAPPING_NODE) {
		cerr(c, c->file, n ? yamldoc_line(n) : pc->line, "sigma correlation: %s needs "
		    "condition: {gte: N}", corr_kind_name(r->corr->kind));
		return;
	}
	if (check_keys(c, d, n, "sigma correlation condition", keys) < 0)
		return;
	for (const char *const *k = keys + 2; k < keys + 6; k++)
		if (yamldoc_get(d, n, *k))
			cerr(c, c->file, yamldoc_line(n), "sigma correlation condition: %s is not "
			    "supported: a group is reported when its count reaches a threshold "
			    "(gt, gte)", *k);
	gte = get_str(c, d, n, "gte", 0, "sigma correlation condition");
	gt = get_str(c, d, n, "gt", 0, "sigma correlation condition");
	field = get_str(c, d, n, "field", 0, "sigma correlation condition");
	if ((gte == NULL) == (gt == NULL)) {
		cerr(c, c->file, yamldoc_line(n), "sigma correlation condition: give one of gte "
		    "or gt");
		return;
	}
	s = gte ? gte : gt;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || end == s || v < 0 || v >= 1000000) {
		cerr(c, c->file, yamldoc_line(n), "sigma correlation condition: expected a whole "
		    "number from 0 to 999999, got \"%s\"", s);
		return;
	}
	r->corr->gte = gt ? v + 1 : (v < 1 ? 1 : v);
	if ((r->corr->kind == CK_VALUE_COUNT) != (field != NULL)) {
		cerr(c, c->file, yamldoc_line(n), "sigma correlation condition: field is %s",
		    field ? "for value_count only" : "required by value_count");
		return;
	}
	if (field) {
		pc->values = arena_alloc(c->ar, sizeof(*pc->values));
		pc->values[0] = (struct lit){ .s = field, .n = strlen(field) };
		pc->nvalues = 1;
	}
}

static void
corr_body(struct compiler *c, yaml_document_t *d, yaml_node_t *cm, struct prule *pr)
{
	struct pcorr *pc = pr->corr;
	struct corr *k = pr->r->corr;
	yaml_node_t *ts = yamldoc_get(d, cm, "timespan"), *cond = yamldoc_get(d, cm, "condition");
	int gen = get_bool(c, d, cm, "generate", 0);

	pc->hide_steps = !gen;
	if (corr_lits(c, d, yamldoc_get(d, cm, "rules"), &pc->steps, &pc->nsteps,
	    "sigma correlation: rules") == 0 && (pc->nsteps == 0 || pc->nsteps > 16))
		cerr(c, c->file, yamldoc_line(cm), "sigma correlation: rules needs 1 to 16 rules");
	if (yamldoc_get(d, cm, "group-by"))
		(void)corr_lits(c, d, yamldoc_get(d, cm, "group-by"), &pc->group, &pc->ngroup,
		    "sigma correlation: group-by");
	corr_aliases(c, d, yamldoc_get(d, cm, "aliases"), pc);
	if (yamldoc_scalar(ts) == NULL || duration_parse(yamldoc_scalar(ts), &k->span_ms) < 0 ||
	    k->span_ms <= 0)
		cerr(c, c->file, yamldoc_line(ts ? ts : cm), "sigma correlation: timespan: "
		    "expected a duration such as 90s, 10m, 24h or 7d");
	if (k->kind == CK_EVENT_COUNT || k->kind == CK_VALUE_COUNT)
		corr_threshold(c, d, cond, pr->r, pc);
	else if (cond)
		cerr(c, c->file, yamldoc_line(cond), "sigma correlation: condition is for "
		    "event_count and value_count");
	else if (pc->nsteps < 2)
		cerr(c, c->file, yamldoc_line(cm), "sigma correlation: %s needs at least two rules",
		    corr_kind_name(k->kind));
}

static void
sigma_corr(struct compiler *c, yaml_document_t *d, yaml_node_t *m, yaml_node_t *cm)
{
	static const char *const keys[] = { "type", "rules", "group-by", "timespan",
	    "condition", "aliases", "generate", NULL };
	struct prule *pr;
	enum corr_kind kind;

	if (check_keys(c, d, cm, "sigma correlation", keys) < 0 ||
	    corr_type(c, yamldoc_get(d, cm, "type"), &kind) < 0)
		return;
	if ((pr = sigma_head(c, d, m, "sigma correlation")) == NULL)
		return;
	pr->r->corr = arena_alloc(c->ar, sizeof(*pr->r->corr));
	pr->r->corr->kind = kind;
	pr->corr = xcalloc(1, sizeof(*pr->corr));
	pr->corr->line = pr->r->line;
	prule_add(c, pr);	/* from here compiler_free owns pr->corr */
	corr_body(c, d, cm, pr);
}

struct prule *
sigma_ref(struct compiler *c, const char *ref)
{
	struct prule *p = prule_find(c, ref);

	for (size_t i = 0; p == NULL && i < c->nrule; i++)
		if (c->rule[i]->name && strcmp(c->rule[i]->name, ref) == 0)
			p = c->rule[i];
	return p;
}

int
sigma_named(struct compiler *c, const struct rule *r, const char *ref)
{
	struct prule *p = sigma_ref(c, ref);

	return p && p->r == r;
}

int
sigma_doc(struct compiler *c, yaml_document_t *d, yaml_node_t *m)
{
	yaml_node_t *cm = yamldoc_get(d, m, "correlation");
	const char *action = yamldoc_scalar(yamldoc_get(d, m, "action"));

	if (yamldoc_get(d, m, "rule"))
		return 0;	/* kaudit's own or Falco's */
	if (action) {
		cerr(c, c->file, yamldoc_line(m), "sigma: action: %s: rule collections (action: "
		    "global, reset, repeat) are not supported; write each rule whole in its own "
		    "document", action);
		return 1;
	}
	if (cm && cm->type == YAML_MAPPING_NODE) {
		sigma_corr(c, d, m, cm);
		return 1;
	}
	if (yamldoc_get(d, m, "detection") || yamldoc_get(d, m, "logsource")) {
		sigma_rule(c, d, m);
		return 1;
	}
	return 0;
}
