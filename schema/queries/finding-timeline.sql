-- title: The timeline around a finding: findings and requests of the same identity or on the same object
-- param: id bigint required  the finding's id (kaudit.findings.id)
-- param: minutes integer     how far before and after it to look (default: 15)
WITH f0 AS (
	SELECT id, coalesce("time", created_at) AS t, username, namespace, name, resource
	FROM kaudit.findings WHERE id = $1::bigint
), w AS (
	SELECT f0.*, make_interval(mins => coalesce($2::integer, 15)) AS span FROM f0
)
SELECT f."time", 'finding' AS kind,
    CASE WHEN f.id = w.id THEN 'this finding'
	WHEN f.username = w.username THEN 'same identity' ELSE 'same object' END AS why,
    f.username, f.verb, f.resource, f.namespace, f.name, f.rule AS what,
    f.severity, f.audit_id
FROM kaudit.findings f, w
WHERE f."time" BETWEEN w.t - w.span AND w.t + w.span
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
WHERE r."time" BETWEEN w.t - w.span AND w.t + w.span
    AND (r.username = w.username
	OR (r.resource = w.resource AND r.namespace IS NOT DISTINCT FROM w.namespace
	    AND r.name = w.name))
ORDER BY 1, 2, 11, 9
