/* fuzz_format.c — alert_render() for every format on hostile payloads: the
 * input is a payload (a finding or a group notification) when it parses as
 * a JSON object, else its bytes, invalid UTF-8 and all, become every field
 * of a finding. Whatever comes in, each body is valid UTF-8 and valid JSON;
 * a Slack body holds no < or > (only entities), and neither a Slack nor a
 * PagerDuty body holds "://" (a Teams body holds only its $schema's). */
#include "alert/format.h"
#include "base/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
	"title", "user", "namespace", "name", "message", "user_agent", "cluster",
	"time", "audit_id", "severity",
};

static json_t *
payload_of(const uint8_t *data, size_t size)
{
	json_t *p = json_loadb((const char *)data, size, 0, NULL), *g;

	if (json_is_object(p))
		return p;
	json_decref(p);
	p = json_object();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_set_new(p, keys[i], json_stringn_nocheck((const char *)data, size));
	json_object_set_new(p, "evidence", json_pack("{s:o}", "user.username",
	    json_stringn_nocheck((const char *)data, size)));
	if (size > 0 && data[0] & 1) {	/* as a group of one */
		g = json_pack("{s:{s:o}, s:i, s:i, s:i, s:[o]}", "group", "user",
		    json_stringn_nocheck((const char *)data, size), "group_id", 1, "count", 1,
		    "new", 1, "findings", p);
		return g;
	}
	return p;
}

static size_t
count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *q = s; (q = strstr(q, needle)) != NULL; q++)
		n++;
	return n;
}

static void
check(enum alert_format f, const char *tmpl, json_t *p)
{
	static struct buf body;
	struct webhook_conf wc;
	char err[256];
	json_t *j;

	memset(&wc, 0, sizeof(wc));
	wc.name = (char *)"fuzz";
	wc.format = f;
	wc.template = (char *)tmpl;
	wc.routing_key = (char *)"key";
	if (alert_render(&wc, 1, p, &body, err, sizeof(err)) != 0)
		abort();
	if (!utf8_valid(body.data, body.len))
		abort();
	if ((j = json_loadb(body.data, body.len, 0, NULL)) == NULL)
		abort();
	json_decref(j);
	if (f == ALERT_FORMAT_SLACK && (memchr(body.data, '<', body.len) ||
	    memchr(body.data, '>', body.len) || strstr(body.data, "://")))
		abort();
	if (f == ALERT_FORMAT_PAGERDUTY && strstr(body.data, "://"))
		abort();
	if (f == ALERT_FORMAT_TEAMS && count(body.data, "://") != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *p;

	if (size > 65536)
		return 0;
	p = payload_of(data, size);
	check(ALERT_FORMAT_GENERIC, NULL, p);
	check(ALERT_FORMAT_GENERIC, "{\"u\": \"%{user}\", \"e\": %{evidence}, \"s\": "
	    "\"%{kaudit.summary}\", \"g\": %{group.user}, \"f\": \"%{findings.0.user}\"}", p);
	check(ALERT_FORMAT_SLACK, NULL, p);
	check(ALERT_FORMAT_TEAMS, NULL, p);
	check(ALERT_FORMAT_PAGERDUTY, NULL, p);
	json_decref(p);
	return 0;
}
