/* report.c — the SQL of each section of `kaudit report` (app/cmd_report.c
 * renders them). Every statement takes the same three parameters: $1 the
 * start of the period (inclusive), $2 its end (exclusive), both
 * timestamptz, and $3 a cluster name or NULL for every cluster. Findings
 * count in the period by event time, or by when they were stored when the
 * event had none.
 *
 * Sections over part of the schema another kaudit version adds (the finding
 * lifecycle) name the relation they need; the report leaves them out, and
 * says so, on a database without it. */
#include "schema/db.h"

#include <stddef.h>

#define IN_PERIOD(t)	"(" t " >= $1::timestamptz AND " t " < $2::timestamptz)"
#define IN_CLUSTER(c)	"($3::text IS NULL OR " c " = $3::text)"
#define FINDING_TIME	"coalesce(f.\"time\", f.created_at)"
#define FINDINGS_IN	IN_PERIOD(FINDING_TIME) " AND " IN_CLUSTER("f.cluster")

static const struct db_report_section sections[] = {
	{ "summary", "Summary",
	  "Counts for the period; the sections below list them.", NULL,
	  /* One pass over the period's findings, then a row per measure. */
	  "WITH c AS (SELECT count(*) AS n,"
	  "  count(*) FILTER (WHERE f.severity = 'critical') AS critical,"
	  "  count(*) FILTER (WHERE f.severity = 'high') AS high,"
	  "  count(*) FILTER (WHERE f.severity = 'medium') AS medium,"
	  "  count(*) FILTER (WHERE f.severity = 'low') AS low,"
	  "  count(*) FILTER (WHERE f.severity = 'info') AS info,"
	  "  count(DISTINCT f.rule) AS rules, count(DISTINCT f.username) AS identities"
	  "  FROM kaudit.findings f WHERE " FINDINGS_IN ")"
	  " SELECT key, measure, value FROM ("
	  " SELECT v.k, v.key, v.measure, v.value FROM c, LATERAL (VALUES"
	  "  (1, 'findings', 'Findings', c.n), (2, 'critical', 'Critical findings', c.critical),"
	  "  (3, 'high', 'High findings', c.high), (4, 'medium', 'Medium findings', c.medium),"
	  "  (5, 'low', 'Low findings', c.low), (6, 'info', 'Info findings', c.info),"
	  "  (7, 'rules', 'Rules that fired', c.rules),"
	  "  (8, 'identities', 'Identities with findings', c.identities))"
	  "  AS v(k, key, measure, value)"
	  " UNION ALL SELECT 9, 'rbac', 'RBAC changes', count(*) FROM kaudit.rbac_changes c"
	  "  WHERE " IN_PERIOD("c.\"time\"") " AND " IN_CLUSTER("c.cluster")
	  " UNION ALL SELECT 10, 'exec', 'Exec and attach sessions', count(*) FROM kaudit.exec_sessions e"
	  "  WHERE " IN_PERIOD("e.\"time\"") " AND " IN_CLUSTER("e.cluster")
	  " UNION ALL SELECT 11, 'privileged', 'Privileged or host-access workloads', count(*)"
	  "  FROM kaudit.privileged_workloads w WHERE " IN_PERIOD("w.\"time\"") " AND " IN_CLUSTER("w.cluster")
	  " UNION ALL SELECT 12, 'secrets', 'Secret reads', count(*) FROM kaudit.secret_access s"
	  "  WHERE " IN_PERIOD("s.\"time\"") " AND " IN_CLUSTER("s.cluster")
	  " UNION ALL SELECT 13, 'anonymous', 'Anonymous requests', count(*) FROM kaudit.anonymous_access a"
	  "  WHERE " IN_PERIOD("a.\"time\"") " AND " IN_CLUSTER("a.cluster")
	  " UNION ALL SELECT 14, 'deprecated', 'Deprecated API requests', coalesce(sum(requests), 0)"
	  "  FROM kaudit.deprecated_api_use d WHERE " IN_PERIOD("d.last_seen") " AND " IN_CLUSTER("d.cluster")
	  " UNION ALL SELECT 15, 'outside', 'Nodes and clients outside support', count(*)"
	  "  FROM kaudit.client_support s LEFT JOIN kaudit.k8s_releases r ON r.minor = s.minor"
	  "  WHERE " IN_PERIOD("s.last_seen") " AND " IN_CLUSTER("s.cluster")
	  "  AND r.end_of_life < $2::timestamptz"
	  " UNION ALL SELECT 16, 'dead', 'Alerts given up on', count(*) FROM kaudit.outbox o"
	  "  LEFT JOIN kaudit.findings f ON f.id = o.finding_id"
	  "  WHERE o.state = 'dead' AND " IN_PERIOD("o.created_at") " AND " IN_CLUSTER("f.cluster")
	  ") s ORDER BY k" },

	{ "by-day", "Findings by day and severity",
	  "Findings per day of event time; the chart stacks severities.", NULL,
	  "SELECT date_trunc('day', " FINDING_TIME ")::date AS day, f.severity,"
	  " count(*) AS findings FROM kaudit.findings f WHERE " FINDINGS_IN
	  " GROUP BY 1, 2, f.severity_rank ORDER BY 1, f.severity_rank DESC" },

	{ "by-category", "Findings by category",
	  "Findings per category, split by severity.", NULL,
	  "SELECT coalesce(f.category, '') AS category,"
	  " count(*) FILTER (WHERE f.severity = 'critical') AS critical,"
	  " count(*) FILTER (WHERE f.severity = 'high') AS high,"
	  " count(*) FILTER (WHERE f.severity = 'medium') AS medium,"
	  " count(*) FILTER (WHERE f.severity = 'low') AS low,"
	  " count(*) FILTER (WHERE f.severity = 'info') AS info, count(*) AS total"
	  " FROM kaudit.findings f WHERE " FINDINGS_IN
	  " GROUP BY 1 ORDER BY total DESC, 1" },

	{ "rules", "Rules that fired",
	  "The 50 rules with most findings.", NULL,
	  "SELECT f.rule, f.severity, count(*) AS findings,"
	  " count(DISTINCT f.username) AS identities, min(" FINDING_TIME ") AS first,"
	  " max(" FINDING_TIME ") AS last FROM kaudit.findings f WHERE " FINDINGS_IN
	  " GROUP BY 1, 2, f.severity_rank ORDER BY findings DESC, f.severity_rank DESC, 1 LIMIT 50" },

	{ "rbac", "RBAC changes",
	  "Writes to Roles, ClusterRoles and their bindings, with the role bound and the subjects (first 500).", NULL,
	  "SELECT c.\"time\", c.username, c.verb, c.resource, c.namespace, c.name,"
	  " c.role_name AS role,"
	  " (SELECT string_agg(concat_ws(':', s->>'kind', nullif(concat_ws('/', s->>'namespace', s->>'name'), '')), ', ')"
	  "  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.subjects) = 'array' THEN c.subjects ELSE '[]' END) s) AS subjects,"
	  " CASE WHEN jsonb_typeof(c.rules) = 'array' THEN jsonb_array_length(c.rules) END AS rules"
	  " FROM kaudit.rbac_changes c WHERE " IN_PERIOD("c.\"time\"") " AND " IN_CLUSTER("c.cluster")
	  " ORDER BY c.\"time\", c.audit_id LIMIT 500" },

	{ "exec", "Exec sessions",
	  "exec and attach into pods with the command run (first 500).", NULL,
	  "SELECT e.\"time\", e.username, e.namespace, e.pod, e.container, e.subresource,"
	  " e.command, e.code FROM kaudit.exec_sessions e"
	  " WHERE " IN_PERIOD("e.\"time\"") " AND " IN_CLUSTER("e.cluster")
	  " ORDER BY e.\"time\", e.audit_id LIMIT 500" },

	{ "privileged", "Privileged workloads",
	  "Workloads created or changed with a privileged container, host namespaces or hostPath volumes (first 500).", NULL,
	  "SELECT w.\"time\", w.username, w.attributed_user, w.verb, w.resource, w.namespace,"
	  " w.name, w.privileged, w.host_pid, w.host_network, w.host_ipc,"
	  " array_to_string(w.host_paths, ' ') AS host_paths FROM kaudit.privileged_workloads w"
	  " WHERE " IN_PERIOD("w.\"time\"") " AND " IN_CLUSTER("w.cluster")
	  " ORDER BY w.\"time\", w.audit_id LIMIT 500" },

	{ "secrets", "Secret access by identity",
	  "Secret reads per identity: allowed, denied, lists and watches, distinct Secrets.", NULL,
	  "SELECT s.username, count(*) AS requests,"
	  " count(*) FILTER (WHERE s.code IS NULL OR s.code < 400) AS allowed,"
	  " count(*) FILTER (WHERE s.code >= 400) AS denied,"
	  " count(*) FILTER (WHERE s.verb IN ('list', 'watch')) AS lists,"
	  " count(DISTINCT s.namespace || '/' || s.name) AS secrets,"
	  " min(s.\"time\") AS first, max(s.\"time\") AS last FROM kaudit.secret_access s"
	  " WHERE " IN_PERIOD("s.\"time\"") " AND " IN_CLUSTER("s.cluster")
	  " GROUP BY 1 ORDER BY requests DESC, 1" },

	{ "anonymous", "Anonymous access",
	  "Requests without credentials and the answer they got (first 500).", NULL,
	  "SELECT a.\"time\", a.source_ip, a.user_agent, a.verb, a.request_uri, a.code"
	  " FROM kaudit.anonymous_access a WHERE " IN_PERIOD("a.\"time\"") " AND " IN_CLUSTER("a.cluster")
	  " ORDER BY a.\"time\", a.audit_id LIMIT 500" },

	{ "fleet", "Fleet patch level",
	  "Each node's kubelet version last seen in the period, against the release table.", NULL,
	  "SELECT DISTINCT ON (k.cluster, k.node) k.node, k.version, r.latest_patch,"
	  " r.end_of_life, CASE WHEN r.minor IS NULL THEN 'unknown'"
	  "  WHEN r.end_of_life < $2::timestamptz THEN 'outside' ELSE 'supported' END AS support,"
	  " k.last_seen FROM kaudit.kubelet_versions k"
	  " LEFT JOIN kaudit.k8s_releases r ON r.minor = k.minor"
	  " WHERE " IN_PERIOD("k.last_seen") " AND " IN_CLUSTER("k.cluster")
	  " ORDER BY k.cluster, k.node, k.last_seen DESC" },

	{ "outside", "Clients outside the support window",
	  "Identities whose Kubernetes client (kubelet, kubectl, kube-proxy, kubeadm) is of a minor past its end of life.", NULL,
	  "SELECT s.username, s.client, s.version, r.end_of_life, s.last_seen"
	  " FROM kaudit.client_support s LEFT JOIN kaudit.k8s_releases r ON r.minor = s.minor"
	  " WHERE " IN_PERIOD("s.last_seen") " AND " IN_CLUSTER("s.cluster")
	  " AND r.end_of_life < $2::timestamptz ORDER BY s.username, s.client" },

	{ "deprecated", "Deprecated API use",
	  "Who still calls APIs the API server marked deprecated, and the release that removes them.", NULL,
	  "SELECT d.username, d.user_agent, d.api, d.removed_release, sum(d.requests) AS requests,"
	  " min(d.first_seen) AS first, max(d.last_seen) AS last FROM kaudit.deprecated_api_use d"
	  " WHERE " IN_PERIOD("d.last_seen") " AND " IN_CLUSTER("d.cluster")
	  " GROUP BY 1, 2, 3, 4 ORDER BY d.removed_release NULLS LAST, requests DESC, 1" },

	{ "status", "Finding status",
	  "Findings of the period by their current status (open, acknowledged, resolved, suppressed).",
	  "kaudit.finding_status",
	  "SELECT s.status, count(*) AS findings FROM kaudit.findings f"
	  " JOIN kaudit.finding_status s ON s.finding_id = f.id WHERE " FINDINGS_IN
	  " GROUP BY 1 ORDER BY 1" },

	{ "history", "Finding history",
	  "Status changes of the period's findings: who, when, why (first 500).",
	  "kaudit.finding_history",
	  "SELECT h.at, h.finding_id, f.rule, f.severity, h.status, h.actor, h.reason"
	  " FROM kaudit.findings f JOIN kaudit.finding_history h ON h.finding_id = f.id"
	  " WHERE " FINDINGS_IN " ORDER BY h.at, h.id LIMIT 500" },

	{ "delivery", "Alert delivery health",
	  "Per webhook, the deliveries of findings stored in the period.", NULL,
	  "SELECT o.webhook, count(*) AS deliveries,"
	  " count(*) FILTER (WHERE o.state = 'done') AS done,"
	  " count(*) FILTER (WHERE o.state = 'pending') AS pending,"
	  " count(*) FILTER (WHERE o.state = 'held') AS held,"
	  " count(*) FILTER (WHERE o.state = 'dead') AS dead, sum(o.attempts) AS attempts,"
	  " round(extract(epoch FROM percentile_cont(0.95) WITHIN GROUP"
	  "  (ORDER BY o.delivered_at - o.created_at))::numeric, 3) AS p95_seconds"
	  " FROM kaudit.outbox o LEFT JOIN kaudit.findings f ON f.id = o.finding_id"
	  " WHERE " IN_PERIOD("o.created_at") " AND " IN_CLUSTER("f.cluster")
	  " GROUP BY 1 ORDER BY 1" },
};

const struct db_report_section *
db_report_sections(size_t *n)
{
	*n = sizeof(sections) / sizeof(sections[0]);
	return sections;
}
