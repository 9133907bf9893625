/* eventlist.h — the body of an audit webhook POST, checked and cut into
 * its events for `kaudit gateway`.
 *
 * The API server's webhook backend POSTs an audit.k8s.io/v1 EventList; a
 * single Event is taken too (a shipper may send one at a time). The body
 * must be one JSON value: an EventList whose items are events, or one
 * event. An event is an object with a non-empty string auditID and a
 * string verb (and, when it says, kind Event). Anything else is refused
 * with a reason, so the gateway answers 400 instead of storing what
 * `kaudit run` could not read.
 *
 * Each event is handed out as the bytes it had in the body (not
 * re-encoded: the consumer reads what the API server wrote), with its
 * auditID decoded, the key of its Kafka message. No I/O, no allocation per
 * event once the arrays have grown.
 *
 * Ownership: a struct eventlist borrows the body; it owns the token array,
 * the items and the ids. */
#ifndef KAUDIT_EVENTLIST_H
#define KAUDIT_EVENTLIST_H

#include <stddef.h>

#include "base/buf.h"
#include "base/jtok.h"

#define EVENTLIST_MAX_ID	256	/* bytes of an auditID (a UUID has 36) */

struct eventlist_item {
	const char	*text;		/* the event's JSON, borrowed from the body */
	size_t		 len;
	size_t		 id_off;	/* its auditID: ids.data + id_off, NUL-ended */
	size_t		 id_len;
};

struct eventlist {
	struct jdoc		 doc;
	struct eventlist_item	*item;
	size_t			 n, cap;
	struct buf		 ids;
	struct buf		 scratch;
};

void	eventlist_init(struct eventlist *l);
void	eventlist_free(struct eventlist *l);

/* Checks body[0..len) and fills l->item. Returns the number of events (an
 * EventList may hold none), or -1 with a reason such as "items[3]: no
 * auditID" in err. */
long	eventlist_parse(struct eventlist *l, const char *body, size_t len,
	    char *err, size_t errlen);

/* The auditID of item i, NUL-terminated. */
static inline const char *
eventlist_id(const struct eventlist *l, size_t i)
{
	return l->ids.data + l->item[i].id_off;
}

#endif
