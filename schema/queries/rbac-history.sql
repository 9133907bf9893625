-- title: Every change to a Role, ClusterRole or binding, with what each change added and removed
-- param: name text required  the object's name
-- param: namespace text      its namespace (omit for cluster-scoped objects: every namespace matches)
-- param: kind text           roles, clusterroles, rolebindings or clusterrolebindings (default: any)
--
-- rules_added/rules_removed (roles) and subjects_added/subjects_removed
-- (bindings) compare each version with the one before it; a delete removes
-- everything; role_changed says a binding now points to another role.
WITH v AS (
	SELECT c.*, lag(c.rules) OVER w AS prev_rules,
	    lag(c.subjects) OVER w AS prev_subjects,
	    lag(c.role_name) OVER w AS prev_role
	FROM kaudit.rbac_changes c
	WHERE c.name = $1::text
	    AND ($2::text IS NULL OR c.namespace = $2::text)
	    AND ($3::text IS NULL OR c.resource = $3::text)
	WINDOW w AS (PARTITION BY c.resource, c.namespace, c.name ORDER BY c."time", c.audit_id)
)
SELECT v."time", v.username, v.verb, v.resource, v.namespace, v.name,
    v.role_kind, v.role_name,
    v.prev_role IS NOT NULL AND v.role_name IS DISTINCT FROM v.prev_role AS role_changed,
    (SELECT jsonb_agg(x) FROM jsonb_array_elements(CASE WHEN v.verb LIKE 'delete%' THEN '[]'
	ELSE coalesce(v.rules, '[]') END) x
     WHERE NOT coalesce(v.prev_rules, '[]') @> jsonb_build_array(x)) AS rules_added,
    (SELECT jsonb_agg(x) FROM jsonb_array_elements(coalesce(v.prev_rules, '[]')) x
     WHERE v.verb LIKE 'delete%' OR NOT coalesce(v.rules, '[]') @> jsonb_build_array(x)) AS rules_removed,
    (SELECT jsonb_agg(x) FROM jsonb_array_elements(CASE WHEN v.verb LIKE 'delete%' THEN '[]'
	ELSE coalesce(v.subjects, '[]') END) x
     WHERE NOT coalesce(v.prev_subjects, '[]') @> jsonb_build_array(x)) AS subjects_added,
    (SELECT jsonb_agg(x) FROM jsonb_array_elements(coalesce(v.prev_subjects, '[]')) x
     WHERE v.verb LIKE 'delete%' OR NOT coalesce(v.subjects, '[]') @> jsonb_build_array(x)) AS subjects_removed,
    v.audit_id
FROM v
ORDER BY v.resource, v.namespace, v."time", v.audit_id
