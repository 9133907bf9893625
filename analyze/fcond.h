/* fcond.h — conditions over a finding's fields: the rule language's
 * compiler and operators with the finding contract (docs/design.md) as the
 * field table instead of the audit event's. Alert routing's `when:` uses it
 * (docs/alerting.md).
 *
 * A condition is compiled once and is immutable afterwards: any number of
 * threads may evaluate it at once. Evaluation reads the finding's jansson
 * object in place; a value is only ever compared, never parsed, so nothing
 * an event puts into a finding can change what the condition means. */
#ifndef KAUDIT_FCOND_H
#define KAUDIT_FCOND_H

#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"

struct finding_cond;

/* Compiles text (len bytes). Returns NULL after appending one
 * `file:line: WHAT: message (column N)` line to errs; what names the
 * condition in messages (e.g. alert.webhooks[soc].when). The lists and
 * macros of rule files do not apply. */
struct finding_cond *fcond_compile(const char *text, size_t len, const char *file,
	    int line, const char *what, struct buf *errs);
/* 1 when the condition holds on finding (borrowed), 0 when not. A missing
 * or null field, or one of another type, makes a comparison false. */
int	fcond_eval(const struct finding_cond *fc, const json_t *finding);
void	fcond_free(struct finding_cond *fc);

/* 0 when path names a finding field as a condition would read it (the same
 * table: group_by uses it); -1 with err when not. */
int	fcond_field_check(const char *path, char *err, size_t errlen);

#endif
