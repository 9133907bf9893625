/* tev.h — a test event: one JSON text tokenized and indexed the way the
 * decoder does it, for the rule-engine unit tests. */
#ifndef KAUDIT_TEV_H
#define KAUDIT_TEV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/event.h"

#define TEV_CLUSTER	"c1"

struct tev {
	struct jdoc		 d;
	struct audit_event	 ev;
};

/* Aborts on JSON that does not parse: a broken test, not a failed check. */
static inline void
tev_load(struct tev *t, const char *json)
{
	char err[128];

	jdoc_init(&t->d);
	if (jtok_parse(&t->d, json, strlen(json), err, sizeof(err)) < 0) {
		printf("  bad test JSON: %s\n", err);
		abort();
	}
	memset(&t->ev, 0, sizeof(t->ev));
	t->ev.doc = &t->d;
	t->ev.root = 0;
	t->ev.cluster = TEV_CLUSTER;
	event_index(&t->ev);
}

#endif
