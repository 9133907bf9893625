/* event.c — locates the well-known audit fields of an event once, so rules
 * and the finding builder read them by index instead of by key search.
 *
 * event_index() runs for every decoded event, so it makes one pass over the
 * root object's keys and one over each of the four objects it descends into,
 * and names a key with a switch on its length and a byte or two plus one
 * memcmp of a constant size. Keys written with escapes (never seen from a
 * real API server, but valid JSON) take the slow path: the same names
 * compared after unescaping. The last occurrence of a key wins, as in the
 * API server's decoder, jsonb and jtok_get() (see jtok.h). */
#include "analyze/event.h"

#include <string.h>

#define IS(k, lit)	(memcmp((k), (lit), sizeof(lit) - 1) == 0)

/* Field named by a key of the root object, or -1. */
static int
event_root_field(const char *k, size_t n)
{
	switch (n) {
	case 4:
		return IS(k, "verb") ? EF_VERB : IS(k, "user") ? EF_USER : -1;
	case 5:
		return IS(k, "stage") ? EF_STAGE : -1;
	case 7:
		return IS(k, "auditID") ? EF_AUDIT_ID : -1;
	case 9:
		switch (k[0]) {
		case 's': return IS(k, "sourceIPs") ? EF_SOURCE_IPS : -1;
		case 'u': return IS(k, "userAgent") ? EF_USER_AGENT : -1;
		case 'o': return IS(k, "objectRef") ? EF_OBJECT_REF : -1;
		}
		return -1;
	case 10:
		return IS(k, "requestURI") ? EF_REQUEST_URI : -1;
	case 11:
		return IS(k, "annotations") ? EF_ANNOTATIONS : -1;
	case 13:
		return IS(k, "requestObject") ? EF_REQUEST_OBJECT : -1;
	case 14:
		switch (k[8]) {
		case 'S': return IS(k, "responseStatus") ? EF_RESPONSE_STATUS : -1;
		case 'O': return IS(k, "responseObject") ? EF_RESPONSE_OBJECT : -1;
		case 'e': return IS(k, "stageTimestamp") ? EF_STAGE_TS : -1;
		}
		return -1;
	case 16:
		return IS(k, "impersonatedUser") ? EF_IMPERSONATED : -1;
	case 24:
		return IS(k, "requestReceivedTimestamp") ? EF_RECEIVED_TS : -1;
	}
	return -1;
}

/* Field named by a key of the object that field `parent` holds, or -1. */
static int
event_child_field(int parent, const char *k, size_t n)
{
	switch (parent) {
	case EF_USER:
		if (n == 8)
			return IS(k, "username") ? EF_USERNAME : -1;
		return n == 6 && IS(k, "groups") ? EF_GROUPS : -1;
	case EF_IMPERSONATED:
		return n == 8 && IS(k, "username") ? EF_IMPERSONATED_NAME : -1;
	case EF_OBJECT_REF:
		switch (n) {
		case 4: return IS(k, "name") ? EF_NAME : -1;
		case 8: return IS(k, "resource") ? EF_RESOURCE :
			    IS(k, "apiGroup") ? EF_API_GROUP : -1;
		case 9: return IS(k, "namespace") ? EF_NAMESPACE : -1;
		case 11: return IS(k, "subresource") ? EF_SUBRESOURCE : -1;
		}
		return -1;
	case EF_RESPONSE_STATUS:
		return n == 4 && IS(k, "code") ? EF_CODE : -1;
	}
	return -1;
}

/* The slow path for a key with escapes: try every name of the parent. */
static int
event_escaped_field(const struct jdoc *d, int key, int parent)
{
	static const char *const names[EF_COUNT] = {
		[EF_AUDIT_ID] = "auditID", [EF_STAGE] = "stage", [EF_VERB] = "verb",
		[EF_REQUEST_URI] = "requestURI", [EF_USER] = "user",
		[EF_USERNAME] = "username", [EF_GROUPS] = "groups",
		[EF_IMPERSONATED] = "impersonatedUser",
		[EF_IMPERSONATED_NAME] = "username", [EF_SOURCE_IPS] = "sourceIPs",
		[EF_USER_AGENT] = "userAgent", [EF_OBJECT_REF] = "objectRef",
		[EF_RESOURCE] = "resource", [EF_SUBRESOURCE] = "subresource",
		[EF_NAMESPACE] = "namespace", [EF_NAME] = "name",
		[EF_API_GROUP] = "apiGroup", [EF_RESPONSE_STATUS] = "responseStatus",
		[EF_CODE] = "code", [EF_STAGE_TS] = "stageTimestamp",
		[EF_RECEIVED_TS] = "requestReceivedTimestamp",
		[EF_REQUEST_OBJECT] = "requestObject",
		[EF_RESPONSE_OBJECT] = "responseObject", [EF_ANNOTATIONS] = "annotations",
	};
	const char *name;
	int f;

	for (f = 0; f < EF_COUNT; f++) {
		name = names[f];
		if (jtok_str_eq(d, key, name, strlen(name)) &&
		    (parent < 0 ? event_root_field(name, strlen(name)) :
		    event_child_field(parent, name, strlen(name))) == f)
			return f;
	}
	return -1;
}

/* One walk over the members of obj (the root when parent is -1). */
static void
event_scan(struct audit_event *ev, int obj, int parent)
{
	const struct jdoc *d = ev->doc;
	const struct jtok *tok = d->tok;
	uint32_t k = (uint32_t)obj + 1;
	int f;

	for (uint32_t i = 0; i < tok[obj].size; i++, k = tok[k + 1].next) {
		if (tok[k].flags & JTOK_DECODE)
			f = event_escaped_field(d, (int)k, parent);
		else if (parent < 0)
			f = event_root_field(d->text + tok[k].start, tok[k].len);
		else
			f = event_child_field(parent, d->text + tok[k].start, tok[k].len);
		if (f >= 0)
			ev->f[f] = (int)k + 1;
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
