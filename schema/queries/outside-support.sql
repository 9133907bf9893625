-- title: Nodes and clients whose Kubernetes version is outside the support window
-- param: at date  the day to judge support on (default: today)
--
-- A version is outside when its minor's end of life (kaudit.k8s_releases,
-- from config/k8s-releases.json) is before that day; a minor older than
-- the table counts as outside too.
WITH d AS (SELECT coalesce($1::date, current_date) AS day),
oldest AS (SELECT min(kaudit.version_key(minor)) AS k FROM kaudit.k8s_releases)
SELECT CASE WHEN s.username LIKE 'system:node:%' THEN 'node' ELSE 'client' END AS kind,
    s.cluster, s.username,
    CASE WHEN s.username LIKE 'system:node:%' THEN substr(s.username, 13) END AS node,
    s.client, s.version, rel.end_of_life, s.last_seen
FROM kaudit.client_support s
LEFT JOIN kaudit.k8s_releases rel ON rel.minor = s.minor
CROSS JOIN d CROSS JOIN oldest
WHERE (rel.end_of_life IS NOT NULL AND rel.end_of_life < d.day)
    OR (rel.minor IS NULL AND kaudit.version_key(s.minor) < oldest.k)
ORDER BY kind DESC, s.username, s.client
