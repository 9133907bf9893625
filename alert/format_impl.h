/* format_impl.h — what format.c shares with format_chat.c (the Slack, Teams
 * and PagerDuty renderers). Private to alert/. */
#ifndef KAUDIT_FORMAT_IMPL_H
#define KAUDIT_FORMAT_IMPL_H

#include "alert/format.h"

/* How fmt_text() treats a value (flags, or'ed). */
#define FMT_DISPLAY	0x1	/* shown to people: line breaks become spaces, other
				 * controls and bidi overrides U+FFFD, "://" becomes
				 * "[:]//" (no link), "{{" becomes "{ {" (no card
				 * function) */
#define FMT_SLACK	0x2	/* Slack mrkdwn: & < > as entities, ` as U+02CB */

/* The caps one rendering uses; halved when a body comes out too big. */
struct fmt_caps {
	size_t	value;		/* one field */
	size_t	message;	/* a finding's message */
	size_t	title;
	size_t	evidence;	/* all evidence lines of one finding */
	size_t	detail;		/* a string of PagerDuty's custom_details */
	size_t	items;		/* findings of a group shown */
};

/* Appends s[0..n) to b transformed by flags and cut to max characters
 * (counting what is appended, entities included), ending with U+2026 when
 * cut. Invalid UTF-8 becomes U+FFFD, NUL too. Returns 1 when cut. */
int	fmt_text(struct buf *b, const char *s, size_t n, size_t max, int flags);
/* The same as a new JSON string. */
json_t *fmt_jtext(const char *s, size_t n, size_t max, int flags);
/* Characters (code points) of valid UTF-8 s[0..n). */
size_t	fmt_chars(const char *s, size_t n);
/* v as text into tmp (reset first): a string as it is, anything else as
 * compact JSON. 0, or -1 when v is NULL, JSON null or "". */
int	fmt_value_text(json_t *v, struct buf *tmp);
/* A copy of v with every string (keys too) through fmt_text(strmax,
 * flags), arrays cut to 100 elements and nesting to 16. New reference. */
json_t *fmt_cap(json_t *v, size_t strmax, int flags, int depth);

/* o[k] when it is a string, else NULL. */
const char *fmt_sget(json_t *o, const char *k);
/* 1 for a group notification. */
int	fmt_is_group(json_t *p);
/* A finding's severity, or the highest of a group's findings. */
enum severity fmt_severity(json_t *p);
/* One line saying what happened, at most max characters, through flags. */
void	fmt_summary(json_t *p, size_t max, int flags, struct buf *b);

/* The renderers of format_chat.c: the body as a new JSON value. */
json_t *fmt_slack(json_t *p, int64_t delivery_id, const struct fmt_caps *c);
json_t *fmt_teams(json_t *p, int64_t delivery_id, const struct fmt_caps *c);
json_t *fmt_pagerduty(const struct webhook_conf *wc, json_t *p, const struct fmt_caps *c);

#endif
