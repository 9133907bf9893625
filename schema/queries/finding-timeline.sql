-- title: The timeline around a finding: findings and requests of the same identity or on the same object
-- param: id bigint required  the finding's id (kaudit.findings.id)
-- param: minutes integer     how far before and after it to look (default: 15)
--
-- The window's ends are scalar subqueries, so that the planner takes them
-- as values and walks the time indexes (and prunes months) with them.
WITH w AS MATERIALIZED (
	SELECT id, coalesce("time", created_at) AS t, username, namespace, name, resource,
	    make_interval(mins => coalesce($2::integer, 15)) AS span
	FROM kaudit.findings WHERE id = $1::bigint
)
SELECT f."time", 'finding' AS kind,
    CASE WHEN f.id = w.id THEN 'this finding'
	WHEN f.username = w.username THEN 'same identity' ELSE 'same object' END AS why,
    f.username, f.verb, f.resource, f.namespace, f.name, f.rule AS what,
    f.severity, f.audit_id
FROM kaudit.findings f, w
WHERE f."time" >= (SELECT t - span FROM w) AND f."time" <= (SELECT t + span FROM w)
    AND (f.id = w.id OR f.username = w.username
	OR (f.resource = w.resource AND f.namespace IS NOT DISTINCT FROM w.namespace
	    AND f.name = w.name))
UNION ALL
SELECT r."time", 'request',
    CASE WHEN r.username = w.username THEN 'same identity' ELSE 'same object' END,
    r.username, r.verb, r.resource, r.namespace, r.name,
    concat_ws(' ', r.verb, concat_ws('/', r.resource, r.subresource), r.code::text),
    NULL, r.audit_id
FROM kaudit.audit_requests r, w
WHERE r."time" >= (SELECT t - span FROM w) AND r."time" <= (SELECT t + span FROM w)
    AND (r.username = w.username
	OR (r.resource = w.resource AND r.namespace IS NOT DISTINCT FROM w.namespace
	    AND r.name = w.name))
ORDER BY 1, 2, 11, 9
