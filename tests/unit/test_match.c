/* test_match.c — `icontains` against a list, the operator catch-all rules
 * run on every event's user agent: hand-picked cases around the short-value
 * path and the long-value one, then random values and lists checked against
 * a plain case-folding search. */
#include "analyze/event.h"
#include "base/jtok.h"
#include "analyze/rules.h"
#include "base/buf.h"
#include "tests/unit/t.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct matcher {
	struct ruleset		*rs;
	struct eval_scratch	*s;
	struct jdoc		 d;
	struct buf		 json;
};

/* YAML flow-list item: every item is quoted, so any byte of the alphabet
 * below stays a plain string. */
static void
yaml_item(struct buf *y, const char *s)
{
	buf_putc(y, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(y, '\\');
		buf_putc(y, *s);
	}
	buf_putc(y, '"');
}

/* A one-rule set: userAgent icontains (the items). */
static int
matcher_new(struct matcher *m, const char *const *items, size_t n)
{
	struct buf y, errs;
	struct rule_source src;

	memset(m, 0, sizeof(*m));
	buf_init(&y);
	buf_init(&errs);
	buf_puts(&y, "- list: agents\n  items: [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(&y, ", ");
		yaml_item(&y, items[i]);
	}
	buf_puts(&y, "]\n- rule: r\n  title: t\n  severity: low\n  category: authn\n"
	    "  condition: userAgent icontains (agents)\n");
	src = (struct rule_source){ "m.yaml", y.data, y.len };
	m->rs = ruleset_compile(&src, 1, NULL, &errs);
	if (m->rs == NULL)
		printf("  compile: %s", buf_cstr(&errs));
	buf_free(&y);
	buf_free(&errs);
	if (m->rs == NULL)
		return -1;
	m->s = eval_scratch_new(m->rs);
	jdoc_init(&m->d);
	buf_init(&m->json);
	return 0;
}

static void
matcher_free(struct matcher *m)
{
	eval_scratch_free(m->s);
	ruleset_free(m->rs);
	jdoc_free(&m->d);
	buf_free(&m->json);
}

/* 1 when the rule fires on an event with this user agent. */
static int
matches(struct matcher *m, const char *ua)
{
	struct audit_event ev;
	char err[128];

	buf_reset(&m->json);
	buf_puts(&m->json, "{\"kind\":\"Event\",\"auditID\":\"a\",\"verb\":\"get\",\"userAgent\":");
	buf_json_str(&m->json, ua, strlen(ua));
	buf_putc(&m->json, '}');
	if (jtok_parse(&m->d, m->json.data, m->json.len, err, sizeof(err)) < 0) {
		printf("  bad event: %s\n", err);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.doc = &m->d;
	ev.cluster = "test";
	event_index(&ev);
	return (int)ruleset_eval(m->rs, &ev, m->s, NULL, NULL);
}

/* The meaning of icontains: some item, folded to lower case, occurs in the
 * value folded to lower case. */
static int
reference(const char *const *items, size_t n, const char *ua)
{
	size_t un = strlen(ua);

	for (size_t i = 0; i < n; i++) {
		size_t in = strlen(items[i]);
		for (size_t at = 0; at + in <= un; at++) {
			size_t k = 0;
			while (k < in && tolower((unsigned char)ua[at + k]) ==
			    tolower((unsigned char)items[i][k]))
				k++;
			if (k == in)
				return 1;
		}
	}
	return 0;
}

static void
test_cases(void)
{
	static const char *const items[] = { "kube-hunter", "Nmap", "curl/", "Expanse, a Palo" };
	struct matcher m;
	char big[1200];

	if (matcher_new(&m, items, 4) < 0) {
		T_ASSERT(0);
		return;
	}
	T_INTEQ(matches(&m, "kube-hunter/0.6"), 1);
	T_INTEQ(matches(&m, "Mozilla/5.0 KUBE-HUNTER"), 1);
	T_INTEQ(matches(&m, "nmap"), 1);
	T_INTEQ(matches(&m, "xNMAPx"), 1);
	T_INTEQ(matches(&m, "Curl/8.1"), 1);
	T_INTEQ(matches(&m, "expanse, A PALO alto"), 1);
	T_INTEQ(matches(&m, "kubectl/v1.29.0 (linux/amd64) kubernetes/abc"), 0);
	T_INTEQ(matches(&m, "kube-hunte"), 0);
	T_INTEQ(matches(&m, "curl"), 0);
	T_INTEQ(matches(&m, ""), 0);
	/* past the short-value buffer: at the start, across 512, at the end */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_INTEQ(matches(&m, big), 0);
	memcpy(big, "NMAP", 4);
	T_INTEQ(matches(&m, big), 1);
	memset(big, 'z', 4);
	memcpy(big + 508, "nMaP", 4);
	T_INTEQ(matches(&m, big), 1);
	memset(big + 508, 'z', 4);
	memcpy(big + 510, "Curl/", 5);
	T_INTEQ(matches(&m, big), 1);
	memset(big + 510, 'z', 5);
	memcpy(big + sizeof(big) - 6, "CURL/", 5);
	T_INTEQ(matches(&m, big), 1);
	big[sizeof(big) - 2] = 'x';
	T_INTEQ(matches(&m, big), 0);
	/* exactly 512 and 513 bytes, match at the very end */
	memset(big, 'z', sizeof(big) - 1);
	memcpy(big + 512 - 4, "nmaP", 4);
	big[512] = '\0';
	T_INTEQ(matches(&m, big), 1);
	big[512] = 'z';
	big[513] = '\0';
	T_INTEQ(matches(&m, big), 1);
	matcher_free(&m);
}

/* An empty item is in every value. */
static void
test_empty_item(void)
{
	static const char *const items[] = { "nothing-like-it", "" };
	struct matcher m;

	if (matcher_new(&m, items, 2) < 0) {
		T_ASSERT(0);
		return;
	}
	T_INTEQ(matches(&m, "kubectl"), 1);
	T_INTEQ(matches(&m, ""), 1);
	matcher_free(&m);
}

/* Values and lists from a small alphabet, so that near misses abound. */
static void
test_random(void)
{
	static const char alpha[] = "abAB-/ zZ";
	char items_buf[6][6], ua[700];
	const char *items[6];
	size_t cases = 0, bad = 0, hits = 0;

	srand(7);
	for (int set = 0; set < 60; set++) {
		struct matcher m;
		size_t n = 1 + (size_t)(rand() % 6);
		for (size_t i = 0; i < n; i++) {
			size_t len = 1 + (size_t)(rand() % 5);
			for (size_t k = 0; k < len; k++)
				items_buf[i][k] = alpha[rand() % (sizeof(alpha) - 1)];
			items_buf[i][len] = '\0';
			items[i] = items_buf[i];
		}
		if (matcher_new(&m, items, n) < 0) {
			bad++;
			continue;
		}
		for (int v = 0; v < 40; v++) {
			size_t len = (size_t)(rand() % 3 == 0 ? rand() % 699 : rand() % 12);
			for (size_t k = 0; k < len; k++)
				ua[k] = alpha[rand() % (sizeof(alpha) - 1)];
			ua[len] = '\0';
			int want = reference(items, n, ua), got = matches(&m, ua);
			cases++;
			hits += want;
			if (got != want && bad++ < 5)
				printf("  \"%.40s\" (%zu bytes) against %zu items: %d, want %d\n",
				    ua, len, n, got, want);
		}
		matcher_free(&m);
	}
	T_INTEQ(bad, 0);
	T_ASSERT(hits > cases / 10 && hits < cases - cases / 10);
}

int
main(void)
{
	T_RUN(test_cases);
	T_RUN(test_empty_item);
	T_RUN(test_random);
	return t_done();
}
