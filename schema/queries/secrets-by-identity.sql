-- title: Secrets read per identity: requests allowed and denied, lists, distinct Secrets
-- param: from timestamptz  start (default: 30 days before to)
-- param: to timestamptz    end (default: now)
-- param: user text         only this identity (default: all)
WITH p AS (SELECT coalesce($2::timestamptz, now()) AS t_to)
SELECT s.username, count(*) AS requests,
    count(*) FILTER (WHERE s.code IS NULL OR s.code < 400) AS allowed,
    count(*) FILTER (WHERE s.code >= 400) AS denied,
    count(*) FILTER (WHERE s.verb IN ('list', 'watch')) AS lists,
    count(DISTINCT s.namespace || '/' || s.name) AS secrets,
    string_agg(DISTINCT s.namespace, ' ') AS namespaces,
    min(s."time") AS first_seen, max(s."time") AS last_seen
FROM kaudit.secret_access s, p
WHERE s."time" >= coalesce($1::timestamptz, p.t_to - interval '30 days')
    AND s."time" <= p.t_to
    AND ($3::text IS NULL OR s.username = $3::text)
GROUP BY s.username
ORDER BY requests DESC, s.username
