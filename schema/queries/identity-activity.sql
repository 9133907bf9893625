-- title: Everything one identity did in a time range, with the rules each request fired
-- param: user text required  the user name (user.username), exactly
-- param: from timestamptz    start of the range (default: 7 days before to)
-- param: to timestamptz      end of the range (default: now)
-- param: limit integer       at most this many requests (default: 1000)
--
-- Requests come from kaudit.audit_requests: the event archive when the
-- database has one, the events of findings otherwise.
WITH p AS (
	SELECT $1::text AS who, coalesce($3::timestamptz, now()) AS t_to
)
SELECT r."time", r.verb, r.resource, r.subresource, r.namespace, r.name,
    r.code, r.source_ip, r.user_agent,
    (SELECT string_agg(DISTINCT f.rule, ' ') FROM kaudit.findings f
     WHERE kaudit.text_digest(f.audit_id) = kaudit.text_digest(r.audit_id)
	AND f.audit_id = r.audit_id) AS rules,
    r.audit_id
FROM kaudit.audit_requests r, p
WHERE r.username = p.who
    AND r."time" >= coalesce($2::timestamptz, p.t_to - interval '7 days')
    AND r."time" <= p.t_to
ORDER BY r."time", r.audit_id
LIMIT coalesce($4::integer, 1000)
