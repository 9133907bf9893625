/* route.c — which webhooks receive a finding, and for a grouped webhook the
 * group the finding joins (see alert.h). Pure: no I/O, called by every
 * ingest worker and state owner for every finding. The cheap filters go
 * first; a `when` condition was compiled with the configuration and reads
 * the finding in place. */
#include "alert/alert.h"
#include "alert/groups.h"

#include <string.h>

#include "schema/db.h"

static int
route_listed(const struct strlist *l, const char *s)
{
	if (l->n == 0)
		return 1;	/* no filter */
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

size_t
alert_route(const struct alert_opts *o, json_t *finding, const char **names,
    struct db_grouping *groups)
{
	const char *sev = json_string_value(json_object_get(finding, "severity"));
	const char *cat = json_string_value(json_object_get(finding, "category"));
	const char *rule = json_string_value(json_object_get(finding, "rule"));
	enum severity s = SEV_INFO;
	size_t n = 0;

	/* An unknown severity ranks lowest: it still reaches every webhook
	 * that takes all findings. */
	if (sev == NULL || severity_parse(sev, &s) == -1)
		s = SEV_INFO;
	for (size_t i = 0; i < o->nwebhooks; i++) {
		const struct webhook_conf *wc = &o->webhooks[i];

		if (s < wc->min_severity || !route_listed(&wc->categories, cat) ||
		    !route_listed(&wc->rules, rule))
			continue;
		if (wc->when_cond && !fcond_eval(wc->when_cond, finding))
			continue;
		if (groups != NULL)
			groups[n] = (struct db_grouping){
			    wc->group_by.n ? alert_group_key(wc, finding) : NULL,
			    wc->group_wait_ms, wc->group_interval_ms, wc->repeat_interval_ms };
		names[n++] = wc->name;
	}
	return n;
}

void
alert_route_release(struct db_grouping *groups, size_t n)
{
	for (size_t i = 0; groups != NULL && i < n; i++) {
		json_decref(groups[i].key);
		groups[i].key = NULL;
	}
}
