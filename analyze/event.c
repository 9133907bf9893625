/* event.c — locates the well-known audit fields of an event once, so rules
 * and the finding builder read them by index instead of by key search. */
#include "analyze/event.h"

#include <string.h>

struct event_key {
	const char	*name;
	size_t		 len;
	int		 field;		/* enum event_field, or -1 */
	int		 parent;	/* the object field the key lives in, -1 = root */
};

#define K(s, f, p)	{ s, sizeof(s) - 1, f, p }

/* Root members first, then members of the objects they name. */
static const struct event_key event_keys[] = {
	K("auditID", EF_AUDIT_ID, -1),
	K("stage", EF_STAGE, -1),
	K("verb", EF_VERB, -1),
	K("requestURI", EF_REQUEST_URI, -1),
	K("user", EF_USER, -1),
	K("impersonatedUser", EF_IMPERSONATED, -1),
	K("sourceIPs", EF_SOURCE_IPS, -1),
	K("userAgent", EF_USER_AGENT, -1),
	K("objectRef", EF_OBJECT_REF, -1),
	K("responseStatus", EF_RESPONSE_STATUS, -1),
	K("stageTimestamp", EF_STAGE_TS, -1),
	K("requestReceivedTimestamp", EF_RECEIVED_TS, -1),
	K("requestObject", EF_REQUEST_OBJECT, -1),
	K("responseObject", EF_RESPONSE_OBJECT, -1),
	K("annotations", EF_ANNOTATIONS, -1),
	K("username", EF_USERNAME, EF_USER),
	K("groups", EF_GROUPS, EF_USER),
	K("username", EF_IMPERSONATED_NAME, EF_IMPERSONATED),
	K("resource", EF_RESOURCE, EF_OBJECT_REF),
	K("subresource", EF_SUBRESOURCE, EF_OBJECT_REF),
	K("namespace", EF_NAMESPACE, EF_OBJECT_REF),
	K("name", EF_NAME, EF_OBJECT_REF),
	K("apiGroup", EF_API_GROUP, EF_OBJECT_REF),
	K("code", EF_CODE, EF_RESPONSE_STATUS),
};

#define NKEYS	(sizeof(event_keys) / sizeof(event_keys[0]))

/* One walk over the members of obj; each key is matched against the table
 * entries whose parent is `parent`. */
static void
event_scan(struct audit_event *ev, int obj, int parent)
{
	const struct jdoc *d = ev->doc;
	size_t i;

	for (int k = jtok_first(d, obj); k >= 0; k = jtok_next(d, obj, k)) {
		for (i = 0; i < NKEYS; i++) {
			if (event_keys[i].parent != parent ||
			    ev->f[event_keys[i].field] >= 0 ||
			    !jtok_str_eq(d, k, event_keys[i].name, event_keys[i].len))
				continue;
			ev->f[event_keys[i].field] = k + 1;
			break;
		}
	}
}

void
event_index(struct audit_event *ev)
{
	static const int objects[] = {
		EF_USER, EF_IMPERSONATED, EF_OBJECT_REF, EF_RESPONSE_STATUS,
	};

	for (int i = 0; i < EF_COUNT; i++)
		ev->f[i] = -1;
	if (jtok_type(ev->doc, ev->root) != JT_OBJ)
		return;
	event_scan(ev, ev->root, -1);
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		if (jtok_type(ev->doc, ev->f[objects[i]]) == JT_OBJ)
			event_scan(ev, ev->f[objects[i]], objects[i]);
}

const char *
event_str(const struct audit_event *ev, enum event_field f, struct buf *scratch,
    size_t *len)
{
	if ((int)f < 0 || f >= EF_COUNT)
		return NULL;
	return jtok_str(ev->doc, ev->f[f], scratch, len);
}

int
event_code(const struct audit_event *ev)
{
	double v;

	if (jtok_num(ev->doc, ev->f[EF_CODE], &v) < 0 || v < -2147483648.0 ||
	    v > 2147483647.0)
		return 0;
	return (int)v;
}

const char *
event_json(const struct audit_event *ev, size_t *len)
{
	return jtok_raw(ev->doc, ev->root, len);
}
