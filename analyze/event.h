/* event.h — the one way rules read an audit event.
 *
 * An audit event is a token range inside a tokenized document (see jtok.h):
 * one document may hold many events (EventList, JSON array), and a document
 * may have been unwrapped from a shipper envelope or synthesized from another
 * log format. Rules never see which; they read fields through this interface,
 * so the decoding strategy can change without touching them.
 *
 * The fields every event carries and that the rule index, the finding and
 * the database need are located once, at decode, into f[]. */
#ifndef KAUDIT_EVENT_H
#define KAUDIT_EVENT_H

#include <stddef.h>

#include "base/jtok.h"

enum event_field {
	EF_AUDIT_ID,		/* auditID */
	EF_STAGE,		/* stage */
	EF_VERB,		/* verb */
	EF_REQUEST_URI,		/* requestURI */
	EF_USER,		/* user (object) */
	EF_USERNAME,		/* user.username */
	EF_GROUPS,		/* user.groups */
	EF_IMPERSONATED,	/* impersonatedUser (object) */
	EF_IMPERSONATED_NAME,	/* impersonatedUser.username */
	EF_SOURCE_IPS,		/* sourceIPs */
	EF_USER_AGENT,		/* userAgent */
	EF_OBJECT_REF,		/* objectRef (object) */
	EF_RESOURCE,		/* objectRef.resource */
	EF_SUBRESOURCE,		/* objectRef.subresource */
	EF_NAMESPACE,		/* objectRef.namespace */
	EF_NAME,		/* objectRef.name */
	EF_API_GROUP,		/* objectRef.apiGroup */
	EF_RESPONSE_STATUS,	/* responseStatus (object) */
	EF_CODE,		/* responseStatus.code */
	EF_STAGE_TS,		/* stageTimestamp */
	EF_RECEIVED_TS,		/* requestReceivedTimestamp */
	EF_REQUEST_OBJECT,	/* requestObject */
	EF_RESPONSE_OBJECT,	/* responseObject */
	EF_ANNOTATIONS,		/* annotations */
	EF_COUNT
};

struct audit_event {
	const struct jdoc *doc;	/* borrowed from the decoder result */
	int		 root;	/* token of the Event object */
	int		 f[EF_COUNT];	/* token per enum event_field, -1 if absent */
	const char	*cluster;	/* from the envelope or the config; never NULL */
	size_t		 offset;	/* byte offset of the event in its message */
};

/* Fills ev->f[] from ev->doc/ev->root. */
void	event_index(struct audit_event *ev);

/* Token of a dotted path below the event root, -1 if absent. */
static inline int
event_path(const struct audit_event *ev, const char *dotted)
{
	return jtok_path(ev->doc, ev->root, dotted);
}

/* String value of a well-known field: pointer into the document or into
 * scratch when escaped (see jtok_str()); NULL when absent or not a string. */
const char *event_str(const struct audit_event *ev, enum event_field f,
	    struct buf *scratch, size_t *len);

/* responseStatus.code, or 0 when absent. */
int	event_code(const struct audit_event *ev);

/* The event's own JSON text (for storage as jsonb). */
const char *event_json(const struct audit_event *ev, size_t *len);

#endif
