/* format_chat.c — the Slack, Teams and PagerDuty bodies (see format.h).
 *
 * Slack: every value sits in a mrkdwn text object with "verbatim": true
 * (Slack then turns no URL, channel name or @mention into a link) inside a
 * `code span` (no bold, italic, strike or link inside one), with &, < and >
 * as entities (so no <!channel>, <@U…> or <url|text> can form) and its
 * backticks replaced by U+02CB (so it cannot close the span).
 * Teams: every value sits in a TextRun of a RichTextBlock, where Adaptive
 * Cards render no Markdown; TextBlocks, which do, hold only kaudit's own
 * words. PagerDuty: plain text everywhere.
 * In all three, "://" is shown as "[:]//" (no client makes a link of it),
 * "{{" as "{ {", line breaks as spaces and other controls and bidi
 * overrides as U+FFFD (FMT_DISPLAY). */
#include "alert/format_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/timefmt.h"

#define FMT_SL	(FMT_DISPLAY | FMT_SLACK)
/* Slack's limits (Block Kit reference). */
#define SLACK_FIELDS_MAX	10
#define SLACK_TEXT_MAX		3000

/* A field of a finding shown by label; key NULL: the object (resource,
 * subresource and name). */
struct chat_field {
	const char	*label;
	const char	*key;
};

static const struct chat_field chat_main[] = {
	{ "Rule", "rule" }, { "Category", "category" }, { "User", "user" },
	{ "Namespace", "namespace" }, { "Object", NULL }, { "Verb", "verb" },
	{ "Source IP", "source_ip" }, { "User agent", "user_agent" },
	{ "Cluster", "cluster" }, { "Time", "time" },
};
static const struct chat_field chat_extra[] = {
	{ "Impersonated user", "impersonated_user" }, { "Attributed user", "attributed_user" },
	{ "Status code", "code" }, { "Repeats", "repeats" }, { "Last repeat", "last_repeat" },
	{ "Tags", "tags" }, { "Groups", "groups" },
};

/* v as text to show: an array of strings joined by ", ", anything else
 * as fmt_value_text() has it. */
static int
chat_value_text(json_t *v, struct buf *t)
{
	json_t *e;
	size_t i;

	if (!json_is_array(v))
		return fmt_value_text(v, t);
	buf_reset(t);
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return fmt_value_text(v, t);
		if (i)
			buf_puts(t, ", ");
		buf_append(t, json_string_value(e), json_string_length(e));
	}
	return t->len ? 0 : -1;
}

/* The raw text of a field of f into t; -1 when it has none. */
static int
chat_field_text(json_t *f, const struct chat_field *fd, struct buf *t)
{
	struct buf v;
	json_t *r;

	if (fd->key != NULL) {
		r = json_object_get(f, fd->key);
		if (strcmp(fd->key, "repeats") == 0 && json_integer_value(r) == 0)
			return -1;
		return chat_value_text(r, t);
	}
	buf_reset(t);
	buf_init(&v);
	if (fmt_value_text(json_object_get(f, "resource"), &v) == 0)
		buf_append(t, v.data, v.len);
	if (fmt_value_text(json_object_get(f, "subresource"), &v) == 0) {
		buf_putc(t, '/');
		buf_append(t, v.data, v.len);
	}
	if (fmt_value_text(json_object_get(f, "name"), &v) == 0) {
		if (t->len)
			buf_putc(t, ' ');
		buf_append(t, v.data, v.len);
	}
	buf_free(&v);
	return t->len ? 0 : -1;
}

static void
chat_upper(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = (char)toupper((unsigned char)s[i]);
	out[i] = '\0';
}

/* The correlation in one line, raw: "event_count, count 5, key user=alice,
 * 2026-...Z to 2026-...Z". -1 when the finding has none. */
static int
chat_correlation(json_t *f, struct buf *t)
{
	json_t *c = json_object_get(f, "correlation"), *e;
	struct buf v;
	const char *k;

	buf_reset(t);
	if (!json_is_object(c))
		return -1;
	buf_init(&v);
	buf_printf(t, "%s, count %lld", fmt_sget(c, "kind") ? fmt_sget(c, "kind") : "?",
	    (long long)json_integer_value(json_object_get(c, "count")));
	if (json_object_get(c, "distinct"))
		buf_printf(t, ", %lld distinct",
		    (long long)json_integer_value(json_object_get(c, "distinct")));
	json_object_foreach(json_object_get(c, "key"), k, e) {
		buf_printf(t, ", %s=", k);
		if (fmt_value_text(e, &v) == 0)
			buf_append(t, v.data, v.len);
	}
	if (fmt_sget(c, "first") && fmt_sget(c, "last"))
		buf_printf(t, ", %s to %s", fmt_sget(c, "first"), fmt_sget(c, "last"));
	buf_free(&v);
	return 0;
}

/* --- Slack -------------------------------------------------------------- */

static json_t *
slack_mrkdwn(const struct buf *b)
{
	return json_pack("{s:s, s:s%, s:b}", "type", "mrkdwn", "text", buf_cstr(b), b->len,
	    "verbatim", 1);
}

static json_t *
slack_section(const struct buf *b)
{
	return json_pack("{s:s, s:o}", "type", "section", "text", slack_mrkdwn(b));
}

/* Appends raw text t as a code span, cut to max. */
static void
slack_code(struct buf *b, const struct buf *t, size_t max)
{
	buf_putc(b, '`');
	fmt_text(b, t->data, t->len, max, FMT_SL);
	buf_putc(b, '`');
}

/* Appends v as a code span, or a dash when it has no value. */
static void
slack_value(struct buf *b, json_t *v, size_t max)
{
	struct buf t;

	buf_init(&t);
	if (chat_value_text(v, &t) == -1)
		buf_puts(b, "\xe2\x80\x93");
	else
		slack_code(b, &t, max);
	buf_free(&t);
}

static json_t *
slack_header(const char *sev, json_t *title, const char *fallback)
{
	struct buf raw, b;
	char up[16];
	json_t *h;

	buf_init(&raw);
	buf_init(&b);
	chat_upper(sev, up, sizeof(up));
	buf_printf(&raw, "%s: ", up);
	if (fmt_value_text(title, &b) == 0)
		buf_append(&raw, b.data, b.len);
	else
		buf_puts(&raw, fallback);
	buf_reset(&b);
	fmt_text(&b, raw.data, raw.len, ALERT_TITLE_MAX, FMT_SL);
	h = json_pack("{s:s, s:{s:s, s:s%, s:b}}", "type", "header", "text", "type",
	    "plain_text", "text", buf_cstr(&b), b.len, "emoji", 0);
	buf_free(&raw);
	buf_free(&b);
	return h;
}

/* A section of fields from table (at most 10), or NULL when f has none. */
static json_t *
slack_fields(json_t *f, const struct chat_field *table, size_t n, const struct fmt_caps *c)
{
	json_t *fields = json_array();
	struct buf t, b;

	buf_init(&t);
	buf_init(&b);
	for (size_t i = 0; i < n && json_array_size(fields) < SLACK_FIELDS_MAX; i++) {
		if (chat_field_text(f, &table[i], &t) == -1)
			continue;
		buf_reset(&b);
		buf_printf(&b, "*%s*\n", table[i].label);
		slack_code(&b, &t, c->value);
		json_array_append_new(fields, slack_mrkdwn(&b));
	}
	buf_free(&t);
	buf_free(&b);
	if (json_array_size(fields) == 0) {
		json_decref(fields);
		return NULL;
	}
	return json_pack("{s:s, s:o}", "type", "section", "fields", fields);
}

/* "*Evidence*" and one line per value, within c->evidence characters. */
static json_t *
slack_evidence(json_t *ev, const struct fmt_caps *c)
{
	struct buf b, line, t;
	size_t shown = 0, total = json_object_size(ev);
	const char *k;
	json_t *v;

	if (total == 0)
		return NULL;
	buf_init(&b);
	buf_init(&line);
	buf_init(&t);
	buf_puts(&b, "*Evidence*");
	json_object_foreach(ev, k, v) {
		buf_reset(&line);
		buf_puts(&line, "\n\xe2\x80\xa2 ");
		buf_reset(&t);
		buf_puts(&t, k);
		slack_code(&line, &t, c->value);
		buf_puts(&line, ": ");
		slack_value(&line, v, c->value);
		if (fmt_chars(b.data, b.len) + fmt_chars(line.data, line.len) > c->evidence)
			break;
		buf_append(&b, line.data, line.len);
		shown++;
	}
	if (shown < total)
		buf_printf(&b, "\n_\xe2\x80\xa6 %zu more evidence value(s) not shown: the whole "
		    "finding is in kaudit.findings_", total - shown);
	json_t *s = slack_section(&b);
	buf_free(&b);
	buf_free(&line);
	buf_free(&t);
	return s;
}

static json_t *
slack_context(const char *what, json_t *id, int64_t delivery_id)
{
	struct buf b;
	json_t *ctx;

	buf_init(&b);
	buf_printf(&b, "kaudit \xc2\xb7 %s ", what);
	slack_value(&b, id, 64);
	buf_printf(&b, " \xc2\xb7 delivery %lld", (long long)delivery_id);
	ctx = json_pack("{s:s, s:[o]}", "type", "context", "elements", slack_mrkdwn(&b));
	buf_free(&b);
	return ctx;
}

static void
slack_add(json_t *blocks, json_t *b)
{
	if (b != NULL)
		json_array_append_new(blocks, b);
}

static void
slack_finding(json_t *blocks, json_t *f, int64_t delivery_id, const struct fmt_caps *c)
{
	struct buf b, t;

	buf_init(&b);
	buf_init(&t);
	slack_add(blocks, slack_header(severity_name(fmt_severity(f)),
	    json_object_get(f, "title"), "kaudit finding"));
	if (fmt_value_text(json_object_get(f, "message"), &t) == 0) {
		slack_code(&b, &t, c->message);
		slack_add(blocks, slack_section(&b));
	}
	slack_add(blocks, slack_fields(f, chat_main, sizeof(chat_main) / sizeof(chat_main[0]), c));
	slack_add(blocks, slack_fields(f, chat_extra, sizeof(chat_extra) / sizeof(chat_extra[0]), c));
	if (chat_correlation(f, &t) == 0) {
		buf_reset(&b);
		buf_puts(&b, "*Correlation*\n");
		slack_code(&b, &t, c->message);
		slack_add(blocks, slack_section(&b));
	}
	slack_add(blocks, slack_evidence(json_object_get(f, "evidence"), c));
	slack_add(blocks, slack_context("audit", json_object_get(f, "audit_id"), delivery_id));
	buf_free(&b);
	buf_free(&t);
}

/* One finding of a group: severity, title, message, who and where. */
static json_t *
slack_group_item(json_t *f, const struct fmt_caps *c)
{
	static const struct chat_field who = { "Object", NULL };
	char up[16];
	struct buf b, t;
	json_t *s;

	buf_init(&b);
	buf_init(&t);
	chat_upper(severity_name(fmt_severity(f)), up, sizeof(up));
	buf_printf(&b, "*%s* ", up);
	slack_value(&b, json_object_get(f, "title"), c->value);
	buf_putc(&b, '\n');
	slack_value(&b, json_object_get(f, "message"), c->message / 2);
	buf_puts(&b, "\n");
	slack_value(&b, json_object_get(f, "user"), c->value);
	buf_puts(&b, " \xc2\xb7 ");
	if (chat_field_text(f, &who, &t) == 0)
		slack_code(&b, &t, c->value);
	buf_puts(&b, " \xc2\xb7 ");
	slack_value(&b, json_object_get(f, "time"), 64);
	s = slack_section(&b);
	buf_free(&b);
	buf_free(&t);
	return s;
}

/* The group's key as fields (at most 10; the tenth says how many more). */
static json_t *
slack_group_key(json_t *g, const struct fmt_caps *c)
{
	json_t *fields = json_array(), *v;
	size_t n = json_object_size(g), i = 0;
	struct buf b, t;
	const char *k;

	buf_init(&b);
	buf_init(&t);
	json_object_foreach(g, k, v) {
		buf_reset(&b);
		if (i == SLACK_FIELDS_MAX - 1 && n > SLACK_FIELDS_MAX) {
			buf_printf(&b, "_\xe2\x80\xa6 %zu more_", n - i);
			json_array_append_new(fields, slack_mrkdwn(&b));
			break;
		}
		buf_reset(&t);
		buf_puts(&t, k);
		slack_code(&b, &t, c->value);
		buf_puts(&b, "\n");
		slack_value(&b, v, c->value);
		json_array_append_new(fields, slack_mrkdwn(&b));
		i++;
	}
	buf_free(&b);
	buf_free(&t);
	if (json_array_size(fields) == 0) {
		json_decref(fields);
		return NULL;
	}
	return json_pack("{s:s, s:o}", "type", "section", "fields", fields);
}

/* How many of a group's new findings are not in the notification. */
static long long
chat_group_unshown(json_t *g, size_t shown)
{
	long long n = json_integer_value(json_object_get(g, "new"));
	long long listed = (long long)json_array_size(json_object_get(g, "findings"));

	return (n > listed ? n : listed) - (long long)shown;
}

static void
slack_group(json_t *blocks, json_t *g, int64_t delivery_id, const struct fmt_caps *c)
{
	json_t *findings = json_object_get(g, "findings"), *f, *title;
	struct buf b;
	size_t i, shown = 0;
	char head[96];

	buf_init(&b);
	snprintf(head, sizeof(head), "%lld kaudit findings (%lld new)",
	    (long long)json_integer_value(json_object_get(g, "count")),
	    (long long)json_integer_value(json_object_get(g, "new")));
	title = json_string(head);
	slack_add(blocks, slack_header(severity_name(fmt_severity(g)), title, ""));
	json_decref(title);
	slack_add(blocks, slack_group_key(json_object_get(g, "group"), c));
	buf_printf(&b, "Notification %lld \xc2\xb7 first ",
	    (long long)json_integer_value(json_object_get(g, "notification")));
	slack_value(&b, json_object_get(g, "first"), 64);
	buf_puts(&b, " \xc2\xb7 last ");
	slack_value(&b, json_object_get(g, "last"), 64);
	slack_add(blocks, slack_section(&b));
	json_array_foreach(findings, i, f) {
		if (shown == c->items)
			break;
		slack_add(blocks, slack_group_item(f, c));
		shown++;
	}
	if (chat_group_unshown(g, shown) > 0) {
		buf_reset(&b);
		buf_printf(&b, "_\xe2\x80\xa6 %lld more new finding(s) not shown: they are in "
		    "kaudit.findings_", chat_group_unshown(g, shown));
		slack_add(blocks, slack_section(&b));
	}
	slack_add(blocks, slack_context("group", json_object_get(g, "group_id"), delivery_id));
	buf_free(&b);
}

json_t *
fmt_slack(json_t *p, int64_t delivery_id, const struct fmt_caps *c)
{
	json_t *blocks = json_array();
	struct buf text;
	json_t *msg;

	buf_init(&text);
	fmt_summary(p, SLACK_TEXT_MAX, FMT_SL, &text);
	if (fmt_is_group(p))
		slack_group(blocks, p, delivery_id, c);
	else
		slack_finding(blocks, p, delivery_id, c);
	/* The fallback text (notifications) with no mrkdwn and no parsing of
	 * names or links; no previews fetched for anything that looks like a
	 * URL. */
	msg = json_pack("{s:s%, s:b, s:s, s:b, s:b, s:b, s:o}", "text", buf_cstr(&text),
	    text.len, "mrkdwn", 0, "parse", "none", "link_names", 0, "unfurl_links", 0,
	    "unfurl_media", 0, "blocks", blocks);
	buf_free(&text);
	return msg;
}

/* --- Teams -------------------------------------------------------------- */

/* A TextBlock of kaudit's own words (never a payload value). */
static json_t *
teams_own(const char *text, const char *weight, const char *color)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:s}", "type", "TextBlock", "text", text,
	    "wrap", 1, "weight", weight, "color", color);
}

/* A TextRun of raw text t, neutralised and cut to max. */
static json_t *
teams_run(const struct buf *t, size_t max, int bold, int mono)
{
	json_t *r = json_pack("{s:s, s:o}", "type", "TextRun", "text",
	    fmt_jtext(t->data, t->len, max, FMT_DISPLAY));

	if (bold)
		json_object_set_new(r, "weight", json_string("Bolder"));
	if (mono)
		json_object_set_new(r, "fontType", json_string("Monospace"));
	return r;
}

static json_t *
teams_rich(json_t *inlines)
{
	return json_pack("{s:s, s:o}", "type", "RichTextBlock", "inlines", inlines);
}

/* "label: value" as one RichTextBlock; NULL when there is no value. */
static json_t *
teams_row(const char *label, const struct buf *t, size_t max)
{
	struct buf l;
	json_t *in;

	buf_init(&l);
	buf_printf(&l, "%s: ", label);
	in = json_array();
	json_array_append_new(in, teams_run(&l, ALERT_VALUE_MAX, 1, 0));
	json_array_append_new(in, teams_run(t, max, 0, 1));
	buf_free(&l);
	return teams_rich(in);
}

static void
teams_fields(json_t *body, json_t *f, const struct chat_field *table, size_t n,
    const struct fmt_caps *c)
{
	struct buf t;

	buf_init(&t);
	for (size_t i = 0; i < n; i++)
		if (chat_field_text(f, &table[i], &t) == 0)
			json_array_append_new(body, teams_row(table[i].label, &t, c->value));
	buf_free(&t);
}

static void
teams_evidence(json_t *body, json_t *ev, const struct fmt_caps *c)
{
	size_t total = json_object_size(ev), shown = 0, used = 0;
	struct buf t, k;
	const char *key;
	char note[128];
	json_t *v;

	if (total == 0)
		return;
	buf_init(&t);
	buf_init(&k);
	json_array_append_new(body, teams_own("Evidence", "Bolder", "Default"));
	json_object_foreach(ev, key, v) {
		buf_reset(&k);
		fmt_text(&k, key, strlen(key), c->value, 0);
		if (chat_value_text(v, &t) == -1)
			buf_puts(&t, "-");
		used += fmt_chars(k.data, k.len) + (t.len < c->value ? fmt_chars(t.data, t.len) : c->value);
		if (used > c->evidence)
			break;
		json_array_append_new(body, teams_row(buf_cstr(&k), &t, c->value));
		shown++;
	}
	if (shown < total) {
		snprintf(note, sizeof(note), "\xe2\x80\xa6 %zu more evidence value(s) not shown: "
		    "the whole finding is in kaudit.findings", total - shown);
		json_array_append_new(body, teams_own(note, "Default", "Default"));
	}
	buf_free(&t);
	buf_free(&k);
}

static const char *
teams_color(enum severity s)
{
	return s >= SEV_HIGH ? "Attention" : s == SEV_MEDIUM ? "Warning" : "Default";
}

/* The footer: "audit <id> · delivery N" or "group <id> · delivery N". */
static json_t *
teams_footer(const char *what, json_t *id, int64_t delivery_id)
{
	struct buf t, v;
	json_t *in, *r;

	buf_init(&t);
	buf_init(&v);
	buf_printf(&t, "%s ", what);
	if (fmt_value_text(id, &v) == 0)
		buf_append(&t, v.data, v.len);
	buf_free(&v);
	buf_printf(&t, " \xc2\xb7 delivery %lld", (long long)delivery_id);
	r = teams_run(&t, 160, 0, 0);
	json_object_set_new(r, "isSubtle", json_true());
	json_object_set_new(r, "size", json_string("Small"));
	in = json_array();
	json_array_append_new(in, r);
	buf_free(&t);
	return teams_rich(in);
}

static void
teams_finding(json_t *body, json_t *f, int64_t delivery_id, const struct fmt_caps *c)
{
	enum severity s = fmt_severity(f);
	char head[64], up[16];
	struct buf t;
	json_t *in, *r;

	buf_init(&t);
	chat_upper(severity_name(s), up, sizeof(up));
	snprintf(head, sizeof(head), "%s \xc2\xb7 kaudit finding", up);
	json_array_append_new(body, teams_own(head, "Bolder", teams_color(s)));
	if (fmt_value_text(json_object_get(f, "title"), &t) == -1)
		buf_puts(&t, "kaudit finding");
	r = teams_run(&t, c->title, 1, 0);
	json_object_set_new(r, "size", json_string("Large"));
	in = json_array();
	json_array_append_new(in, r);
	json_array_append_new(body, teams_rich(in));
	if (fmt_value_text(json_object_get(f, "message"), &t) == 0) {
		in = json_array();
		json_array_append_new(in, teams_run(&t, c->message, 0, 0));
		json_array_append_new(body, teams_rich(in));
	}
	teams_fields(body, f, chat_main, sizeof(chat_main) / sizeof(chat_main[0]), c);
	teams_fields(body, f, chat_extra, sizeof(chat_extra) / sizeof(chat_extra[0]), c);
	if (chat_correlation(f, &t) == 0)
		json_array_append_new(body, teams_row("Correlation", &t, c->message));
	teams_evidence(body, json_object_get(f, "evidence"), c);
	json_array_append_new(body, teams_footer("audit", json_object_get(f, "audit_id"),
	    delivery_id));
	buf_free(&t);
}

static json_t *
teams_group_item(json_t *f, const struct fmt_caps *c)
{
	static const struct chat_field who = { "Object", NULL };
	json_t *in = json_array();
	char up[20];
	struct buf t;

	buf_init(&t);
	chat_upper(severity_name(fmt_severity(f)), up, sizeof(up));
	buf_printf(&t, "%s ", up);
	json_array_append_new(in, teams_run(&t, 16, 1, 0));
	if (fmt_value_text(json_object_get(f, "title"), &t) == 0)
		json_array_append_new(in, teams_run(&t, c->value, 1, 0));
	if (fmt_value_text(json_object_get(f, "message"), &t) == 0) {
		buf_puts(&t, " ");
		json_array_append_new(in, teams_run(&t, c->message / 2, 0, 0));
	}
	if (fmt_value_text(json_object_get(f, "user"), &t) == 0)
		json_array_append_new(in, teams_run(&t, c->value, 0, 1));
	if (chat_field_text(f, &who, &t) == 0)
		json_array_append_new(in, teams_run(&t, c->value, 0, 1));
	buf_free(&t);
	return teams_rich(in);
}

static void
teams_group(json_t *body, json_t *g, int64_t delivery_id, const struct fmt_caps *c)
{
	enum severity s = fmt_severity(g);
	json_t *f, *v;
	const char *k;
	char head[128], up[16];
	struct buf t;
	size_t i, shown = 0;

	buf_init(&t);
	chat_upper(severity_name(s), up, sizeof(up));
	snprintf(head, sizeof(head), "%s \xc2\xb7 %lld kaudit findings (%lld new), "
	    "notification %lld", up,
	    (long long)json_integer_value(json_object_get(g, "count")),
	    (long long)json_integer_value(json_object_get(g, "new")),
	    (long long)json_integer_value(json_object_get(g, "notification")));
	json_array_append_new(body, teams_own(head, "Bolder", teams_color(s)));
	json_object_foreach(json_object_get(g, "group"), k, v)
		if (fmt_value_text(v, &t) == 0)
			json_array_append_new(body, teams_row(k, &t, c->value));
	if (fmt_value_text(json_object_get(g, "first"), &t) == 0)
		json_array_append_new(body, teams_row("First", &t, 64));
	if (fmt_value_text(json_object_get(g, "last"), &t) == 0)
		json_array_append_new(body, teams_row("Last", &t, 64));
	json_array_foreach(json_object_get(g, "findings"), i, f) {
		if (shown == c->items)
			break;
		json_array_append_new(body, teams_group_item(f, c));
		shown++;
	}
	if (chat_group_unshown(g, shown) > 0) {
		snprintf(head, sizeof(head), "\xe2\x80\xa6 %lld more new finding(s) not shown: "
		    "they are in kaudit.findings", chat_group_unshown(g, shown));
		json_array_append_new(body, teams_own(head, "Default", "Default"));
	}
	json_array_append_new(body, teams_footer("group", json_object_get(g, "group_id"),
	    delivery_id));
	buf_free(&t);
}

json_t *
fmt_teams(json_t *p, int64_t delivery_id, const struct fmt_caps *c)
{
	json_t *body = json_array();

	if (fmt_is_group(p))
		teams_group(body, p, delivery_id, c);
	else
		teams_finding(body, p, delivery_id, c);
	return json_pack("{s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:{s:s}, s:o}}]}",
	    "type", "message", "attachments",
	    "contentType", "application/vnd.microsoft.card.adaptive", "contentUrl",
	    "content", "type", "AdaptiveCard",
	    "$schema", "http://adaptivecards.io/schemas/adaptive-card.json",
	    "version", "1.4", "msteams", "width", "Full", "body", body);
}

/* --- PagerDuty ---------------------------------------------------------- */

static const char *
pd_severity(enum severity s)
{
	switch (s) {
	case SEV_CRITICAL: return "critical";
	case SEV_HIGH: return "error";
	case SEV_MEDIUM: return "warning";
	default: return "info";
	}
}

/* Sets o[k] to the neutralised text of v (cut to max) when v has one. */
static void
pd_set(json_t *o, const char *k, json_t *v, size_t max)
{
	struct buf t;

	buf_init(&t);
	if (fmt_value_text(v, &t) == 0)
		json_object_set_new(o, k, fmt_jtext(t.data, t.len, max, FMT_DISPLAY));
	buf_free(&t);
}

/* The event time as ISO 8601, when the payload has a valid one. */
static void
pd_timestamp(json_t *o, json_t *p)
{
	const char *t = fmt_sget(p, fmt_is_group(p) ? "last" : "time");
	char out[TIME_TEXT_MAX];
	int64_t ms;

	if (t != NULL && time_parse_ms(t, strlen(t), &ms) == 0) {
		time_format_ms(ms, out);
		json_object_set_new(o, "timestamp", json_string(out));
	}
}

/* Where the finding (or the group's first finding) comes from. */
static json_t *
pd_first(json_t *p)
{
	return fmt_is_group(p) ? json_array_get(json_object_get(p, "findings"), 0) : p;
}

json_t *
fmt_pagerduty(const struct webhook_conf *wc, json_t *p, const struct fmt_caps *c)
{
	static const struct chat_field object = { "Object", NULL };
	char fp[ALERT_FINGERPRINT_MAX];
	json_t *pl = json_object(), *f = pd_first(p);
	struct buf t;

	buf_init(&t);
	fmt_summary(p, 1024, FMT_DISPLAY, &t);
	json_object_set_new(pl, "summary", json_stringn_nocheck(buf_cstr(&t), t.len));
	json_object_set_new(pl, "severity", json_string(pd_severity(fmt_severity(p))));
	json_object_set_new(pl, "source", json_string("kaudit"));
	pd_set(pl, "source", json_object_get(f, "cluster"), 255);
	pd_timestamp(pl, p);
	if (chat_field_text(f, &object, &t) == 0 && !fmt_is_group(p))
		json_object_set_new(pl, "component", fmt_jtext(t.data, t.len, 255, FMT_DISPLAY));
	pd_set(pl, "group", json_object_get(f, "namespace"), 255);
	pd_set(pl, "class", json_object_get(f, "category"), 255);
	json_object_set_new(pl, "custom_details", fmt_cap(p, c->detail, FMT_DISPLAY, 0));
	alert_fingerprint(p, fp);
	buf_free(&t);
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "routing_key",
	    wc->routing_key ? wc->routing_key : "", "event_action", "trigger",
	    "dedup_key", fp, "client", "kaudit", "payload", pl);
}
