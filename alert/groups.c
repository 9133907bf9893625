/* groups.c — grouped notifications, the alerter's side (see groups.h): which
 * finding fields a group_by may name, the key a finding's values make, and
 * the flush of due groups into the outbox each alerter round. */
#include "alert/groups.h"

#include <stdio.h>
#include <string.h>

#include "analyze/fcond.h"
#include "base/log.h"
#include "schema/db.h"

int
alert_group_field_check(const char *field, char *why, size_t whylen)
{
	char err[256];

	/* the table of `when` conditions: one list of finding fields */
	if (fcond_field_check(field, err, sizeof(err)) == 0)
		return 0;
	snprintf(why, whylen, "\"%s\" is not a finding field (see the finding "
	    "contract in docs/design.md)", field);
	return -1;
}

json_t *
alert_group_field(json_t *finding, const char *field)
{
	const char *dot = strchr(field, '.'), *sub, *dot2;
	json_t *v;

	if (dot == NULL)
		return json_object_get(finding, field);
	sub = dot + 1;
	v = json_object_getn(finding, field, (size_t)(dot - field));
	if (!json_is_object(v))
		return NULL;
	/* evidence names are event paths with dots of their own */
	if ((size_t)(dot - field) == 8 && strncmp(field, "evidence", 8) == 0)
		return json_object_get(v, sub);
	if ((dot2 = strchr(sub, '.')) != NULL && dot2 - sub == 3 &&
	    strncmp(sub, "key", 3) == 0)
		return json_object_get(json_object_get(v, "key"), dot2 + 1);
	return json_object_get(v, sub);
}

json_t *
alert_group_key(const struct webhook_conf *wc, json_t *finding)
{
	json_t *key = json_object(), *v;

	v = json_object_get(finding, "cluster");
	json_object_set(key, "cluster", v ? v : json_null());
	for (size_t i = 0; i < wc->group_by.n; i++) {
		v = alert_group_field(finding, wc->group_by.v[i]);
		json_object_set(key, wc->group_by.v[i], v ? v : json_null());
	}
	return key;
}

long
alert_groups_flush(struct db *db, const struct alert_opts *o, long *next_ms)
{
	struct db_groups_flush f;
	char err[512];

	if (db_groups_flush(db, o->batch, &f, err, sizeof(err)) == -1) {
		log_once("alert.db_groups", "alerter: flushing alert groups: %s", err);
		*next_ms = -1;
		return -1;
	}
	if (f.notifications > 0 || f.closed > 0)
		log_debug("alerter: %ld group notification(s), %ld group(s) closed",
		    f.notifications, f.closed);
	*next_ms = f.next_ms;
	return f.notifications;
}
