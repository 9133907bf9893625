/* groups.h — grouped notifications (a webhook's group_by): the group key of
 * a finding, the check of group_by fields against the finding contract
 * (docs/design.md), and the flusher the alerter runs each round. The
 * groups themselves live in PostgreSQL (schema/groups.c); docs/alerting.md
 * (Grouping) gives the semantics. */
#ifndef KAUDIT_ALERT_GROUPS_H
#define KAUDIT_ALERT_GROUPS_H

#include <stddef.h>

#include <jansson.h>

#include "alert/alert.h"

struct db;

/* 0 when field names a finding field group_by may use: a top-level field
 * of the finding contract, evidence.NAME, correlation.FIELD or
 * correlation.key.NAME; -1 with why otherwise. */
int	alert_group_field_check(const char *field, char *why, size_t whylen);

/* The value of a group_by field in a finding (borrowed), NULL when the
 * finding lacks it. */
json_t	*alert_group_field(json_t *finding, const char *field);

/* The group key of finding for wc: {"cluster": ..., FIELD: VALUE, ...}, in
 * group_by's order, a field the finding lacks as null. New reference. */
json_t	*alert_group_key(const struct webhook_conf *wc, json_t *finding);

/* One flush of the due groups (db_groups_flush()), logged; *next_ms
 * receives the time until the next group is due (-1: none waits, 0: now).
 * Returns the notifications made, or -1 on a database error. */
long	alert_groups_flush(struct db *db, const struct alert_opts *o, long *next_ms);

#endif
