-- title: Who exec'd or attached into a pod, and what they ran
-- param: namespace text required  the pod's namespace
-- param: pod text                 the pod's name (default: every pod of the namespace)
-- param: from timestamptz         start (default: the beginning)
-- param: to timestamptz           end (default: now)
SELECT "time", username, source_ip, user_agent, pod, container, subresource,
    command, code, audit_id
FROM kaudit.exec_sessions
WHERE namespace = $1::text
    AND ($2::text IS NULL OR pod = $2::text)
    AND ($3::timestamptz IS NULL OR "time" >= $3::timestamptz)
    AND "time" <= coalesce($4::timestamptz, now())
ORDER BY "time", audit_id
