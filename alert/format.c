/* format.c — rendering a payload into a webhook's body (see format.h): the
 * dispatch, the value rules every format shares (caps, UTF-8 repair, the
 * neutralisation of display text), the PagerDuty fingerprint, and the
 * generic format with its %{field} templates. format_chat.c has the Slack,
 * Teams and PagerDuty bodies.
 *
 * A template is JSON text. A %{field} inside a JSON string is replaced by
 * the field's text, escaped as string contents; one standing alone (where a
 * JSON value goes) by the field's JSON value, null when it is missing. The
 * template is scanned once, left to right, and what a value brings is never
 * scanned again, so a value holding %{severity} or a quote stays text. */
#include "alert/format_impl.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/utf8.h"

#define FMT_ARRAY_MAX	100
#define FMT_DEPTH_MAX	16
/* Bodies above these are rendered again with halved caps. */
#define FMT_TEAMS_BYTES		24000	/* Teams takes about 28 KB a message */
#define FMT_SLACK_BYTES		40000
#define FMT_PAGERDUTY_BYTES	500000	/* PagerDuty takes 512 KB an event */
#define FMT_FIELD_NAME_MAX	128

static const char *const fmt_names[] = { "generic", "slack", "teams", "pagerduty" };

int
alert_format_parse(const char *s, enum alert_format *out)
{
	for (size_t i = 0; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++)
		if (strcmp(s, fmt_names[i]) == 0) {
			*out = (enum alert_format)i;
			return 0;
		}
	return -1;
}

const char *
alert_format_name(enum alert_format f)
{
	return (size_t)f < sizeof(fmt_names) / sizeof(fmt_names[0]) ? fmt_names[f] : "?";
}

/* --- values ------------------------------------------------------------- */

/* What one unit of input (a character, or "://" or "{{") becomes. */
struct fmt_piece {
	const char	*s;
	size_t		 len;	/* bytes of s */
	size_t		 chars;	/* characters of s */
	size_t		 used;	/* bytes of input */
};

#define PIECE(str, nchars, nused) \
	(struct fmt_piece){ (str), sizeof(str) - 1, (nchars), (nused) }

/* Pieces for a character of one byte, or .s NULL for "itself". */
static struct fmt_piece
fmt_ascii(const unsigned char *p, size_t n, int flags)
{
	unsigned char c = p[0];

	if (c == 0)
		return PIECE("\xef\xbf\xbd", 1, 1);
	if ((flags & FMT_DISPLAY) && (c < 0x20 || c == 0x7f))
		return c == '\n' || c == '\r' || c == '\t' ? PIECE(" ", 1, 1) :
		    PIECE("\xef\xbf\xbd", 1, 1);
	if ((flags & FMT_DISPLAY) && c == ':' && n >= 3 && p[1] == '/' && p[2] == '/')
		return PIECE("[:]//", 5, 3);
	if ((flags & FMT_DISPLAY) && c == '{' && n >= 2 && p[1] == '{')
		return PIECE("{ {", 3, 2);
	if (flags & FMT_SLACK) {
		switch (c) {
		case '&': return PIECE("&amp;", 5, 1);
		case '<': return PIECE("&lt;", 4, 1);
		case '>': return PIECE("&gt;", 4, 1);
		case '`': return PIECE("\xcb\x8b", 1, 1);	/* U+02CB */
		}
	}
	return (struct fmt_piece){ NULL, 1, 1, 1 };
}

/* Bidirectional overrides and isolates (U+202A-202E, U+2066-2069) and the
 * line and paragraph separators (U+2028, U+2029): they reorder or break
 * what a reader sees. */
static int
fmt_invisible(const unsigned char *p, size_t l)
{
	if (l != 3 || p[0] != 0xe2)
		return 0;
	if (p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae)
		return 1;
	return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

static struct fmt_piece
fmt_next(const unsigned char *p, size_t n, int flags)
{
	size_t l = utf8_seq(p, n);
	struct fmt_piece pc;

	if (l == 0)
		return PIECE("\xef\xbf\xbd", 1, 1);
	if (l == 1) {
		pc = fmt_ascii(p, n, flags);
		if (pc.s == NULL)
			pc.s = (const char *)p;
		return pc;
	}
	if ((flags & FMT_DISPLAY) && fmt_invisible(p, l))
		return PIECE("\xef\xbf\xbd", 1, l);
	return (struct fmt_piece){ (const char *)p, l, 1, l };
}

int
fmt_text(struct buf *b, const char *s, size_t n, size_t max, int flags)
{
	const unsigned char *p = (const unsigned char *)s;
	struct fmt_piece pc;
	size_t i = 0, total = 0, budget;

	if (s == NULL)
		n = 0;
	/* Does all of it fit? Looks at no more than max characters' worth. */
	while (i < n) {
		pc = fmt_next(p + i, n - i, flags);
		if ((total += pc.chars) > max)
			break;
		i += pc.used;
	}
	budget = i >= n ? max : (max > 0 ? max - 1 : 0);
	for (i = 0, total = 0; i < n; i += pc.used) {
		pc = fmt_next(p + i, n - i, flags);
		if (total + pc.chars > budget)
			break;
		buf_append(b, pc.s, pc.len);
		total += pc.chars;
	}
	if (i < n && max > 0)
		buf_puts(b, "\xe2\x80\xa6");	/* U+2026 */
	if (b->data == NULL)
		buf_append(b, "", 0);
	return i < n;
}

json_t *
fmt_jtext(const char *s, size_t n, size_t max, int flags)
{
	struct buf b;
	json_t *j;

	buf_init(&b);
	fmt_text(&b, s, n, max, flags);
	j = json_stringn_nocheck(buf_cstr(&b), b.len);
	buf_free(&b);
	return j;
}

size_t
fmt_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

int
fmt_value_text(json_t *v, struct buf *tmp)
{
	char *d;

	buf_reset(tmp);
	if (v == NULL || json_is_null(v))
		return -1;
	if (json_is_string(v)) {
		if (json_string_length(v) == 0)
			return -1;
		buf_append(tmp, json_string_value(v), json_string_length(v));
		return 0;
	}
	d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	buf_puts(tmp, d ? d : "");
	free(d);
	return 0;
}

static json_t *
fmt_cap_array(json_t *v, size_t strmax, int flags, int depth)
{
	json_t *a = json_array(), *e;
	size_t i;
	char more[64];

	json_array_foreach(v, i, e) {
		if (i == FMT_ARRAY_MAX) {
			snprintf(more, sizeof(more), "\xe2\x80\xa6 %zu more",
			    json_array_size(v) - FMT_ARRAY_MAX);
			json_array_append_new(a, json_string(more));
			break;
		}
		json_array_append_new(a, fmt_cap(e, strmax, flags, depth + 1));
	}
	return a;
}

json_t *
fmt_cap(json_t *v, size_t strmax, int flags, int depth)
{
	json_t *o, *e;
	const char *k;
	struct buf kb;

	if (depth > FMT_DEPTH_MAX)
		return json_string("\xe2\x80\xa6");
	if (json_is_string(v))
		return fmt_jtext(json_string_value(v), json_string_length(v), strmax, flags);
	if (json_is_array(v))
		return fmt_cap_array(v, strmax, flags, depth);
	if (!json_is_object(v))
		return json_incref(v);
	o = json_object();
	buf_init(&kb);
	json_object_foreach(v, k, e) {
		buf_reset(&kb);
		fmt_text(&kb, k, strlen(k), ALERT_VALUE_MAX, flags);
		json_object_set_new(o, buf_cstr(&kb), fmt_cap(e, strmax, flags, depth + 1));
	}
	buf_free(&kb);
	return o;
}

const char *
fmt_sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int
fmt_is_group(json_t *p)
{
	return json_object_get(p, "group") != NULL;
}

static enum severity
fmt_severity_one(json_t *f)
{
	const char *s = fmt_sget(f, "severity");
	enum severity sev = SEV_INFO;

	if (s == NULL || severity_parse(s, &sev) == -1)
		return SEV_INFO;
	return sev;
}

enum severity
fmt_severity(json_t *p)
{
	enum severity max = SEV_INFO, s;
	json_t *f;
	size_t i;

	if (!fmt_is_group(p))
		return fmt_severity_one(p);
	json_array_foreach(json_object_get(p, "findings"), i, f)
		if ((s = fmt_severity_one(f)) > max)
			max = s;
	return max;
}

/* "key=value, key=value" of a group's key, through flags. */
static void
fmt_group_key(json_t *p, size_t max, int flags, struct buf *b)
{
	struct buf one, v;
	const char *k;
	json_t *e;

	buf_init(&one);
	buf_init(&v);
	json_object_foreach(json_object_get(p, "group"), k, e) {
		if (one.len)
			buf_puts(&one, ", ");
		buf_puts(&one, k);
		buf_putc(&one, '=');
		if (fmt_value_text(e, &v) == 0)
			buf_append(&one, v.data, v.len);
	}
	fmt_text(b, one.data, one.len, max, flags);
	buf_free(&one);
	buf_free(&v);
}

void
fmt_summary(json_t *p, size_t max, int flags, struct buf *b)
{
	struct buf s;
	const char *t, *m;

	buf_init(&s);
	buf_printf(&s, "[%s] ", severity_name(fmt_severity(p)));
	if (fmt_is_group(p)) {
		buf_printf(&s, "%lld kaudit findings (%lld new): ",
		    (long long)json_integer_value(json_object_get(p, "count")),
		    (long long)json_integer_value(json_object_get(p, "new")));
		fmt_group_key(p, max, 0, &s);
	} else {
		t = fmt_sget(p, "title");
		m = fmt_sget(p, "message");
		buf_puts(&s, t ? t : "kaudit finding");
		if (m != NULL && *m != '\0') {
			buf_puts(&s, ": ");
			buf_puts(&s, m);
		}
	}
	fmt_text(b, s.data, s.len, max, flags);
	buf_free(&s);
}

/* --- the fingerprint ---------------------------------------------------- */

/* Appends s and a NUL to the digest input. */
static void
fp_part(struct buf *in, const char *s)
{
	buf_append(in, s ? s : "", s ? strlen(s) + 1 : 1);
}

static void
fp_part_json(struct buf *in, json_t *v)
{
	char *d = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;

	fp_part(in, d);
	free(d);
}

void
alert_fingerprint(json_t *payload, char out[ALERT_FINGERPRINT_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *rule = fmt_sget(payload, "rule");
	json_t *corr = json_object_get(payload, "correlation");
	struct buf in;
	size_t at;

	if (fmt_is_group(payload)) {
		snprintf(out, ALERT_FINGERPRINT_MAX, "kaudit-group-%lld",
		    (long long)json_integer_value(json_object_get(payload, "group_id")));
		return;
	}
	/* What a later update of the finding never changes: not its counts,
	 * message, severity or attribution. */
	buf_init(&in);
	fp_part(&in, rule);
	fp_part(&in, fmt_sget(payload, "audit_id"));
	fp_part(&in, fmt_sget(corr, "kind"));
	fp_part_json(&in, json_object_get(corr, "key"));
	fp_part_json(&in, json_object_get(corr, "tuple"));
	EVP_Digest(in.data, in.len, md, &mdlen, EVP_sha256(), NULL);
	buf_free(&in);
	at = (size_t)snprintf(out, ALERT_FINGERPRINT_MAX, "kaudit-");
	for (const char *q = rule ? rule : "finding"; *q && at < 7 + 100; q++)
		out[at++] = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '.' || *q == '_' || *q == '-' ? *q : '_';
	out[at++] = '-';
	for (unsigned int i = 0; i < 20 && i < mdlen; i++)
		at += (size_t)snprintf(out + at, ALERT_FINGERPRINT_MAX - at, "%02x", md[i]);
}

/* --- generic: templates ------------------------------------------------- */

/* What a template may name besides the payload's own fields. */
struct tmpl_ctx {
	int64_t		 delivery_id;
	const char	*summary;
	const char	*fingerprint;
	const char	*kind;
};

/* The finding contract (docs/design.md) and a group notification's keys. */
static const char *const tmpl_fields[] = {
	"rule", "title", "severity", "category", "tags", "audit_id", "stage", "time",
	"cluster", "user", "groups", "impersonated_user", "source_ip", "user_agent",
	"verb", "resource", "subresource", "namespace", "name", "code", "message",
	"evidence", "repeats", "correlation", "last_repeat", "attributed_user",
	"group", "group_id", "webhook", "count", "new", "notification", "first",
	"last", "findings", NULL
};
static const char *const tmpl_computed[] = {
	"kaudit.delivery_id", "kaudit.summary", "kaudit.fingerprint", "kaudit.kind", NULL
};

static int
tmpl_known(const char *name, size_t n)
{
	for (int i = 0; tmpl_computed[i]; i++)
		if (strlen(tmpl_computed[i]) == n && memcmp(tmpl_computed[i], name, n) == 0)
			return 1;
	for (int i = 0; tmpl_fields[i]; i++) {
		size_t l = strlen(tmpl_fields[i]);
		if (n >= l && memcmp(tmpl_fields[i], name, l) == 0 &&
		    (n == l || name[l] == '.'))
			return 1;
	}
	return 0;
}

/* The value at a dotted path (borrowed), or NULL. At each level the
 * longest key that matches wins, so evidence keys with dots in them
 * (%{evidence.user.username}) are found; a number indexes an array. */
static json_t *
tmpl_path(json_t *v, const char *path, size_t n)
{
	char key[FMT_FIELD_NAME_MAX + 1];
	json_t *e;

	if (n > FMT_FIELD_NAME_MAX || v == NULL)
		return NULL;
	memcpy(key, path, n);
	key[n] = '\0';
	if (json_is_array(v)) {
		size_t dot = strcspn(key, "."), idx = 0;
		for (size_t i = 0; i < dot; i++) {
			if (key[i] < '0' || key[i] > '9' || i > 6)
				return NULL;
			idx = idx * 10 + (size_t)(key[i] - '0');
		}
		e = dot ? json_array_get(v, idx) : NULL;
		return dot == n ? e : tmpl_path(e, path + dot + 1, n - dot - 1);
	}
	for (size_t l = n; l > 0; l--) {
		if (l < n && key[l] != '.')
			continue;
		key[l] = '\0';
		e = json_object_get(v, key);
		if (e != NULL)
			return l == n ? e : tmpl_path(e, path + l + 1, n - l - 1);
		key[l] = l < n ? '.' : '\0';
	}
	return NULL;
}

/* The value of a computed field as a new reference, or NULL. */
static json_t *
tmpl_computed_value(const struct tmpl_ctx *x, const char *name, size_t n)
{
	if (n == 18 && memcmp(name, "kaudit.delivery_id", n) == 0)
		return json_integer((json_int_t)x->delivery_id);
	if (n == 14 && memcmp(name, "kaudit.summary", n) == 0)
		return json_string(x->summary);
	if (n == 18 && memcmp(name, "kaudit.fingerprint", n) == 0)
		return json_string(x->fingerprint);
	if (n == 11 && memcmp(name, "kaudit.kind", n) == 0)
		return json_string(x->kind);
	return NULL;
}

/* Appends s[0..n) as the contents of a JSON string. */
static void
tmpl_json_contents(struct buf *out, const char *s, size_t n)
{
	size_t mark = out->len;

	buf_json_str(out, s, n);
	/* drop the quotes buf_json_str added */
	memmove(out->data + mark, out->data + mark + 1, out->len - mark - 2);
	out->len -= 2;
	out->data[out->len] = '\0';
}

/* Appends the value of %{name}: inside a string as escaped text, elsewhere
 * as a JSON value. */
static void
tmpl_value(struct buf *out, json_t *payload, const struct tmpl_ctx *x, const char *name,
    size_t n, int in_string)
{
	json_t *v = tmpl_computed_value(x, name, n), *capped;
	int owned = v != NULL;
	struct buf t;
	char *d;

	if (v == NULL)
		v = tmpl_path(payload, name, n);
	buf_init(&t);
	if (in_string) {
		if (fmt_value_text(v, &t) == 0) {
			struct buf c;
			buf_init(&c);
			fmt_text(&c, t.data, t.len, ALERT_TEMPLATE_VALUE_MAX, 0);
			tmpl_json_contents(out, c.data, c.len);
			buf_free(&c);
		}
	} else if (v == NULL) {
		buf_puts(out, "null");
	} else {
		capped = fmt_cap(v, ALERT_TEMPLATE_VALUE_MAX, 0, 0);
		d = json_dumps(capped, JSON_COMPACT | JSON_ENCODE_ANY);
		buf_puts(out, d ? d : "null");
		free(d);
		json_decref(capped);
	}
	buf_free(&t);
	if (owned)
		json_decref(v);
}

/* The name of the placeholder at t[i] ("%{" seen): its length, or -1. */
static long
tmpl_name(const char *t, size_t i)
{
	size_t n = 0;

	for (const char *q = t + i + 2; *q != '}'; q++, n++) {
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '_' || *q == '.' || *q == '-'))
			return -1;
		if (n >= FMT_FIELD_NAME_MAX)
			return -1;
	}
	return n == 0 ? -1 : (long)n;
}

/* Where t[i] is, as "line L, column C" of the template. */
static void
tmpl_where(const char *t, size_t i, char *out, size_t len)
{
	size_t line = 1, col = 1;

	for (size_t k = 0; k < i; k++) {
		col++;
		if (t[k] == '\n') {
			line++;
			col = 1;
		}
	}
	snprintf(out, len, "template line %zu, column %zu", line, col);
}

/* Fills tmpl into out. check: also refuse unknown fields. */
static int
tmpl_fill(const char *tmpl, json_t *payload, const struct tmpl_ctx *x, int check,
    struct buf *out, char *err, size_t errlen)
{
	int in_string = 0;
	char where[64];
	long n;

	for (size_t i = 0; tmpl[i]; i++) {
		if (tmpl[i] == '%' && tmpl[i + 1] == '{') {
			if ((n = tmpl_name(tmpl, i)) < 0) {
				tmpl_where(tmpl, i, where, sizeof(where));
				snprintf(err, errlen, "%s: %%{ without a field name of letters, "
				    "digits, '_', '-', '.' and a closing }", where);
				return -1;
			}
			if (check && !tmpl_known(tmpl + i + 2, (size_t)n)) {
				tmpl_where(tmpl, i, where, sizeof(where));
				snprintf(err, errlen, "%s: unknown field %%{%.*s} (see "
				    "docs/alerting.md for the fields)", where, (int)n, tmpl + i + 2);
				return -1;
			}
			tmpl_value(out, payload, x, tmpl + i + 2, (size_t)n, in_string);
			i += (size_t)n + 2;
			continue;
		}
		if (in_string && tmpl[i] == '\\' && tmpl[i + 1] != '\0') {
			buf_append(out, tmpl + i, 2);
			i++;
			continue;
		}
		if (tmpl[i] == '"')
			in_string = !in_string;
		buf_putc(out, tmpl[i]);
	}
	return 0;
}

/* 0 when text is JSON; -1 with err. */
static int
tmpl_valid(const struct buf *text, const char *what, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loadb(buf_cstr(text), text->len, JSON_DECODE_ANY, &je);

	if (v != NULL) {
		json_decref(v);
		return 0;
	}
	snprintf(err, errlen, "%s is not valid JSON: %s (line %d, column %d of the result)",
	    what, je.text, je.line, je.column);
	return -1;
}

static int
tmpl_render(const char *tmpl, json_t *payload, int64_t delivery_id, struct buf *body,
    char *err, size_t errlen)
{
	char fp[ALERT_FINGERPRINT_MAX];
	struct tmpl_ctx x;
	struct buf sum;
	int rc;

	buf_init(&sum);
	fmt_summary(payload, ALERT_TEMPLATE_VALUE_MAX, 0, &sum);
	alert_fingerprint(payload, fp);
	x = (struct tmpl_ctx){ delivery_id, buf_cstr(&sum), fp,
	    fmt_is_group(payload) ? "group" : "finding" };
	rc = tmpl_fill(tmpl, payload, &x, 0, body, err, errlen);
	if (rc == 0)
		rc = tmpl_valid(body, "the template's result", err, errlen);
	buf_free(&sum);
	return rc;
}

/* A finding with every field set, to the values that are hardest to
 * escape. New reference. */
static json_t *
tmpl_sample_finding(void)
{
	static const char hostile[] = "\"quote\" \\back\\ %{severity} <!channel> \n\t\x01 end";

	return json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:s, s:s, s:s, s:s, s:s, s:[s],"
	    " s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:{s:s, s:[s]}, s:i,"
	    " s:{s:s, s:{s:s}, s:i, s:s, s:s, s:[s]}, s:s, s:s}",
	    "rule", "sample.rule", "title", hostile, "severity", "high", "category", "exec",
	    "tags", "T1609", hostile, "audit_id", hostile, "stage", "ResponseComplete",
	    "time", "2026-01-01T00:00:00Z", "cluster", hostile, "user", hostile,
	    "groups", hostile, "impersonated_user", hostile, "source_ip", "10.0.0.1",
	    "user_agent", hostile, "verb", "create", "resource", "pods", "subresource", "exec",
	    "namespace", hostile, "name", hostile, "code", 201, "message", hostile,
	    "evidence", "user.username", hostile, "user.groups", hostile, "repeats", 3,
	    "correlation", "kind", "event_count", "key", "user", hostile, "count", 5,
	    "first", "2026-01-01T00:00:00Z", "last", "2026-01-01T00:01:00Z",
	    "audit_ids", hostile, "last_repeat", "2026-01-01T00:02:00Z",
	    "attributed_user", hostile);
}

static json_t *
tmpl_sample_group(void)
{
	json_t *f = tmpl_sample_finding();
	json_t *g = json_pack("{s:{s:s, s:s}, s:i, s:s, s:i, s:i, s:i, s:s, s:s, s:[O]}",
	    "group", "rule", "sample.rule", "namespace", "\"ns\" %{rule}",
	    "group_id", 7, "webhook", "sample", "count", 12, "new", 3, "notification", 2,
	    "first", "2026-01-01T00:00:00Z", "last", "2026-01-01T00:05:00Z", "findings", f);

	json_decref(f);
	return g;
}

int
alert_template_check(const char *tmpl, char *err, size_t errlen)
{
	json_t *samples[2] = { tmpl_sample_finding(), tmpl_sample_group() };
	struct tmpl_ctx x = { 42, "[high] sample \"summary\"", "kaudit-sample", "finding" };
	struct buf out;
	int rc = 0;

	if (strlen(tmpl) > ALERT_TEMPLATE_MAX) {
		snprintf(err, errlen, "a template has at most %d bytes", ALERT_TEMPLATE_MAX);
		rc = -1;
	}
	buf_init(&out);
	for (int i = 0; i < 2 && rc == 0; i++) {
		buf_reset(&out);
		x.kind = i ? "group" : "finding";
		rc = tmpl_fill(tmpl, samples[i], &x, 1, &out, err, errlen);
		if (rc == 0)
			rc = tmpl_valid(&out, i ? "the template filled in for a group "
			    "notification" : "the template filled in for a finding", err, errlen);
	}
	buf_free(&out);
	json_decref(samples[0]);
	json_decref(samples[1]);
	return rc;
}

/* --- dispatch ----------------------------------------------------------- */

static int
fmt_generic(const struct webhook_conf *wc, int64_t delivery_id, json_t *payload,
    struct buf *body, char *err, size_t errlen)
{
	json_t *capped;
	char *d;

	if (wc->template != NULL && *wc->template != '\0')
		return tmpl_render(wc->template, payload, delivery_id, body, err, errlen);
	capped = fmt_cap(payload, ALERT_GENERIC_STR_MAX, 0, 0);
	d = json_dumps(capped, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(capped);
	buf_puts(body, d ? d : "{}");
	free(d);
	return 0;
}

static const struct fmt_caps fmt_caps_full = {
	ALERT_VALUE_MAX, ALERT_MESSAGE_MAX, ALERT_TITLE_MAX, 2800, 1024, ALERT_GROUP_SHOWN
};

/* The caps halved k times (each at least a few characters). */
static struct fmt_caps
fmt_caps_scaled(int k)
{
	struct fmt_caps c = fmt_caps_full;

	if (k == 0)
		return c;
	c.value = (c.value >> k) + 16;
	c.message = (c.message >> k) + 16;
	c.detail = (c.detail >> k) + 16;
	c.evidence = (c.evidence >> k) + 200;
	c.items = (c.items >> k) + 1;
	return c;
}

int
alert_render(const struct webhook_conf *wc, int64_t delivery_id, json_t *payload,
    struct buf *body, char *err, size_t errlen)
{
	size_t limit = wc->format == ALERT_FORMAT_TEAMS ? FMT_TEAMS_BYTES :
	    wc->format == ALERT_FORMAT_SLACK ? FMT_SLACK_BYTES : FMT_PAGERDUTY_BYTES;
	struct fmt_caps caps;
	json_t *out;
	char *d;

	buf_reset(body);
	if (!json_is_object(payload)) {
		snprintf(err, errlen, "the payload is not a JSON object");
		return -1;
	}
	if (wc->format == ALERT_FORMAT_GENERIC)
		return fmt_generic(wc, delivery_id, payload, body, err, errlen);
	for (int k = 0; k < 6; k++) {
		caps = fmt_caps_scaled(k);
		if (wc->format == ALERT_FORMAT_SLACK)
			out = fmt_slack(payload, delivery_id, &caps);
		else if (wc->format == ALERT_FORMAT_TEAMS)
			out = fmt_teams(payload, delivery_id, &caps);
		else
			out = fmt_pagerduty(wc, payload, &caps);
		d = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(out);
		buf_reset(body);
		buf_puts(body, d ? d : "{}");
		free(d);
		if (body->len <= limit)
			return 0;
	}
	snprintf(err, errlen, "the %s body stays above %zu bytes even with the smallest caps",
	    alert_format_name(wc->format), limit);
	return -1;
}
