/* eventlist.c — the webhook body, checked and cut into events (see
 * eventlist.h). */
#include "ingest/eventlist.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
eventlist_init(struct eventlist *l)
{
	memset(l, 0, sizeof(*l));
	jdoc_init(&l->doc);
	buf_init(&l->ids);
	buf_init(&l->scratch);
}

void
eventlist_free(struct eventlist *l)
{
	jdoc_free(&l->doc);
	free(l->item);
	buf_free(&l->ids);
	buf_free(&l->scratch);
	memset(l, 0, sizeof(*l));
}

static int
str_is(const struct jdoc *d, int t, const char *s)
{
	return jtok_type(d, t) == JT_STR && jtok_str_eq(d, t, s, strlen(s));
}

/* audit.k8s.io/v1 and the older v1beta1, which clusters before 1.12 sent. */
static int
audit_api_version(const struct jdoc *d, int obj)
{
	int v = jtok_getz(d, obj, "apiVersion");

	return v < 0 || str_is(d, v, "audit.k8s.io/v1") || str_is(d, v, "audit.k8s.io/v1beta1");
}

/* Adds event token t; what (e.g. "items[3]") names it in err. */
static int
add_event(struct eventlist *l, int t, const char *what, char *err, size_t errlen)
{
	const struct jdoc *d = &l->doc;
	int id = jtok_getz(d, t, "auditID"), kind = jtok_getz(d, t, "kind");
	const char *s;
	size_t n;

	if (jtok_type(d, t) != JT_OBJ) {
		snprintf(err, errlen, "%s: not an object", what);
		return -1;
	}
	if (kind >= 0 && !str_is(d, kind, "Event")) {
		snprintf(err, errlen, "%s: kind is not Event", what);
		return -1;
	}
	if (!audit_api_version(d, t)) {
		snprintf(err, errlen, "%s: apiVersion is not audit.k8s.io/v1", what);
		return -1;
	}
	if (jtok_type(d, jtok_getz(d, t, "verb")) != JT_STR) {
		snprintf(err, errlen, "%s: no verb", what);
		return -1;
	}
	if ((s = jtok_str(d, id, &l->scratch, &n)) == NULL || n == 0 || n > EVENTLIST_MAX_ID) {
		snprintf(err, errlen, "%s: no auditID (a string of 1 to %d bytes)", what,
		    EVENTLIST_MAX_ID);
		return -1;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->item = xrealloc(l->item, l->cap * sizeof(*l->item));
	}
	l->item[l->n].text = d->text + d->tok[t].start;
	l->item[l->n].len = d->tok[t].len;
	l->item[l->n].id_off = l->ids.len;
	l->item[l->n].id_len = n;
	buf_append(&l->ids, s, n);
	buf_putc(&l->ids, '\0');
	l->n++;
	return 0;
}

static int
add_items(struct eventlist *l, int root, char *err, size_t errlen)
{
	const struct jdoc *d = &l->doc;
	int items = jtok_getz(d, root, "items");
	char what[48];
	uint32_t i = 0;

	if (!audit_api_version(d, root) || jtok_getz(d, root, "apiVersion") < 0) {
		snprintf(err, errlen, "an EventList of apiVersion audit.k8s.io/v1 is expected");
		return -1;
	}
	if (jtok_type(d, items) == JT_NONE || jtok_type(d, items) == JT_NULL)
		return 0;	/* Go writes an empty list as null */
	if (jtok_type(d, items) != JT_ARR) {
		snprintf(err, errlen, "items: not a list");
		return -1;
	}
	for (int c = jtok_first(d, items); c >= 0; c = jtok_next(d, items, c), i++) {
		snprintf(what, sizeof(what), "items[%u]", i);
		if (add_event(l, c, what, err, errlen) < 0)
			return -1;
	}
	return 0;
}

long
eventlist_parse(struct eventlist *l, const char *body, size_t len, char *err, size_t errlen)
{
	char why[160];
	int kind;

	l->n = 0;
	buf_reset(&l->ids);
	if (jtok_parse(&l->doc, body, len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "not JSON: %s", why);
		return -1;
	}
	if (jtok_type(&l->doc, 0) != JT_OBJ) {
		snprintf(err, errlen, "an EventList or an Event object is expected");
		return -1;
	}
	kind = jtok_getz(&l->doc, 0, "kind");
	if (str_is(&l->doc, kind, "EventList")) {
		if (add_items(l, 0, err, errlen) < 0)
			return -1;
	} else if (kind >= 0 && !str_is(&l->doc, kind, "Event")) {
		snprintf(err, errlen, "kind is neither EventList nor Event");
		return -1;
	} else if (add_event(l, 0, "the event", err, errlen) < 0) {
		return -1;
	}
	return (long)l->n;
}
