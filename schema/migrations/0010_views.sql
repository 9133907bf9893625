-- 0010_views.sql — the questions responders and auditors ask, as views:
-- RBAC changes, exec sessions, privileged workloads, secret access,
-- anonymous access, findings per day, the fleet's versions against the
-- Kubernetes release table, and the use of deprecated and removed APIs.
--
-- Every view over audit events reads kaudit.audit_events: the event archive
-- (kaudit.events) when this database has one, plus the events of findings
-- the archive does not hold (an event that fired a rule but matched no
-- archive filter). Without an archive it is the findings' events only, so
-- the views answer from what fired a rule. Which of the two is decided here,
-- when the migration runs: the archive's migration comes first where both
-- exist. The views read findings through plain SELECTs, so they work on a
-- partitioned kaudit.findings as on a plain one.
--
-- kaudit.k8s_releases holds the release table; `kaudit migrate` refreshes it
-- from the copy of config/k8s-releases.json compiled into the binary.

CREATE TABLE kaudit.k8s_releases (
	minor			text PRIMARY KEY,
	released		date,
	maintenance_mode_start	date,
	end_of_life		date,
	latest_patch		text,
	latest_patch_date	date,
	updated_at		timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE kaudit.k8s_releases IS
	'Kubernetes minor releases and their support window, from config/k8s-releases.json (refreshed by every `kaudit migrate`)';
COMMENT ON COLUMN kaudit.k8s_releases.minor IS 'Minor release, e.g. 1.30';
COMMENT ON COLUMN kaudit.k8s_releases.released IS 'Date of the x.0 release';
COMMENT ON COLUMN kaudit.k8s_releases.maintenance_mode_start IS 'End of standard support: only critical fixes from here';
COMMENT ON COLUMN kaudit.k8s_releases.end_of_life IS 'End of patch support: a version of this minor is outside the support window after this date';
COMMENT ON COLUMN kaudit.k8s_releases.latest_patch IS 'Newest patch release known, e.g. 1.30.14';
COMMENT ON COLUMN kaudit.k8s_releases.latest_patch_date IS 'When latest_patch was released';

-- Findings and archived events of one request are found through the
-- audit_id digest indexes of 0007 and 0008:
--   kaudit.text_digest(f.audit_id) = kaudit.text_digest(r.audit_id)
-- (with the plain equality too, which keeps the match exact).

-- Versions ------------------------------------------------------------------

-- "kubelet/v1.27.3 (linux/amd64) kubernetes/abc" -> kubelet; NULL when the
-- user agent does not start with product/version.
CREATE FUNCTION kaudit.ua_product(ua text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT (regexp_match(ua, '^([^/ ]{1,100})/v?[0-9]+\.[0-9]+'))[1]
$$;
COMMENT ON FUNCTION kaudit.ua_product(text) IS
	'The product of a user agent such as kubelet/v1.27.3 (linux/amd64): kubelet; NULL without a version';

-- ... -> 1.27.3 (major.minor[.patch], pre-release suffixes dropped).
CREATE FUNCTION kaudit.ua_version(ua text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT (regexp_match(ua, '^[^/ ]{1,100}/v?([0-9]{1,4}\.[0-9]{1,4}(\.[0-9]{1,6})?)'))[1]
$$;
COMMENT ON FUNCTION kaudit.ua_version(text) IS
	'The version of a user agent such as kubelet/v1.27.3 (linux/amd64): 1.27.3; NULL without one';

CREATE FUNCTION kaudit.version_minor(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT (regexp_match(v, '^([0-9]+\.[0-9]+)'))[1]
$$;
COMMENT ON FUNCTION kaudit.version_minor(text) IS '1.27.3 -> 1.27';

CREATE FUNCTION kaudit.version_patch(v text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT (regexp_match(v, '^[0-9]+\.[0-9]+\.([0-9]{1,6})'))[1]::integer
$$;
COMMENT ON FUNCTION kaudit.version_patch(text) IS '1.27.3 -> 3; NULL without a patch number';

-- Orders versions numerically: 1.9 < 1.10.
CREATE FUNCTION kaudit.version_key(v text) RETURNS integer[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT array_agg(x::integer ORDER BY n)
	FROM regexp_split_to_table(substring(v FROM '^[0-9]{1,6}(?:\.[0-9]{1,6})*'), '\.')
	    WITH ORDINALITY AS s(x, n)
	WHERE x <> ''
$$;
COMMENT ON FUNCTION kaudit.version_key(text) IS
	'A version as an integer array, for numeric ordering and comparison';

-- 0002 declared kaudit.bytes_text() parallel safe, but its exception
-- handler starts a subtransaction, which a parallel plan refuses: a query
-- of dead_letters_readable (or of anything calling it) could fail when the
-- planner chose a parallel plan.
ALTER FUNCTION kaudit.bytes_text(bytea) PARALLEL UNSAFE;

-- Decoding ------------------------------------------------------------------

-- Percent-decoding of a URL query value ("+" is a space, as Go encodes
-- exec commands). Bytes that are not UTF-8 (or hold a NUL) come out
-- escaped as encode(bytes, 'escape') does, never an error. The UTF-8 check
-- is a pattern over the hex of the bytes rather than an exception handler,
-- which would start a subtransaction and keep every query over the views
-- from a parallel plan.
CREATE FUNCTION kaudit.url_decode(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	b bytea := '';
	i integer := 1;
	n integer := length(t);
	c text;
BEGIN
	WHILE i <= n LOOP
		c := substr(t, i, 1);
		IF c = '%' AND substr(t, i + 1, 2) ~ '^[0-9A-Fa-f]{2}$' THEN
			b := b || decode(substr(t, i + 1, 2), 'hex');
			i := i + 3;
		ELSE
			b := b || convert_to(CASE WHEN c = '+' THEN ' ' ELSE c END, 'UTF8');
			i := i + 1;
		END IF;
	END LOOP;
	IF encode(b, 'hex') ~ ('^(?:0[1-9a-f]|[1-7][0-9a-f]'
	    '|(?:c[2-9a-f]|d[0-9a-f])[89ab][0-9a-f]'
	    '|e0[ab][0-9a-f][89ab][0-9a-f]'
	    '|(?:e[1-9a-c]|e[ef])[89ab][0-9a-f][89ab][0-9a-f]'
	    '|ed[89][0-9a-f][89ab][0-9a-f]'
	    '|f0(?:9[0-9a-f]|[ab][0-9a-f])[89ab][0-9a-f][89ab][0-9a-f]'
	    '|f[1-3][89ab][0-9a-f][89ab][0-9a-f][89ab][0-9a-f]'
	    '|f48[0-9a-f][89ab][0-9a-f][89ab][0-9a-f])*$') THEN
		RETURN convert_from(b, 'UTF8');
	END IF;
	RETURN encode(b, 'escape');
END
$$;
COMMENT ON FUNCTION kaudit.url_decode(text) IS
	'Percent-decodes a URL query value (+ is a space); bytes that are not UTF-8 text come out escaped';

-- The values of one query parameter of a request URI, decoded, in order.
CREATE FUNCTION kaudit.uri_params(uri text, param text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT coalesce(array_agg(kaudit.url_decode(m[1]) ORDER BY n), '{}')
	FROM regexp_matches(uri, '[?&]' || regexp_replace(param, '\W', '', 'g') || '=([^&#]*)', 'g')
	    WITH ORDINALITY AS s(m, n)
$$;
COMMENT ON FUNCTION kaudit.uri_params(text, text) IS
	'The decoded values of a query parameter in a request URI, e.g. every command= of an exec';

-- The pod spec inside a workload object of any kind kaudit knows.
CREATE FUNCTION kaudit.pod_spec(resource text, obj jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
	    WHEN resource = 'pods' THEN obj->'spec'
	    WHEN resource = 'cronjobs' THEN obj#>'{spec,jobTemplate,spec,template,spec}'
	    WHEN resource IN ('deployments', 'daemonsets', 'statefulsets', 'replicasets',
		'replicationcontrollers', 'jobs', 'podtemplates')
		THEN coalesce(obj#>'{spec,template,spec}', obj#>'{template,spec}')
	    END
$$;
COMMENT ON FUNCTION kaudit.pod_spec(text, jsonb) IS
	'The pod spec of a pod, pod template or workload object (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob)';

-- Every container of a pod spec, init and ephemeral ones included.
CREATE FUNCTION kaudit.pod_containers(spec jsonb) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT c FROM jsonb_array_elements(CASE WHEN jsonb_typeof(spec->'containers') = 'array'
	    THEN spec->'containers' ELSE '[]' END) c
	UNION ALL
	SELECT c FROM jsonb_array_elements(CASE WHEN jsonb_typeof(spec->'initContainers') = 'array'
	    THEN spec->'initContainers' ELSE '[]' END) c
	UNION ALL
	SELECT c FROM jsonb_array_elements(CASE WHEN jsonb_typeof(spec->'ephemeralContainers') = 'array'
	    THEN spec->'ephemeralContainers' ELSE '[]' END) c
$$;
COMMENT ON FUNCTION kaudit.pod_containers(jsonb) IS
	'The containers, init containers and ephemeral containers of a pod spec';

-- The events the views read --------------------------------------------------

CREATE FUNCTION kaudit.stage_rank(stage text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE stage WHEN 'ResponseComplete' THEN 0 WHEN 'ResponseStarted' THEN 1
	    WHEN 'Panic' THEN 2 WHEN 'RequestReceived' THEN 3 ELSE 4 END
$$;
COMMENT ON FUNCTION kaudit.stage_rank(text) IS
	'Which stage of a request tells most about it (ResponseComplete first): views that show one row per request keep the lowest';

-- The event of a finding stands for its (audit_id, stage) when no finding
-- with a smaller id has the same one, and for its request when none has a
-- more complete stage (or the same with a smaller id). Written as NOT
-- EXISTS on the audit_id digest index rather than DISTINCT ON, so that a
-- view's filters (user, resource, time) reach the scan of kaudit.findings.
DO $$
DECLARE
	cols constant text := $q$
	    f."time", f.audit_id, f.stage, f.verb, f.username, f.groups,
	    coalesce(host(f.source_ip), f.source_ip_text) AS source_ip,
	    f.user_agent, f.event#>>'{objectRef,apiGroup}' AS api_group,
	    f.event#>>'{objectRef,apiVersion}' AS api_version,
	    f.resource, f.subresource, f.namespace, f.name, f.code,
	    f.event#>>'{annotations,authorization.k8s.io/decision}' AS decision,
	    f.cluster, f.event->>'requestURI' AS request_uri,
	    f.event->'annotations' AS annotations, f.event,
	    'finding'::text AS origin
	$q$;
	same_request constant text := $q$
	    SELECT 1 FROM kaudit.findings g
	    WHERE kaudit.text_digest(g.audit_id) = kaudit.text_digest(f.audit_id)
		AND g.audit_id = f.audit_id AND g.event IS NOT NULL
	$q$;
	per_stage constant text := 'SELECT ' || cols || $q$
	    FROM kaudit.findings f
	    WHERE f.event IS NOT NULL AND NOT EXISTS ($q$ || same_request || $q$
		AND g.stage IS NOT DISTINCT FROM f.stage AND g.id < f.id)
	$q$;
	per_request constant text := 'SELECT ' || cols || $q$
	    FROM kaudit.findings f
	    WHERE f.event IS NOT NULL AND NOT EXISTS ($q$ || same_request || $q$
		AND (kaudit.stage_rank(g.stage), g.id) < (kaudit.stage_rank(f.stage), f.id))
	$q$;
BEGIN
	IF to_regclass('kaudit.events') IS NULL THEN
		EXECUTE 'CREATE VIEW kaudit.audit_events AS ' || per_stage;
		EXECUTE 'CREATE VIEW kaudit.audit_requests AS ' || per_request;
	ELSE
		EXECUTE $q$
		CREATE VIEW kaudit.audit_events AS
		SELECT e."time", e.audit_id, e.stage, e.verb, e.username, e.groups,
		    host(e.source_ip) AS source_ip, e.user_agent,
		    e.event#>>'{objectRef,apiGroup}' AS api_group,
		    e.event#>>'{objectRef,apiVersion}' AS api_version,
		    e.resource, e.subresource, e.namespace, e.name, e.code,
		    e.decision, e.cluster, e.event->>'requestURI' AS request_uri,
		    e.annotations, e.event, 'archive'::text AS origin
		FROM kaudit.events e
		UNION ALL
		SELECT * FROM ($q$ || per_stage || $q$) f
		WHERE NOT EXISTS (SELECT 1 FROM kaudit.events e
		    WHERE kaudit.text_digest(e.audit_id) = kaudit.text_digest(f.audit_id)
			AND e.audit_id = f.audit_id AND e.stage IS NOT DISTINCT FROM f.stage)
		$q$;
		-- A request the archive holds is its most complete archived
		-- stage; one it does not is read from its findings. Two
		-- branches, each probing one table's audit_id index, so that a
		-- view's filters reach both scans.
		EXECUTE $q$
		CREATE VIEW kaudit.audit_requests AS
		SELECT a.* FROM kaudit.audit_events a
		WHERE a.origin = 'archive' AND NOT EXISTS (SELECT 1 FROM kaudit.events b
		    WHERE kaudit.text_digest(b.audit_id) = kaudit.text_digest(a.audit_id)
			AND b.audit_id = a.audit_id
			AND kaudit.stage_rank(b.stage) < kaudit.stage_rank(a.stage))
		UNION ALL
		SELECT * FROM ($q$ || per_request || $q$) f
		WHERE NOT EXISTS (SELECT 1 FROM kaudit.events e
		    WHERE kaudit.text_digest(e.audit_id) = kaudit.text_digest(f.audit_id)
			AND e.audit_id = f.audit_id)
		$q$;
	END IF;
END
$$;
COMMENT ON VIEW kaudit.audit_events IS
	'The audit events kaudit kept: the event archive (kaudit.events) when this database had one when 0010 ran, plus the events of findings it does not hold; one row per (audit_id, stage). origin says which';
COMMENT ON VIEW kaudit.audit_requests IS
	'kaudit.audit_events with one row per request (auditID): its ResponseComplete stage when kept, else the most complete one';

-- RBAC ----------------------------------------------------------------------

CREATE VIEW kaudit.rbac_changes AS
	SELECT r."time", r.cluster, r.username, r.groups, r.source_ip, r.user_agent,
	    r.verb, r.resource, r.namespace,
	    coalesce(r.name, r.event#>>'{requestObject,metadata,name}',
		r.event#>>'{responseObject,metadata,name}') AS name,
	    r.code, coalesce(r.event->'requestObject', r.event->'responseObject') AS object,
	    coalesce(r.event#>'{requestObject,rules}', r.event#>'{responseObject,rules}') AS rules,
	    coalesce(r.event#>'{requestObject,subjects}', r.event#>'{responseObject,subjects}') AS subjects,
	    coalesce(r.event#>>'{requestObject,roleRef,kind}', r.event#>>'{responseObject,roleRef,kind}') AS role_kind,
	    coalesce(r.event#>>'{requestObject,roleRef,name}', r.event#>>'{responseObject,roleRef,name}') AS role_name,
	    r.audit_id
	FROM kaudit.audit_requests r
	WHERE r.resource IN ('roles', 'clusterroles', 'rolebindings', 'clusterrolebindings')
	    AND coalesce(r.api_group, 'rbac.authorization.k8s.io') = 'rbac.authorization.k8s.io'
	    AND r.verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
	    AND r.subresource IS NULL
	    AND (r.code IS NULL OR r.code < 400);
COMMENT ON VIEW kaudit.rbac_changes IS
	'Accepted writes to Roles, ClusterRoles and their bindings: who, when, the resulting rules (roles) or subjects and role (bindings) as the request gave them';

-- Exec ----------------------------------------------------------------------

CREATE VIEW kaudit.exec_sessions AS
	SELECT r."time", r.cluster, r.username, r.groups, r.source_ip, r.user_agent,
	    r.namespace, r.name AS pod, r.subresource,
	    (kaudit.uri_params(r.request_uri, 'container'))[1] AS container,
	    array_to_string(kaudit.uri_params(r.request_uri, 'command'), ' ') AS command,
	    kaudit.uri_params(r.request_uri, 'command') AS command_args,
	    r.code, r.decision, r.audit_id
	FROM kaudit.audit_requests r
	WHERE r.resource = 'pods' AND r.subresource IN ('exec', 'attach');
COMMENT ON VIEW kaudit.exec_sessions IS
	'exec and attach requests to pods, one per request, with the container and the command decoded from the request URI (command_args keeps the arguments apart)';

-- Workloads -----------------------------------------------------------------

CREATE VIEW kaudit.privileged_workloads AS
	SELECT w."time", w.cluster, w.username,
	    (SELECT max(f.attributed_user) FROM kaudit.findings f
	     WHERE kaudit.text_digest(f.audit_id) = kaudit.text_digest(w.audit_id)
		AND f.audit_id = w.audit_id
		AND f.attributed_user IS NOT NULL) AS attributed_user,
	    w.verb, w.resource, w.namespace, w.name,
	    EXISTS (SELECT 1 FROM kaudit.pod_containers(w.spec) c
		WHERE c#>>'{securityContext,privileged}' = 'true') AS privileged,
	    coalesce(w.spec->>'hostPID' = 'true', false) AS host_pid,
	    coalesce(w.spec->>'hostNetwork' = 'true', false) AS host_network,
	    coalesce(w.spec->>'hostIPC' = 'true', false) AS host_ipc,
	    (SELECT array_agg(v#>>'{hostPath,path}') FROM jsonb_array_elements(
		CASE WHEN jsonb_typeof(w.spec->'volumes') = 'array' THEN w.spec->'volumes' ELSE '[]' END) v
	     WHERE v ? 'hostPath') AS host_paths,
	    w.code, w.audit_id
	FROM (SELECT r.*, coalesce(r.event#>>'{requestObject,metadata,name}',
		    r.event#>>'{responseObject,metadata,name}', r.name) AS oname,
		kaudit.pod_spec(r.resource, coalesce(r.event->'requestObject', r.event->'responseObject')) AS spec
	    FROM kaudit.audit_requests r
	    WHERE r.verb IN ('create', 'update', 'patch') AND r.subresource IS NULL
		AND (r.code IS NULL OR r.code < 400)
		AND r.resource IN ('pods', 'deployments', 'daemonsets', 'statefulsets',
		    'replicasets', 'replicationcontrollers', 'jobs', 'cronjobs')) w
	WHERE jsonb_typeof(w.spec) = 'object'
	    AND (w.spec->>'hostPID' = 'true' OR w.spec->>'hostNetwork' = 'true'
		OR w.spec->>'hostIPC' = 'true'
		OR jsonb_path_exists(w.spec, '$.volumes[*].hostPath')
		OR EXISTS (SELECT 1 FROM kaudit.pod_containers(w.spec) c
		    WHERE c#>>'{securityContext,privileged}' = 'true'));
COMMENT ON VIEW kaudit.privileged_workloads IS
	'Workloads accepted with a privileged container, the host''s PID, network or IPC namespace, or a hostPath volume; attributed_user is the person an attribution rule found behind a controller';

-- Secrets -------------------------------------------------------------------

CREATE VIEW kaudit.secret_access AS
	SELECT r."time", r.cluster, r.username, r.groups, r.source_ip, r.user_agent,
	    r.verb, r.namespace, r.name, r.code, r.decision, r.audit_id
	FROM kaudit.audit_requests r
	WHERE r.resource = 'secrets' AND coalesce(r.api_group, '') = ''
	    AND r.verb IN ('get', 'list', 'watch') AND r.subresource IS NULL;
COMMENT ON VIEW kaudit.secret_access IS
	'Reads of Secrets (get, list, watch), one per request, allowed or not (code)';

CREATE VIEW kaudit.secret_access_by_identity AS
	SELECT cluster, username, count(*) AS requests,
	    count(*) FILTER (WHERE code IS NULL OR code < 400) AS allowed,
	    count(*) FILTER (WHERE code >= 400) AS denied,
	    count(DISTINCT namespace || '/' || coalesce(name, '*')) AS secrets,
	    count(*) FILTER (WHERE verb IN ('list', 'watch')) AS lists,
	    min("time") AS first_seen, max("time") AS last_seen
	FROM kaudit.secret_access
	GROUP BY cluster, username;
COMMENT ON VIEW kaudit.secret_access_by_identity IS
	'Per identity: Secret reads (allowed, denied, lists and watches), distinct Secrets named, first and last time';

-- Anonymous -----------------------------------------------------------------

CREATE VIEW kaudit.anonymous_access AS
	SELECT r."time", r.cluster, r.username, r.source_ip, r.user_agent, r.verb,
	    r.resource, r.namespace, r.name, r.request_uri, r.code, r.decision, r.audit_id
	FROM kaudit.audit_requests r
	WHERE r.username = 'system:anonymous'
	    OR 'system:unauthenticated' = ANY (r.groups);
COMMENT ON VIEW kaudit.anonymous_access IS
	'Requests of unauthenticated clients (system:anonymous), one per request, with the answer they got';

-- Findings ------------------------------------------------------------------

CREATE VIEW kaudit.findings_daily AS
	SELECT date_trunc('day', coalesce("time", created_at)) AS day,
	    severity, severity_rank, coalesce(category, '') AS category,
	    count(*) AS findings, count(DISTINCT rule) AS rules,
	    count(DISTINCT username) AS users
	FROM kaudit.findings
	GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW kaudit.findings_daily IS
	'Findings per day (event time, else when stored), severity and category';

-- Fleet ---------------------------------------------------------------------

-- Client versions per identity and day, from the user agents of requests.
CREATE VIEW kaudit.client_versions AS
	SELECT date_trunc('day', r."time") AS day, r.cluster, r.username,
	    u.m[1] AS client, u.m[2] AS version, kaudit.version_minor(u.m[2]) AS minor,
	    count(*) AS requests, min(r."time") AS first_seen, max(r."time") AS last_seen
	FROM kaudit.audit_requests r
	-- one match per row (OFFSET 0 keeps the planner from repeating it)
	CROSS JOIN LATERAL (SELECT regexp_match(r.user_agent,
	    '^([^/ ]{1,100})/v?([0-9]{1,4}\.[0-9]{1,4}(?:\.[0-9]{1,6})?)') AS m OFFSET 0) u
	WHERE u.m IS NOT NULL
	GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW kaudit.client_versions IS
	'Per day, identity and client (user agent product): its version and the requests made with it';

CREATE VIEW kaudit.kubelet_versions AS
	SELECT day, cluster, substr(username, 13) AS node, version, minor,
	    requests, first_seen, last_seen
	FROM kaudit.client_versions
	WHERE username LIKE 'system:node:%' AND client = 'kubelet';
COMMENT ON VIEW kaudit.kubelet_versions IS
	'Kubelet version per node and day, as the node''s requests (user system:node:NAME) show it: the rollout of a patch over time';

-- The last version each (identity, client) was seen with, against the
-- release table.
CREATE VIEW kaudit.client_support AS
	SELECT DISTINCT ON (v.cluster, v.username, v.client)
	    v.cluster, v.username, v.client, v.version, v.minor, v.last_seen,
	    rel.latest_patch, rel.end_of_life,
	    CASE WHEN rel.minor IS NULL THEN 'unknown'
		WHEN rel.end_of_life < current_date THEN 'outside'
		ELSE 'supported' END AS support,
	    (rel.latest_patch IS NOT NULL AND kaudit.version_patch(v.version) IS NOT NULL
		AND kaudit.version_patch(v.version) < kaudit.version_patch(rel.latest_patch)) AS behind_patch
	FROM kaudit.client_versions v
	LEFT JOIN kaudit.k8s_releases rel ON rel.minor = v.minor
	WHERE v.client IN ('kubelet', 'kubectl', 'kube-proxy', 'kubeadm')
	ORDER BY v.cluster, v.username, v.client, v.last_seen DESC;
COMMENT ON VIEW kaudit.client_support IS
	'Per identity and Kubernetes client (kubelet, kubectl, kube-proxy, kubeadm): the version last seen, its minor''s end of life, whether that has passed (support: supported, outside, unknown) and whether a newer patch exists';

CREATE VIEW kaudit.versions_outside_support AS
	SELECT cluster, username,
	    CASE WHEN username LIKE 'system:node:%' THEN substr(username, 13) END AS node,
	    client, version, minor, end_of_life, last_seen
	FROM kaudit.client_support
	WHERE support = 'outside';
COMMENT ON VIEW kaudit.versions_outside_support IS
	'Nodes (kubelets) and clients whose last seen version is of a minor past its end of life';

-- Deprecated and removed APIs ------------------------------------------------

CREATE VIEW kaudit.deprecated_api_use AS
	SELECT date_trunc('day', r."time") AS day, r.cluster, r.username,
	    r.user_agent,
	    concat_ws('/', nullif(r.api_group, ''), r.api_version, r.resource) AS api,
	    r.annotations->>'k8s.io/removed-release' AS removed_release,
	    count(*) AS requests, min(r."time") AS first_seen, max(r."time") AS last_seen
	FROM kaudit.audit_requests r
	WHERE r.annotations->>'k8s.io/deprecated' = 'true'
	    OR r.annotations ? 'k8s.io/removed-release'
	GROUP BY 1, 2, 3, 4, 5, 6;
COMMENT ON VIEW kaudit.deprecated_api_use IS
	'Requests the API server marked deprecated (audit annotations k8s.io/deprecated, k8s.io/removed-release): per day, identity and client, the API (group/version/resource) and the release that removes it';
