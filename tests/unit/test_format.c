/* test_format.c — webhook bodies: every format over a finding and a group
 * notification, checked against each format's documented shape and limits
 * (checkers below), hostile values through every format, templates, the
 * PagerDuty fingerprint, and the configuration keys of formats. */
#include "t.h"

#include <jansson.h>

#include "alert/format.h"
#include "app/config.h"
#include "base/timefmt.h"
#include "base/utf8.h"
#include "base/xmalloc.h"

/* Values an attacker can put in an audit event. */
static const char *const hostile[] = {
	"<!channel>", "<!here>", "<@U123>", "<#C123>", "<https://evil.example|click here>",
	"[click](https://evil.example)", "*bold*", "_x_", "~strike~", "`tick`",
	"https://evil.example/x", "%{severity}", "\"quote\\back", "ctl\x01\x1f\x7f",
	"bidi \xe2\x80\xae" "reversed", "{{DATE(2017-02-14T06:08:00Z, SHORT)}}",
	"- item\n1. item\n# head", "&amp; &lt;", "repl \xef\xbf\xbd",
};
#define NHOSTILE (sizeof(hostile) / sizeof(hostile[0]))
/* Words of the hostile values that only a value can bring into a body. */
static const char *const marker[] = {
	"evil", "channel", "here>", "U123", "C123", "click", "bold", "_x_", "strike", "tick",
	"DATE(", "reversed",
};
#define NMARKER (sizeof(marker) / sizeof(marker[0]))

/* --- payloads ----------------------------------------------------------- */

static json_t *
real_finding(void)
{
	return json_loads("{\"rule\":\"k8s.exec.pod\",\"title\":\"Command executed in a pod\","
	    "\"severity\":\"medium\",\"category\":\"exec\",\"tags\":[\"T1609\",\"T1059\"],"
	    "\"audit_id\":\"ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6\",\"stage\":\"ResponseStarted\","
	    "\"time\":\"2018-10-26T13:38:34.902914Z\",\"cluster\":\"default\",\"user\":"
	    "\"minikube-user\",\"groups\":[\"system:masters\",\"system:authenticated\"],"
	    "\"impersonated_user\":null,\"source_ip\":\"192.168.99.1\",\"user_agent\":null,"
	    "\"verb\":\"create\",\"resource\":\"pods\",\"subresource\":\"exec\",\"namespace\":"
	    "\"default\",\"name\":\"nginx-7998647bdf-phvq7\",\"code\":101,\"message\":"
	    "\"minikube-user ran \\\"bash\\\" in default/nginx-7998647bdf-phvq7\","
	    "\"evidence\":{\"objectRef.subresource\":\"exec\",\"verb\":\"create\","
	    "\"user.username\":\"minikube-user\",\"user.groups\":[\"system:masters\"]},"
	    "\"repeats\":0}", 0, NULL);
}

/* One hostile value after another, joined, as a JSON string that may hold
 * invalid UTF-8 (jansson would refuse it; the renderers must not care). */
static json_t *
all_hostile(const char *extra)
{
	struct buf b;
	json_t *j;

	buf_init(&b);
	for (size_t i = 0; i < NHOSTILE; i++) {
		buf_puts(&b, hostile[i]);
		buf_putc(&b, ' ');
	}
	buf_puts(&b, extra);
	j = json_stringn_nocheck(b.data, b.len);
	buf_free(&b);
	return j;
}

static char *
megabyte(void)
{
	size_t n = 1 << 20;
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		s[i] = "<*_~`&>"[i % 7];
	s[n] = '\0';
	return s;
}

/* A finding whose every string holds every hostile value; its user is a
 * megabyte long. */
static json_t *
hostile_finding(const char *severity)
{
	static const char *const keys[] = {
		"title", "category", "audit_id", "stage", "time", "cluster", "impersonated_user",
		"source_ip", "user_agent", "verb", "resource", "subresource", "namespace",
		"name", "message", "last_repeat", "attributed_user",
	};
	json_t *f = json_object(), *ev = json_object(), *c;
	char *mb = megabyte();

	json_object_set_new(f, "rule", json_string("k8s.hostile"));
	json_object_set_new(f, "severity", json_string(severity));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_set_new(f, keys[i], all_hostile(keys[i]));
	json_object_set_new(f, "user", json_string(mb));
	json_object_set_new(f, "tags", json_pack("[s,o]", "T1609", all_hostile("tag")));
	json_object_set_new(f, "groups", json_pack("[o]", all_hostile("group")));
	json_object_set_new(f, "code", json_integer(403));
	json_object_set_new(f, "repeats", json_integer(2));
	for (int i = 0; i < 40; i++) {
		char k[32];
		snprintf(k, sizeof(k), "requestObject.spec.f%d", i);
		json_object_set_new(ev, k, all_hostile(k));
	}
	json_object_set_new(ev, "user.username", json_string(mb));
	json_object_set_new(f, "evidence", ev);
	c = json_pack("{s:s, s:{s:o}, s:i, s:s, s:s, s:[s]}", "kind", "event_count", "key",
	    "user", all_hostile("key"), "count", 9, "first", "2026-01-01T00:00:00Z", "last",
	    "2026-01-01T00:05:00Z", "audit_ids", "a1");
	json_object_set_new(f, "correlation", c);
	free(mb);
	return f;
}

/* A group notification of n hostile findings. */
static json_t *
hostile_group(int n)
{
	json_t *fs = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(fs, hostile_finding(i == 3 ? "critical" : "low"));
	return json_pack("{s:{s:o, s:s}, s:i, s:s, s:i, s:i, s:i, s:s, s:s, s:o}",
	    "group", "namespace", all_hostile("ns"), "rule", "k8s.hostile", "group_id", 7,
	    "webhook", "pd", "count", 40, "new", n + 5, "notification", 2,
	    "first", "2026-01-01T00:00:00Z", "last", "2026-01-01T00:09:00Z", "findings", fs);
}

static json_t *
real_group(void)
{
	json_t *f = real_finding();
	json_t *g = json_pack("{s:{s:s}, s:i, s:s, s:i, s:i, s:i, s:s, s:s, s:[O]}",
	    "group", "namespace", "default", "group_id", 12, "webhook", "w", "count", 1,
	    "new", 1, "notification", 1, "first", "2018-10-26T13:38:34.902914Z",
	    "last", "2018-10-26T13:38:34.902914Z", "findings", f);

	json_decref(f);
	return g;
}

static struct webhook_conf
conf(enum alert_format f, const char *tmpl)
{
	struct webhook_conf wc;

	memset(&wc, 0, sizeof(wc));
	wc.name = (char *)"w";
	wc.url = (char *)"http://127.0.0.1/";
	wc.format = f;
	wc.template = (char *)tmpl;
	wc.routing_key = (char *)"R0UTINGKEY";
	return wc;
}

/* Renders p as format f and parses the body; NULL after a failed check. */
static json_t *
render(enum alert_format f, const char *tmpl, json_t *p, size_t *len)
{
	struct webhook_conf wc = conf(f, tmpl);
	struct buf body;
	char err[512];
	json_t *j = NULL;
	int rc;

	buf_init(&body);
	rc = alert_render(&wc, 77, p, &body, err, sizeof(err));
	if (rc != 0)
		printf("  render %s: %s\n", alert_format_name(f), err);
	T_INTEQ(rc, 0);
	if (rc == 0) {
		T_ASSERT(utf8_valid(body.data, body.len));
		j = json_loadb(body.data, body.len, 0, NULL);
		T_ASSERT(j != NULL);
	}
	if (len)
		*len = body.len;
	buf_free(&body);
	return j;
}

/* --- what every shown text must be -------------------------------------- */

static size_t
chars(const char *s)
{
	size_t c = 0;

	for (; *s; s++)
		c += ((unsigned char)*s & 0xc0) != 0x80;
	return c;
}

/* No link, card function, control character or reordering can come out
 * of a displayed text. */
static int
display_safe(const char *s, const char *where)
{
	const char *bad = NULL;

	if (strstr(s, "://"))
		bad = "://";
	else if (strstr(s, "{{"))
		bad = "{{";
	else if (strstr(s, "\xe2\x80\xae"))
		bad = "U+202E";
	for (const char *q = s; bad == NULL && *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\n')
			bad = "a control character";
	if (bad != NULL)
		printf("  %s holds %s: %.80s\n", where, bad, s);
	return bad == NULL;
}

/* The parts of a mrkdwn text outside code spans hold no hostile word; the
 * backticks pair up; no < or > at all (only entities). */
static int
slack_safe(const char *s, const char *where)
{
	struct buf out;
	size_t ticks = 0;
	int ok = display_safe(s, where);

	buf_init(&out);
	for (const char *q = s; *q; q++) {
		if (*q == '`')
			ticks++;
		else if (ticks % 2 == 0)
			buf_putc(&out, *q);
	}
	if (ticks % 2 != 0 || strpbrk(s, "<>") != NULL) {
		printf("  %s: unpaired backticks or a raw < >: %.80s\n", where, s);
		ok = 0;
	}
	for (size_t i = 0; i < NMARKER; i++)
		if (strstr(buf_cstr(&out), marker[i]) != NULL) {
			printf("  %s: \"%s\" outside a code span: %.120s\n", where, marker[i],
			    buf_cstr(&out));
			ok = 0;
		}
	buf_free(&out);
	return ok;
}

/* --- Slack: Block Kit's limits ------------------------------------------ */

static int
check_slack_text(json_t *t, size_t max, const char *where)
{
	const char *type = json_string_value(json_object_get(t, "type"));
	const char *s = json_string_value(json_object_get(t, "text"));
	int ok = 1;

	if (type == NULL || s == NULL || *s == '\0' || chars(s) > max) {
		printf("  %s: a text object needs a type and 1..%zu characters\n", where, max);
		return 0;
	}
	if (strcmp(type, "mrkdwn") == 0) {
		ok &= json_is_true(json_object_get(t, "verbatim"));
		ok &= slack_safe(s, where);
	} else {
		ok &= strcmp(type, "plain_text") == 0 && display_safe(s, where) &&
		    strpbrk(s, "<>") == NULL;
	}
	return ok;
}

static int
check_slack_block(json_t *b)
{
	const char *type = json_string_value(json_object_get(b, "type"));
	json_t *e, *fields = json_object_get(b, "fields");
	size_t i;
	int ok = 1;

	if (type == NULL)
		return 0;
	if (strcmp(type, "header") == 0)
		return check_slack_text(json_object_get(b, "text"), 150, "header") &&
		    strcmp(json_string_value(json_object_get(json_object_get(b, "text"),
		    "type")), "plain_text") == 0;
	if (strcmp(type, "context") == 0) {
		ok &= json_array_size(json_object_get(b, "elements")) >= 1 &&
		    json_array_size(json_object_get(b, "elements")) <= 10;
		json_array_foreach(json_object_get(b, "elements"), i, e)
			ok &= check_slack_text(e, 3000, "context");
		return ok;
	}
	if (strcmp(type, "section") != 0)
		return 0;
	if (json_object_get(b, "text") == NULL && fields == NULL)
		return 0;
	if (json_object_get(b, "text"))
		ok &= check_slack_text(json_object_get(b, "text"), 3000, "section text");
	if (fields != NULL) {
		ok &= json_array_size(fields) >= 1 && json_array_size(fields) <= 10;
		json_array_foreach(fields, i, e)
			ok &= check_slack_text(e, 2000, "section field");
	}
	return ok;
}

static int
check_slack(json_t *m)
{
	json_t *blocks = json_object_get(m, "blocks"), *b;
	const char *text = json_string_value(json_object_get(m, "text"));
	size_t i;
	int ok = 1;

	if (text == NULL || *text == '\0' || chars(text) > 40000 || !json_is_array(blocks) ||
	    json_array_size(blocks) < 1 || json_array_size(blocks) > 50)
		return 0;
	/* the fallback has no mrkdwn and no parsing; its text no control sequence */
	ok &= json_is_false(json_object_get(m, "mrkdwn")) &&
	    strcmp(json_string_value(json_object_get(m, "parse")), "none") == 0 &&
	    json_is_false(json_object_get(m, "unfurl_links"));
	ok &= display_safe(text, "text") && strpbrk(text, "<>") == NULL;
	json_array_foreach(blocks, i, b)
		if (!check_slack_block(b)) {
			printf("  block %zu fails\n", i);
			ok = 0;
		}
	return ok;
}

/* --- Teams: a Workflows message with an Adaptive Card -------------------- */

static int
check_teams_element(json_t *e)
{
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *text;
	json_t *r;
	size_t i;
	int ok = 1;

	if (type && strcmp(type, "TextBlock") == 0) {
		/* Markdown is rendered here: kaudit's own words only */
		text = json_string_value(json_object_get(e, "text"));
		if (text == NULL)
			return 0;
		for (size_t k = 0; k < NMARKER; k++)
			if (strstr(text, marker[k])) {
				printf("  a TextBlock holds \"%s\": %.80s\n", marker[k], text);
				ok = 0;
			}
		return ok && display_safe(text, "TextBlock");
	}
	if (type == NULL || strcmp(type, "RichTextBlock") != 0 ||
	    json_array_size(json_object_get(e, "inlines")) == 0)
		return 0;
	json_array_foreach(json_object_get(e, "inlines"), i, r) {
		text = json_string_value(json_object_get(r, "text"));
		ok &= strcmp(json_string_value(json_object_get(r, "type")), "TextRun") == 0 &&
		    text != NULL && chars(text) <= ALERT_MESSAGE_MAX + 1 &&
		    display_safe(text, "TextRun");
	}
	return ok;
}

static int
check_teams(json_t *m, size_t len)
{
	json_t *att = json_object_get(m, "attachments"), *a, *c, *e;
	size_t i;
	int ok = 1;

	if (strcmp(json_string_value(json_object_get(m, "type")), "message") != 0 ||
	    json_array_size(att) != 1 || len > 28000)
		return 0;
	a = json_array_get(att, 0);
	c = json_object_get(a, "content");
	if (strcmp(json_string_value(json_object_get(a, "contentType")),
	    "application/vnd.microsoft.card.adaptive") != 0 ||
	    strcmp(json_string_value(json_object_get(c, "type")), "AdaptiveCard") != 0 ||
	    strcmp(json_string_value(json_object_get(c, "version")), "1.4") != 0 ||
	    strcmp(json_string_value(json_object_get(c, "$schema")),
	    "http://adaptivecards.io/schemas/adaptive-card.json") != 0 ||
	    json_array_size(json_object_get(c, "body")) == 0)
		return 0;
	json_array_foreach(json_object_get(c, "body"), i, e)
		if (!check_teams_element(e)) {
			printf("  card element %zu fails\n", i);
			ok = 0;
		}
	return ok;
}

/* --- PagerDuty: Events API v2 ------------------------------------------- */

static int
check_pd_string(json_t *pl, const char *k, size_t max, int required)
{
	json_t *v = json_object_get(pl, k);
	const char *s = json_string_value(v);

	if (v == NULL)
		return !required;
	if (s == NULL || *s == '\0' || chars(s) > max) {
		printf("  payload.%s: not a string of 1..%zu characters\n", k, max);
		return 0;
	}
	return display_safe(s, k);
}

static int
check_pd(json_t *m, size_t len)
{
	static const char *const sev[] = { "critical", "error", "warning", "info" };
	json_t *pl = json_object_get(m, "payload");
	const char *s, *ts, *dk = json_string_value(json_object_get(m, "dedup_key"));
	int64_t ms;
	int ok = 1, sev_ok = 0;

	if (len > 512 * 1024 || strcmp(json_string_value(json_object_get(m, "routing_key")),
	    "R0UTINGKEY") != 0 ||
	    strcmp(json_string_value(json_object_get(m, "event_action")), "trigger") != 0 ||
	    dk == NULL || *dk == '\0' || strlen(dk) > 255 || !json_is_object(pl))
		return 0;
	ok &= check_pd_string(pl, "summary", 1024, 1) && check_pd_string(pl, "source", 255, 1);
	ok &= check_pd_string(pl, "component", 255, 0) && check_pd_string(pl, "group", 255, 0) &&
	    check_pd_string(pl, "class", 255, 0);
	s = json_string_value(json_object_get(pl, "severity"));
	for (size_t i = 0; s && i < 4; i++)
		sev_ok |= strcmp(s, sev[i]) == 0;
	ts = json_string_value(json_object_get(pl, "timestamp"));
	if (ts != NULL)
		ok &= time_parse_ms(ts, strlen(ts), &ms) == 0;
	return ok && sev_ok && json_is_object(json_object_get(pl, "custom_details"));
}

/* Every string of v displays safely. */
static int
all_display_safe(json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;
	int ok = 1;

	if (json_is_string(v))
		return display_safe(json_string_value(v), "custom_details");
	if (json_is_array(v))
		json_array_foreach(v, i, e)
			ok &= all_display_safe(e);
	if (json_is_object(v))
		json_object_foreach(v, k, e)
			ok &= all_display_safe(e) && display_safe(k, "custom_details key");
	return ok;
}


/* The checkers themselves fail on bodies that break a limit or let a value
 * through (so the tests above can fail). */
static void
test_checkers_catch(void)
{
	static const char *const slack_bad[] = {
		/* a mention, a link, bold, a bare URL outside code spans */
		"{\"text\":\"t\",\"mrkdwn\":false,\"parse\":\"none\",\"unfurl_links\":false,\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"verbatim\":true,\"text\":\"<!channel>\"}}]}",
		"{\"text\":\"t\",\"mrkdwn\":false,\"parse\":\"none\",\"unfurl_links\":false,\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"verbatim\":true,\"text\":\"*bold*\"}}]}",
		"{\"text\":\"t\",\"mrkdwn\":false,\"parse\":\"none\",\"unfurl_links\":false,\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"verbatim\":true,\"text\":\"`https://evil.example/x`\"}}]}",
		/* no verbatim */
		"{\"text\":\"t\",\"mrkdwn\":false,\"parse\":\"none\",\"unfurl_links\":false,\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"ok\"}}]}",
		/* the fallback parsed as mrkdwn */
		"{\"text\":\"t\",\"parse\":\"none\",\"unfurl_links\":false,\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"verbatim\":true,\"text\":\"ok\"}}]}",
	};
	static const char *const teams_bad[] = {
		"{\"type\":\"message\",\"attachments\":[{\"contentType\":\"application/vnd.microsoft.card.adaptive\",\"content\":{\"type\":\"AdaptiveCard\",\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"version\":\"1.4\",\"body\":[{\"type\":\"TextBlock\",\"text\":\"[click](x)\"}]}}]}",
		"{\"type\":\"message\",\"attachments\":[{\"contentType\":\"application/vnd.microsoft.card.adaptive\",\"content\":{\"type\":\"AdaptiveCard\",\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"version\":\"1.4\",\"body\":[{\"type\":\"RichTextBlock\",\"inlines\":[{\"type\":\"TextRun\",\"text\":\"https://x\"}]}]}}]}",
		"{\"type\":\"message\",\"attachments\":[{\"contentType\":\"application/json\",\"content\":{\"type\":\"AdaptiveCard\",\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"version\":\"1.4\",\"body\":[{\"type\":\"TextBlock\",\"text\":\"ok\"}]}}]}",
	};
	static const char *const pd_bad[] = {
		"{\"routing_key\":\"R0UTINGKEY\",\"event_action\":\"trigger\",\"dedup_key\":\"k\",\"payload\":{\"summary\":\"s\",\"source\":\"s\",\"severity\":\"high\",\"custom_details\":{}}}",
		"{\"routing_key\":\"R0UTINGKEY\",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\",\"source\":\"s\",\"severity\":\"info\",\"custom_details\":{}}}",
		"{\"routing_key\":\"R0UTINGKEY\",\"event_action\":\"trigger\",\"dedup_key\":\"k\",\"payload\":{\"summary\":\"https://x\",\"source\":\"s\",\"severity\":\"info\",\"custom_details\":{}}}",
	};
	json_t *m, *blocks, *sec;
	struct buf big;

	for (size_t i = 0; i < sizeof(slack_bad) / sizeof(slack_bad[0]); i++) {
		m = json_loads(slack_bad[i], 0, NULL);
		T_ASSERT(m != NULL && !check_slack(m));
		json_decref(m);
	}
	for (size_t i = 0; i < sizeof(teams_bad) / sizeof(teams_bad[0]); i++) {
		m = json_loads(teams_bad[i], 0, NULL);
		T_ASSERT(m != NULL && !check_teams(m, 100));
		json_decref(m);
	}
	for (size_t i = 0; i < sizeof(pd_bad) / sizeof(pd_bad[0]); i++) {
		m = json_loads(pd_bad[i], 0, NULL);
		T_ASSERT(m != NULL && !check_pd(m, 100));
		json_decref(m);
	}
	/* Slack's limits: 51 blocks, a 3,001-character section */
	m = json_loads(slack_bad[3], 0, NULL);
	blocks = json_object_get(m, "blocks");
	sec = json_array_get(blocks, 0);
	json_object_set_new(json_object_get(sec, "text"), "verbatim", json_true());
	T_ASSERT(check_slack(m));
	for (int i = 0; i < 50; i++)
		json_array_append(blocks, sec);
	T_ASSERT(!check_slack(m));
	json_decref(m);
	m = json_loads(slack_bad[3], 0, NULL);
	sec = json_object_get(json_array_get(json_object_get(m, "blocks"), 0), "text");
	json_object_set_new(sec, "verbatim", json_true());
	buf_init(&big);
	for (int i = 0; i < 3001; i++)
		buf_putc(&big, 'a');
	json_object_set_new(sec, "text", json_string(big.data));
	T_ASSERT(!check_slack(m));
	buf_free(&big);
	json_decref(m);
}

/* --- tests -------------------------------------------------------------- */

static void
test_generic_is_the_payload(void)
{
	json_t *f = real_finding(), *g = real_group(), *out;

	out = render(ALERT_FORMAT_GENERIC, NULL, f, NULL);
	T_ASSERT(json_equal(out, f));
	json_decref(out);
	out = render(ALERT_FORMAT_GENERIC, "", g, NULL);
	T_ASSERT(json_equal(out, g));
	json_decref(out);
	json_decref(f);
	json_decref(g);
}

static void
test_generic_caps_values(void)
{
	json_t *f = hostile_finding("high"), *out;
	size_t len = 0;
	const char *u;

	out = render(ALERT_FORMAT_GENERIC, NULL, f, &len);
	u = json_string_value(json_object_get(out, "user"));
	T_ASSERT(u != NULL && chars(u) == ALERT_GENERIC_STR_MAX);
	T_ASSERT(len < 200 * 1024);
	/* values are data here: kept as they were, bar the cap and UTF-8 */
	T_STREQ(json_string_value(json_object_get(json_object_get(out, "correlation"), "kind")),
	    "event_count");
	T_ASSERT(strstr(json_string_value(json_object_get(out, "title")), "<!channel>") != NULL);
	json_decref(out);
	json_decref(f);
}

static void
test_slack_shapes(void)
{
	json_t *p[4] = { real_finding(), hostile_finding("critical"), real_group(),
	    hostile_group(25) };

	for (int i = 0; i < 4; i++) {
		json_t *m = render(ALERT_FORMAT_SLACK, NULL, p[i], NULL);
		if (!check_slack(m))
			printf("  payload %d: slack body fails its checks\n", i);
		T_ASSERT(check_slack(m));
		json_decref(m);
		json_decref(p[i]);
	}
}

static void
test_slack_readable(void)
{
	json_t *f = real_finding(), *m = render(ALERT_FORMAT_SLACK, NULL, f, NULL);
	char *d = json_dumps(m, 0);

	/* the real finding's values are all there, in code spans */
	T_ASSERT(strstr(d, "`minikube-user`") != NULL);
	T_ASSERT(strstr(d, "`pods/exec nginx-7998647bdf-phvq7`") != NULL);
	T_ASSERT(strstr(d, "MEDIUM: Command executed in a pod") != NULL);
	T_ASSERT(strstr(d, "`objectRef.subresource`: `exec`") != NULL);
	free(d);
	json_decref(m);
	json_decref(f);
}

static void
test_slack_hostile_escaped(void)
{
	json_t *f = hostile_finding("high"), *m = render(ALERT_FORMAT_SLACK, NULL, f, NULL);
	char *d = json_dumps(m, 0);

	T_ASSERT(strstr(d, "&lt;!channel&gt;") != NULL);
	T_ASSERT(strstr(d, "&lt;https[:]//evil.example|click here&gt;") != NULL);
	T_ASSERT(strstr(d, "&amp;amp;") != NULL);
	T_ASSERT(strstr(d, "\xcb\x8btick\xcb\x8b") != NULL);	/* backticks replaced */
	T_ASSERT(strstr(d, "more evidence value(s) not shown") != NULL);
	T_ASSERT(strstr(d, "%{severity}") != NULL);		/* stays text */
	free(d);
	json_decref(m);
	json_decref(f);
}

static void
test_teams_shapes(void)
{
	json_t *p[4] = { real_finding(), hostile_finding("high"), real_group(),
	    hostile_group(25) };

	for (int i = 0; i < 4; i++) {
		size_t len = 0;
		json_t *m = render(ALERT_FORMAT_TEAMS, NULL, p[i], &len);
		if (!check_teams(m, len))
			printf("  payload %d: teams body (%zu bytes) fails its checks\n", i, len);
		T_ASSERT(check_teams(m, len));
		json_decref(m);
		json_decref(p[i]);
	}
}

static void
test_teams_values_in_runs(void)
{
	json_t *f = hostile_finding("high"), *m = render(ALERT_FORMAT_TEAMS, NULL, f, NULL);
	char *d = json_dumps(m, 0);

	/* Markdown arrives as text in TextRuns, links broken */
	T_ASSERT(strstr(d, "[click](https[:]//evil.example)") != NULL);
	T_ASSERT(strstr(d, "{ {DATE(") != NULL);
	T_ASSERT(strstr(d, "*bold*") != NULL);
	free(d);
	json_decref(m);
	json_decref(f);
}

static void
test_pagerduty_shapes(void)
{
	json_t *p[4] = { real_finding(), hostile_finding("critical"), real_group(),
	    hostile_group(25) };

	for (int i = 0; i < 4; i++) {
		size_t len = 0;
		json_t *m = render(ALERT_FORMAT_PAGERDUTY, NULL, p[i], &len);
		if (!check_pd(m, len))
			printf("  payload %d: pagerduty body (%zu bytes) fails its checks\n", i, len);
		T_ASSERT(check_pd(m, len));
		T_ASSERT(all_display_safe(json_object_get(json_object_get(m, "payload"),
		    "custom_details")));
		json_decref(m);
		json_decref(p[i]);
	}
}

static void
test_pagerduty_fields(void)
{
	static const char *const map[][2] = {
		{ "critical", "critical" }, { "high", "error" }, { "medium", "warning" },
		{ "low", "info" }, { "info", "info" }, { "bogus", "info" },
	};
	json_t *f = real_finding(), *g = real_group(), *m, *pl;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		json_object_set_new(f, "severity", json_string(map[i][0]));
		m = render(ALERT_FORMAT_PAGERDUTY, NULL, f, NULL);
		T_STREQ(json_string_value(json_object_get(json_object_get(m, "payload"),
		    "severity")), map[i][1]);
		json_decref(m);
	}
	m = render(ALERT_FORMAT_PAGERDUTY, NULL, f, NULL);
	pl = json_object_get(m, "payload");
	T_STREQ(json_string_value(json_object_get(pl, "source")), "default");
	T_STREQ(json_string_value(json_object_get(pl, "timestamp")), "2018-10-26T13:38:34.902Z");
	T_STREQ(json_string_value(json_object_get(pl, "class")), "exec");
	T_STREQ(json_string_value(json_object_get(json_object_get(pl, "custom_details"),
	    "audit_id")), "ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6");
	json_decref(m);
	/* no cluster: kaudit is the source */
	json_object_del(f, "cluster");
	m = render(ALERT_FORMAT_PAGERDUTY, NULL, f, NULL);
	T_STREQ(json_string_value(json_object_get(json_object_get(m, "payload"), "source")),
	    "kaudit");
	json_decref(m);
	m = render(ALERT_FORMAT_PAGERDUTY, NULL, g, NULL);
	T_STREQ(json_string_value(json_object_get(m, "dedup_key")), "kaudit-group-12");
	json_decref(m);
	json_decref(f);
	json_decref(g);
}

static void
test_fingerprint_stable(void)
{
	json_t *f = real_finding(), *c;
	char a[ALERT_FINGERPRINT_MAX], b[ALERT_FINGERPRINT_MAX];

	alert_fingerprint(f, a);
	T_ASSERT(strncmp(a, "kaudit-k8s.exec.pod-", 20) == 0 && strlen(a) == 20 + 40);
	/* what an update changes does not change it */
	json_object_set_new(f, "repeats", json_integer(9));
	json_object_set_new(f, "message", json_string("changed"));
	json_object_set_new(f, "severity", json_string("critical"));
	json_object_set_new(f, "attributed_user", json_string("bob"));
	alert_fingerprint(f, b);
	T_STREQ(a, b);
	/* another event, or another key of a correlation, does */
	json_object_set_new(f, "audit_id", json_string("other"));
	alert_fingerprint(f, b);
	T_ASSERT(strcmp(a, b) != 0);
	c = json_pack("{s:s, s:{s:s}, s:i}", "kind", "event_count", "key", "user", "a", "count", 3);
	json_object_set_new(f, "correlation", c);
	alert_fingerprint(f, a);
	json_object_set_new(c, "count", json_integer(4));
	alert_fingerprint(f, b);
	T_STREQ(a, b);
	json_object_set_new(json_object_get(c, "key"), "user", json_string("b"));
	alert_fingerprint(f, b);
	T_ASSERT(strcmp(a, b) != 0);
	json_decref(f);
}

#define TMPL "{\"text\": \"%{kaudit.summary}\", \"who\": \"user %{user}!\", \"sev\": " \
	"%{severity}, \"n\": %{repeats}, \"ev\": %{evidence}, " \
	"\"un\": \"%{evidence.user.username}\", \"none\": %{attributed_user}, " \
	"\"nonestr\": \"%{attributed_user}\", \"id\": %{kaudit.delivery_id}, " \
	"\"tag0\": \"%{tags.0}\", \"esc\": \"a\\\"%{rule}\\\\\"}"

static void
test_template_fill(void)
{
	json_t *f = real_finding(), *out;

	out = render(ALERT_FORMAT_GENERIC, TMPL, f, NULL);
	T_STREQ(json_string_value(json_object_get(out, "who")), "user minikube-user!");
	T_STREQ(json_string_value(json_object_get(out, "sev")), "medium");
	T_INTEQ(json_integer_value(json_object_get(out, "n")), 0);
	T_ASSERT(json_equal(json_object_get(out, "ev"), json_object_get(f, "evidence")));
	T_STREQ(json_string_value(json_object_get(out, "un")), "minikube-user");
	T_ASSERT(json_is_null(json_object_get(out, "none")));
	T_STREQ(json_string_value(json_object_get(out, "nonestr")), "");
	T_INTEQ(json_integer_value(json_object_get(out, "id")), 77);
	T_STREQ(json_string_value(json_object_get(out, "tag0")), "T1609");
	T_STREQ(json_string_value(json_object_get(out, "esc")), "a\"k8s.exec.pod\\");
	T_ASSERT(strstr(json_string_value(json_object_get(out, "text")), "[medium] Command") != NULL);
	json_decref(out);
	json_decref(f);
}

static void
test_template_hostile(void)
{
	json_t *f = hostile_finding("high"), *out;
	const char *who, *title;

	json_object_set_new(f, "user", json_string("\"},\"sev\":\"owned %{severity}\\"));
	out = render(ALERT_FORMAT_GENERIC, "{\"who\": \"%{user}\", \"sev\": \"%{severity}\", "
	    "\"title\": %{title}}", f, NULL);
	who = json_string_value(json_object_get(out, "who"));
	/* the value stays inside its string, its directive stays text */
	T_STREQ(who, "\"},\"sev\":\"owned %{severity}\\");
	T_STREQ(json_string_value(json_object_get(out, "sev")), "high");
	T_INTEQ(json_object_size(out), 3);
	title = json_string_value(json_object_get(out, "title"));
	T_ASSERT(title != NULL && strstr(title, "<!channel>") != NULL &&
	    chars(title) <= ALERT_TEMPLATE_VALUE_MAX);
	json_decref(out);
	/* a megabyte user name is capped */
	json_decref(f);
	f = hostile_finding("high");
	out = render(ALERT_FORMAT_GENERIC, "[\"%{user}\", %{user}]", f, NULL);
	T_INTEQ(chars(json_string_value(json_array_get(out, 0))), ALERT_TEMPLATE_VALUE_MAX);
	T_INTEQ(chars(json_string_value(json_array_get(out, 1))), ALERT_TEMPLATE_VALUE_MAX);
	json_decref(out);
	json_decref(f);
}

static void
test_template_group(void)
{
	json_t *g = real_group(), *out;

	out = render(ALERT_FORMAT_GENERIC, "{\"ns\": \"%{group.namespace}\", \"n\": %{count}, "
	    "\"r\": \"%{findings.0.rule}\", \"k\": \"%{kaudit.kind}\", \"fp\": "
	    "\"%{kaudit.fingerprint}\"}", g, NULL);
	T_STREQ(json_string_value(json_object_get(out, "ns")), "default");
	T_INTEQ(json_integer_value(json_object_get(out, "n")), 1);
	T_STREQ(json_string_value(json_object_get(out, "r")), "k8s.exec.pod");
	T_STREQ(json_string_value(json_object_get(out, "k")), "group");
	T_STREQ(json_string_value(json_object_get(out, "fp")), "kaudit-group-12");
	json_decref(out);
	json_decref(g);
}

static void
test_template_check(void)
{
	static const char *const bad[] = {
		"{\"a\": \"%{bogus}\"}",		/* unknown field */
		"{\"a\": \"%{user\"}",			/* unterminated */
		"{\"a\": \"%{}\"}",			/* empty name */
		"{\"a\": %{user}x}",			/* not JSON once filled */
		"{\"a\": \"%{user}\"",			/* not JSON at all */
		"{\"a\": %{user}%{user}}",
		"%{user} %{title}",
	};
	char err[512];

	T_INTEQ(alert_template_check(TMPL, err, sizeof(err)), 0);
	T_INTEQ(alert_template_check("{\"%{rule}\": %{correlation.count}, \"g\": "
	    "%{group}, \"f\": \"%{findings.1.user}\"}", err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		T_INTEQ(alert_template_check(bad[i], err, sizeof(err)), -1);
		T_ASSERT(err[0] != '\0');
	}
	alert_template_check("{\n  \"a\": \"%{nope}\"\n}", err, sizeof(err));
	T_ASSERT(strstr(err, "template line 2, column 9") != NULL);
}

static void
test_render_refuses(void)
{
	struct webhook_conf wc = conf(ALERT_FORMAT_SLACK, NULL);
	json_t *arr = json_array(), *f = real_finding();
	struct buf body;
	char err[256];

	buf_init(&body);
	T_INTEQ(alert_render(&wc, 1, arr, &body, err, sizeof(err)), -1);
	/* a key that is not a string once filled: the alerter marks it dead */
	json_object_set_new(f, "rule", json_integer(5));
	wc = conf(ALERT_FORMAT_GENERIC, "{%{rule}: 1}");
	T_INTEQ(alert_render(&wc, 1, f, &body, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "not valid JSON") != NULL);
	buf_free(&body);
	json_decref(arr);
	json_decref(f);
}

/* --- configuration ------------------------------------------------------ */

static int
load(const char *hooks, struct config *c, struct buf *errs)
{
	struct buf text;
	int rc;

	buf_init(&text);
	buf_printf(&text, "alert:\n  webhooks:\n%s", hooks);
	config_defaults(c);
	buf_reset(errs);
	rc = config_load_text(c, "k.yaml", text.data, text.len, errs);
	buf_free(&text);
	return rc;
}

static void
test_config_keys(void)
{
	struct config c;
	struct buf errs;

	buf_init(&errs);
	T_INTEQ(load("    - name: pd\n      format: pagerduty\n      routing_key: abc\n"
	    "    - name: s\n      url: http://x/\n      format: slack\n"
	    "      secret: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, "
	    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA]\n"
	    "    - name: g\n      url: http://x/\n      template: '{\"u\": \"%{user}\"}'\n"
	    "      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", &c, &errs), 0);
	T_STREQ(buf_cstr(&errs), "");
	T_INTEQ(c.alert.nwebhooks, 3);
	T_STREQ(c.alert.webhooks[0].url, ALERT_PAGERDUTY_URL);
	T_INTEQ(c.alert.webhooks[0].format, ALERT_FORMAT_PAGERDUTY);
	T_STREQ(c.alert.webhooks[0].routing_key, "abc");
	T_INTEQ(c.alert.webhooks[1].secrets.n, 2);
	T_INTEQ(c.alert.webhooks[2].secrets.n, 1);
	T_INTEQ(c.alert.webhooks[2].format, ALERT_FORMAT_GENERIC);
	config_free(&c);
	buf_free(&errs);
}

static void
test_config_errors(void)
{
	static const char *const bad[][2] = {
		{ "    - name: a\n      format: pagerduty\n", "k.yaml:3: alert.webhooks: webhook \"a\": format pagerduty needs a routing_key" },
		{ "    - name: a\n      url: http://x/\n      routing_key: k\n", "k.yaml:5: alert.webhooks: webhook \"a\": routing_key applies only to format pagerduty" },
		{ "    - name: a\n      url: http://x/\n      format: slack\n      template: '{}'\n", "k.yaml:6: alert.webhooks: webhook \"a\": template applies only to format generic" },
		{ "    - name: a\n      url: http://x/\n      format: email\n", "k.yaml:5: format: \"email\" is not one of generic, slack, teams, pagerduty" },
		{ "    - name: a\n      url: http://x/\n      template: |\n        {\"a\": %{user}x}\n", "k.yaml:5: alert.webhooks: webhook \"a\": the template filled in for a finding is not valid JSON" },
		{ "    - name: a\n      url: http://x/\n      template: '{\"a\": \"%{usr}\"}'\n", "k.yaml:5: alert.webhooks: webhook \"a\": template line 1, column 8: unknown field %{usr}" },
		{ "    - name: a\n      url: http://x/\n      secret: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, nope]\n", "k.yaml:5: alert.webhooks: webhook \"a\": secret 2: a secret is written whsec_" },
		{ "    - name: a\n      url: http://x/\n      secret: whsec_AAECAwQFBgcICQoLDA0ODw==\n", "k.yaml:5: alert.webhooks: webhook \"a\": secret 1: a secret decodes to 16 bytes" },
		{ "    - name: a\n      format: slack\n", "k.yaml:3: alert.webhooks: webhook \"a\" needs an http:// or https:// url" },
	};
	struct config c;
	struct buf errs;

	buf_init(&errs);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_INTEQ(load(bad[i][0], &c, &errs), -1);
		if (strstr(buf_cstr(&errs), bad[i][1]) == NULL)
			printf("  case %zu: got %s", i, buf_cstr(&errs));
		T_ASSERT(strstr(buf_cstr(&errs), bad[i][1]) != NULL);
		/* a secret is never quoted back */
		T_ASSERT(strstr(buf_cstr(&errs), "AAECAwQFBgcICQoLDA0ODw") == NULL);
		T_ASSERT(strstr(buf_cstr(&errs), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == NULL);
		config_free(&c);
	}
	buf_free(&errs);
}

int
main(void)
{
	T_RUN(test_checkers_catch);
	T_RUN(test_generic_is_the_payload);
	T_RUN(test_generic_caps_values);
	T_RUN(test_slack_shapes);
	T_RUN(test_slack_readable);
	T_RUN(test_slack_hostile_escaped);
	T_RUN(test_teams_shapes);
	T_RUN(test_teams_values_in_runs);
	T_RUN(test_pagerduty_shapes);
	T_RUN(test_pagerduty_fields);
	T_RUN(test_fingerprint_stable);
	T_RUN(test_template_fill);
	T_RUN(test_template_hostile);
	T_RUN(test_template_group);
	T_RUN(test_template_check);
	T_RUN(test_render_refuses);
	T_RUN(test_config_keys);
	T_RUN(test_config_errors);
	return t_done();
}
