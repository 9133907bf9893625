-- title: Which identities gained cluster-admin (or another ClusterRole), when and from whom
-- param: from timestamptz  start (default: the beginning)
-- param: to timestamptz    end (default: now)
-- param: role text         the ClusterRole to look for (default: cluster-admin)
SELECT c."time", s->>'kind' AS subject_kind, s->>'namespace' AS subject_namespace,
    s->>'name' AS subject, c.resource AS binding_kind, c.namespace AS binding_namespace,
    c.name AS binding, c.verb, c.username AS granted_by, c.audit_id
FROM kaudit.rbac_changes c,
    jsonb_array_elements(CASE WHEN jsonb_typeof(c.subjects) = 'array' THEN c.subjects ELSE '[]' END) s
WHERE c.resource IN ('clusterrolebindings', 'rolebindings')
    AND c.verb IN ('create', 'update', 'patch')
    AND c.role_kind = 'ClusterRole'
    AND c.role_name = coalesce($3::text, 'cluster-admin')
    AND ($1::timestamptz IS NULL OR c."time" >= $1::timestamptz)
    AND c."time" <= coalesce($2::timestamptz, now())
ORDER BY c."time", c.audit_id, subject
