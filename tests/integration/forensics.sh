#!/usr/bin/env bash
# forensics.sh — the views, the query cookbook, the auditor's report and the
# Grafana dashboard over a database loaded the way production loads it:
# corpus events and tests/fixtures/forensics/events.jsonl (a person with a
# hostile name granting cluster-admin, exec'ing, reading secrets, creating a
# privileged pod; kubelets out of support; an old kubectl calling a removed
# API) through Kafka and the daemon.
#
# Every check compares with SQL over kaudit.findings or with what the
# fixture holds, so each can fail.
IT_NAME=forensics
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-forensics-$$
fixture=tests/fixtures/forensics/events.jsonl
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
ocp=$IT_CORPUS/openshift-cluster-logging-operator
panther=$IT_CORPUS/panther-labs-panther-analysis
line_files=("$fixture" "$ocp/test/functional/filters/apiaudit/vrl/testdata/audit_in.log"
	"$panther/panther_k8s_audit_native.jsonl")
falco_files=()
for f in "$falco"/*.json; do
	[ "$(basename "$f")" = fal_01_003.json ] || falco_files+=("$f")
done

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-forensics-$$"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 2 || it_abort produce "could not create topic $topic"
for f in "${line_files[@]}"; do
	it_produce_lines "$topic" "$f" || it_abort produce "kcat failed on $f"
done
it_produce_files "$topic" -- "${falco_files[@]}" || it_abort produce "kcat failed on Falco files"
it_run_idle daemon-exit "$cfg" "$IT_DIR/daemon.log" 120 5 || it_abort daemon "no data"
it_log "$(it_sql "select count(*) from kaudit.findings") findings stored"

# ---- views ----------------------------------------------------------------

export H='<img src=https://evil.example/x onerror=alert(1)>|`#=cmd'

# it_expect CHECK SQL WANT: one value compared.
it_expect() {
	local got
	got=$(it_sql "$2" 2>&1)
	if [ "$got" = "$3" ]; then it_ok "$1"; else it_fail "$1" "got [$got], want [$3] from: $2"; fi
}

it_expect release-table "select count(*) > 10, bool_or(minor = '1.37') from kaudit.k8s_releases" $'t\tt'
it_expect view-rbac-cluster-admin \
    "select username, role_name, jsonb_array_length(subjects) from kaudit.rbac_changes where audit_id = 'fx-crb-1'" \
    "$H"$'\tcluster-admin\t2'
it_expect view-rbac-role-rules \
    "select string_agg(jsonb_array_length(rules)::text, ',' order by time) from kaudit.rbac_changes where namespace = 'team-a' and name = 'pod-reader'" "1,2"
it_expect view-exec-command \
    "select count(*), min(command), min(container), min(username) from kaudit.exec_sessions where audit_id = 'fx-exec-1'" \
    $'1\tsh -c cat /etc/shadow|base64\tapp\t'"$H"
it_expect view-exec-args "select command_args[3] from kaudit.exec_sessions where audit_id = 'fx-exec-1'" 'cat /etc/shadow|base64'
it_expect view-privileged \
    "select privileged, host_pid, host_network, host_paths::text from kaudit.privileged_workloads where audit_id = 'fx-pod-1'" \
    $'t\tt\tf\t{/}'
it_expect view-secret-by-identity \
    "select requests, allowed, denied, lists from kaudit.secret_access_by_identity where username = '${H//\'/\'\'}'" \
    $'2\t1\t1\t1'
it_expect view-anonymous "select count(*) filter (where audit_id = 'fx-anon-1'), count(*) filter (where audit_id = 'fx-sec-2') from kaudit.anonymous_access" $'1\t0'
it_expect view-findings-daily \
    "select (select sum(findings) from kaudit.findings_daily) = (select count(*) from kaudit.findings)" t
it_expect view-kubelet-versions \
    "select string_agg(node || '=' || version, ',' order by node) from kaudit.kubelet_versions where node in ('node-1', 'node-2')" \
    "node-1=1.20.4,node-2=1.36.1"
it_expect view-client-support \
    "select string_agg(username || ':' || support || ':' || behind_patch::int, ',' order by username) from kaudit.client_support where username in ('system:node:node-1', 'system:node:node-2', 'bob')" \
    "bob:outside:1,system:node:node-1:outside:1,system:node:node-2:supported:1"
it_expect view-outside-support \
    "select count(*) filter (where node = 'node-1'), count(*) filter (where node = 'node-2') from kaudit.versions_outside_support" $'1\t0'
it_expect view-deprecated \
    "select username, api, removed_release, requests from kaudit.deprecated_api_use where username = 'bob'" \
    $'bob\tbatch/v1beta1/cronjobs\t1.25\t1'
it_expect url-decode \
    "select concat_ws('|', kaudit.url_decode('cat+%2Fetc%2Fshadow'), kaudit.url_decode('caf%C3%A9'),
        kaudit.url_decode('a%FFb'), kaudit.url_decode('a%00b'), kaudit.url_decode('%ED%A0%80'),
        kaudit.url_decode('100%'))" \
    'cat /etc/shadow|café|a\377b|a\000b|\355\240\200|100%'
it_expect view-one-row-per-request \
    "select count(*) = count(distinct audit_id) from kaudit.audit_requests" t

# With the event archive (kaudit.events), the views read it too: both
# stages of one exec that only the archive holds are one session.
if [ "$(it_sql "select to_regclass('kaudit.events') is not null")" = t ]; then
	it_sql "insert into kaudit.events (time, audit_id, stage, verb, username, source_ip, resource,
	    subresource, namespace, name, code, event) select '2026-10-01T00:00:00Z', 'ar-1', s, 'create',
	    'carol', '10.9.8.7', 'pods', 'exec', 'ns', 'p', 101,
	    '{\"requestURI\": \"/api/v1/namespaces/ns/pods/p/exec?command=id&command=-u\"}'
	    from unnest(array['ResponseStarted', 'ResponseComplete']) s" >/dev/null
	got=$(it_sql "select (select count(*) from kaudit.audit_events where audit_id = 'ar-1'), r.origin,
	    e.command, e.source_ip from kaudit.exec_sessions e join kaudit.audit_requests r using (audit_id)
	    where audit_id = 'ar-1'")
	if [ "$got" = $'2\tarchive\tid -u\t10.9.8.7' ]; then it_ok view-archive; else it_fail view-archive "got [$got]"; fi
	# every finding's event is archived (0012): the views find each one
	# there, none from the finding rows, whose event column is empty
	it_expect view-findings-events-archived \
	    "select count(*) filter (where not exists (select 1 from kaudit.audit_events a
	        where a.audit_id = f.audit_id and a.origin = 'archive')), count(event)
	     from kaudit.findings f where dedup is null" $'0\t0'
	# a finding stored before 0012 holds its event, which the views read
	it_sql "insert into kaudit.findings (audit_id, rule, severity, severity_rank, stage, time,
	    verb, finding, event) values ('pre-12', 'k8s.old', 'low', 1, 'ResponseComplete', now(), 'get', '{}',
	    '{\"auditID\": \"pre-12\", \"stage\": \"ResponseComplete\", \"verb\": \"get\"}')" >/dev/null
	it_expect view-archive-and-findings \
	    "select count(*) filter (where origin = 'archive') > 0, string_agg(audit_id || ' ' || (event->>'verb'), ',') filter (where origin = 'finding') from kaudit.audit_events" \
	    $'t\tpre-12 get'
	it_sql "delete from kaudit.findings where audit_id = 'pre-12'" >/dev/null
else
	it_fail view-archive "this schema has no kaudit.events"
fi

# ---- the query cookbook: each query once, its answer checked ---------------

# it_query CHECK JQ_FILTER WANT NAME [--param K=V]...: the query's JSON
# output through jq -r FILTER must equal WANT.
it_query() {
	local check=$1 filter=$2 want=$3 got
	shift 3
	if ! "$KAUDIT" query -c "$cfg" "$@" --format json >"$IT_DIR/q.json" 2>"$IT_DIR/q.err"; then
		it_fail "$check" "kaudit query $* failed: $(head -c 300 "$IT_DIR/q.err")"
		return
	fi
	got=$(jq -r "$filter" "$IT_DIR/q.json" 2>&1)
	if [ "$got" = "$want" ]; then it_ok "$check"; else it_fail "$check" "got [$got], want [$want]"; fi
}

it_query query-identity-activity '[.[].audit_id] | join(",")' \
    "fx-crb-1,fx-exec-1,fx-sec-2,fx-sec-3,fx-pod-1" \
    identity-activity --param "user=$H" --param from=2026-11-01 --param to=2026-11-30
# (rules that remember land on whichever event came first: the four
# exec rules of one event are certain)
it_query query-identity-activity-rules \
    '.[] | select(.audit_id == "fx-exec-1") | ["k8s.exec.credential_read", "k8s.exec.pod", "k8s.exec.session", "k8s.exec.shell"] - (.rules | split(" ")) | length' \
    0 \
    identity-activity --param "user=$H" --param from=2026-11-01 --param to=2026-11-30
it_query query-identity-activity-range 'length' 0 \
    identity-activity --param "user=$H" --param from=2026-11-04 --param to=2026-11-30
it_query query-pod-exec '.[] | [.username == $ENV.H, .command, .container] | @tsv' \
    $'true\tsh -c cat /etc/shadow|base64\tapp' pod-exec --param namespace=team-a --param pod=web-1
it_query query-rbac-history '[.[] | [.verb, (.rules_added | length), (.rules_added[0].resources[0])] | @tsv] | join(";")' \
    $'create\t1\tpods;update\t1\tsecrets' rbac-history --param name=pod-reader --param namespace=team-a
it_query query-cluster-admin '[.[] | select(.binding == "backdoor") | .subject_kind + ":" + .subject] | join(",")' \
    "ServiceAccount:default,User:mallory" cluster-admin-grants --param from=2026-01-01
it_query query-cluster-admin-range 'length' 0 cluster-admin-grants --param from=2026-11-04
it_query query-secrets-by-identity '[.[] | select(.username | test("^(<img|alice$|system:anonymous$)")) | [.username, .requests, .allowed, .denied, .lists] | @tsv] | join(";")' \
    "$H"$'\t2\t1\t1\t1;alice\t1\t1\t0\t0;system:anonymous\t1\t0\t1\t0' \
    secrets-by-identity --param from=2026-11-01 --param to=2026-11-30
it_query query-outside-support '[.[] | select(.username | test("^(bob|system:node:node-[12])$")) | .kind + ":" + .username] | join(",")' \
    "node:system:node:node-1,client:bob" outside-support --param at=2026-12-01
it_query query-outside-support-at 'map(select(.username == "bob")) | length' 0 \
    outside-support --param at=2023-01-01
fid=$(it_sql "select id from kaudit.findings where audit_id = 'fx-exec-1' and rule = 'k8s.exec.shell'")
it_query query-finding-timeline '[.[] | select(.kind == "request") | .audit_id] | unique | join(",")' \
    "fx-crb-1,fx-exec-1,fx-pod-1,fx-sec-2,fx-sec-3" finding-timeline --param "id=$fid" --param minutes=10
it_query query-finding-timeline-self '[.[] | select(.why == "this finding") | .what] | join(",")' \
    "k8s.exec.shell" finding-timeline --param "id=$fid" --param minutes=10

# The table and CSV forms of the same answer: escaped, formulas inert.
"$KAUDIT" query -c "$cfg" secrets-by-identity --param from=2026-11-01 --param to=2026-11-30 \
    --format csv >"$IT_DIR/q.csv"
if head -n 1 "$IT_DIR/q.csv" | grep -q $'^username,requests,allowed,denied,lists,secrets,namespaces,first_seen,last_seen\r$' &&
    [ "$(wc -l <"$IT_DIR/q.csv")" -eq 5 ] && grep -q "^'=cmd|' /C calc'!A0,1," "$IT_DIR/q.csv"; then
	it_ok query-csv
else
	it_fail query-csv "unexpected CSV: $(head -c 300 "$IT_DIR/q.csv")"
fi

# ---- the report -------------------------------------------------------------

from=2026-11-01T00:00:00Z
to=2026-12-01T00:00:00Z
period="coalesce(time, created_at) >= '$from' and coalesce(time, created_at) < '$to'"
html=$IT_DIR/report.html
if "$KAUDIT" report -c "$cfg" --from "$from" --to "$to" --format html -o "$html" 2>"$IT_DIR/report.err" &&
    "$KAUDIT" report -c "$cfg" --from 2026-11-01 --to "$to" --format md -o "$IT_DIR/report.md" 2>>"$IT_DIR/report.err" &&
    "$KAUDIT" report -c "$cfg" --from "$from" --to "$to" --format csv -o "$IT_DIR/csv" 2>>"$IT_DIR/report.err"; then
	it_ok report-written
else
	it_abort report-written "kaudit report failed: $(head -c 400 "$IT_DIR/report.err")"
fi
grep -q "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">" "$html" &&
    ! grep -qiE '<(script|img|link|iframe|object|embed|base)[ >]|(src|href|action)="[^#]' "$html" &&
    it_ok report-html-self-contained || it_fail report-html-self-contained "no CSP, or a script, image, link or URL attribute"
# The lifecycle sections: shown with the lifecycle tables, else said missing.
for rel in finding_status finding_history; do
	title=$([ "$rel" = finding_status ] && echo "Finding status" || echo "Finding history")
	if [ "$(it_sql "select to_regclass('kaudit.$rel') is not null")" = t ]; then
		grep -q "<caption>$title</caption>" "$html" && it_ok "report-$rel" ||
		    it_fail "report-$rel" "no $title table though kaudit.$rel exists"
	else
		grep -q "Not available: this database has no kaudit.$rel" "$html" && it_ok "report-$rel" ||
		    it_fail "report-$rel" "no note that kaudit.$rel is missing"
	fi
done

# Markdown: the same hostile name, its table syntax escaped.
md_user='\<img src=https://evil.example/x onerror=alert\(1\)\>\|\`\#=cmd'
if grep -qF "| $md_user | team-a | web-1 | app | exec | sh -c cat /etc/shadow\|base64 | 101 |" "$IT_DIR/report.md"; then
	it_ok report-md-escaped
else
	it_fail report-md-escaped "exec row not found escaped in report.md"
fi
# CSV: one file per section (the lifecycle ones need tables this database
# may lack), formulas neutralised.
n=$(find "$IT_DIR/csv" -name '*.csv' | wc -l)
if [ "$n" -ge 13 ] && grep -q "^'=cmd|' /C calc'!A0,1,1,0,0,1," "$IT_DIR/csv/08-secrets.csv"; then
	it_ok report-csv
else
	it_fail report-csv "$n files; secrets: $(head -c 300 "$IT_DIR/csv/08-secrets.csv" 2>&1)"
fi

# Headless Chromium renders the HTML: no console message, no request, the
# hostile name shown as text, charts with bars, numbers equal to SQL's.
chromium_run() {	# HTML OUT_PREFIX [extra args]: DOM, net log and log
	local in=$1 out=$2
	shift 2
	rm -rf "$IT_DIR/chromium-profile"
	timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
	    --disable-background-networking --disable-component-update --disable-sync \
	    --disable-default-apps --disable-domain-reliability --no-pings \
	    --host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir="$IT_DIR/chromium-profile" \
	    --enable-logging=stderr --v=0 --log-net-log="$out.net.json" "$@" "file://$in" \
	    >"$out.dom" 2>"$out.log"
}
# report_check VALUE KEY FILE: the value report_check.py printed for KEY.
report_value() {
	awk -v k="$1" '$1 == k { print $2; exit }' "$2"
}
if ! command -v chromium >/dev/null; then
	it_fail chromium "chromium is not installed (tests/services/deps.sh lists it)"
else
	# The checker must see what it is there to see: a page with an
	# unescaped <img> and a script fails it.
	printf '<!DOCTYPE html><html><head></head><body><img src="https://evil.example/x"><script>console.error("x")</script></body></html>' \
	    >"$IT_DIR/bad.html"
	chromium_run "$IT_DIR/bad.html" "$IT_DIR/bad" --dump-dom
	python3 tests/integration/lib/report_check.py "$IT_DIR/bad.dom" "$IT_DIR/bad.net.json" \
	    "$IT_DIR/bad.log" >"$IT_DIR/bad.check"
	if [ "$(report_value requests "$IT_DIR/bad.check")" -ge 1 ] &&
	    [ "$(report_value console "$IT_DIR/bad.check")" -ge 1 ] &&
	    [ "$(report_value elements.img "$IT_DIR/bad.check")" = 1 ]; then
		it_ok chromium-check-can-fail
	else
		it_fail chromium-check-can-fail "a page with an image and a script passed: $(tr '\n' ' ' <"$IT_DIR/bad.check")"
	fi

	chromium_run "$html" "$IT_DIR/report" --dump-dom
	python3 tests/integration/lib/report_check.py "$IT_DIR/report.dom" "$IT_DIR/report.net.json" \
	    "$IT_DIR/report.log" >"$IT_DIR/report.check"
	c=$IT_DIR/report.check
	if [ "$(report_value console "$c")" = 0 ] && [ "$(report_value requests "$c")" = 0 ]; then
		it_ok report-no-console-no-request
	else
		it_fail report-no-console-no-request "$(grep -E '^(console|request)' "$c" | tr '\n' ' ')"
	fi
	active=$(grep '^elements\.' "$c" | awk '{ s += $2 } END { print s + 0 }')
	if [ "$active" = 0 ] && [ "$(report_value text.hostile "$c")" -ge 3 ]; then
		it_ok report-hostile-name-is-text
	else
		it_fail report-hostile-name-is-text "$active active elements, hostile name shown $(report_value text.hostile "$c") times"
	fi
	total=$(it_sql "select count(*) from kaudit.findings where $period")
	for chart in chart-by-day chart-by-category; do
		bars=$(report_value "bars.$chart" "$c")
		sum=$(report_value "sum.$chart" "$c")
		if [ "${bars:-0}" -gt 0 ] && [ "$sum" = "$total" ]; then
			it_ok "report-$chart"
		else
			it_fail "report-$chart" "${bars:-0} bars summing to ${sum:-0}, SQL says $total findings"
		fi
	done
	# Each summary number against SQL of its own. The requests of this
	# database are those of findings and of the archive: a rule with
	# `suppress` keeps one finding per key and day, and which request holds
	# it follows the order the partitions were read in, while the archive
	# keeps every request a rule matched. So request counts read both.
	# (one line: each line of the heredoc below is one key and its SQL)
	reqs="(select audit_id, resource, subresource, verb, code, username, event, coalesce(time, created_at) as time from kaudit.findings union all select audit_id, resource, subresource, verb, code, username, event, time from kaudit.events) q"
	rperiod="q.time >= '$from' and q.time < '$to'"
	while read -r key sql; do
		want=$(it_sql "$sql")
		got=$(report_value "summary.$key" "$c")
		if [ -n "$want" ] && [ "$got" = "$want" ]; then
			it_ok "report-summary-$key"
		else
			it_fail "report-summary-$key" "report says [$got], SQL [$want]"
		fi
	done <<SQL
findings select count(*) from kaudit.findings where $period
critical select count(*) from kaudit.findings where $period and severity = 'critical'
high select count(*) from kaudit.findings where $period and severity = 'high'
info select count(*) from kaudit.findings where $period and severity = 'info'
rules select count(distinct rule) from kaudit.findings where $period
exec select count(distinct audit_id) from $reqs where $rperiod and resource = 'pods' and subresource in ('exec', 'attach')
rbac select count(distinct audit_id) from $reqs where $rperiod and resource like '%role%' and verb in ('create', 'update', 'patch', 'delete') and coalesce(code, 0) < 400
secrets select count(distinct audit_id) from $reqs where $rperiod and resource = 'secrets' and verb in ('get', 'list', 'watch')
anonymous select count(distinct audit_id) from $reqs where $rperiod and username = 'system:anonymous'
privileged select count(distinct audit_id) from $reqs where $rperiod and verb = 'create' and coalesce(code, 0) < 400 and jsonb_path_exists(event, 'lax \$.requestObject.**.privileged ? (@ == true)')
deprecated select count(distinct audit_id) from $reqs where $rperiod and event->'annotations'->>'k8s.io/deprecated' = 'true'
outside select count(distinct (username, substring(user_agent from '^[a-z-]+'))) from kaudit.findings f join kaudit.k8s_releases r on r.minor = substring(f.user_agent from '^(?:kubelet|kubectl|kube-proxy|kubeadm)/v([0-9]+[.][0-9]+)') where $period and r.end_of_life < '$to'
SQL
	shot=${KAUDIT_SCREENSHOT:-/tmp/kaudit-report-screenshot.png}
	rm -f "$shot"
	chromium_run "$html" "$IT_DIR/shot" --screenshot="$shot" --window-size=1200,2400 --hide-scrollbars
	if [ -s "$shot" ] && [ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
		it_ok report-screenshot
		it_log "screenshot of the report: $shot"
	else
		it_fail report-screenshot "no PNG at $shot"
	fi
fi

# A cluster with nothing: zero findings, and the chart says so.
"$KAUDIT" report -c "$cfg" --from "$from" --to "$to" --cluster nowhere --format html \
    -o "$IT_DIR/empty.html" 2>>"$IT_DIR/report.err"
if grep -q 'data-key="findings">0<' "$IT_DIR/empty.html" && grep -q 'No findings in this period' "$IT_DIR/empty.html"; then
	it_ok report-cluster-filter
else
	it_fail report-cluster-filter "a report for cluster nowhere is not empty"
fi

# ---- the Grafana dashboard ----------------------------------------------------

dash=config/grafana/kaudit.json
gcheck() {	# OUT FROM TO CLUSTER [DASHBOARD]
	python3 tests/integration/lib/grafana_check.py "${5:-$dash}" "$IT_DB_URL" "$2" "$3" "$4" >"$1" 2>&1
}
if gcheck "$IT_DIR/grafana.all" "$from" "$to" "'__all'" &&
    gcheck "$IT_DIR/grafana.one" "$from" "$to" "'it-$IT_NAME'"; then
	it_ok grafana-every-query-runs
else
	it_fail grafana-every-query-runs "$(grep -h '^error' "$IT_DIR"/grafana.* | head -n 3)"
fi
panels=$(jq '[.panels[].targets[]] | length' "$dash")
if [ "$(grep -c '^ok' "$IT_DIR/grafana.all")" -eq $((panels + 1)) ] && [ "$panels" -ge 10 ]; then
	it_ok grafana-all-panels
else
	it_fail grafana-all-panels "$panels panel queries, $(grep -c '^ok' "$IT_DIR/grafana.all") ran"
fi
for title in "Findings by severity" "Findings by category"; do
	for f in "$IT_DIR/grafana.all" "$IT_DIR/grafana.one"; do
		sum=$(awk -v t="$title" '$1 == "ok" { $1 = ""; r = $2; s = $3; $2 = ""; $3 = ""; sub(/^ +/, ""); if ($0 == t) print s }' "$f")
		[ "$sum" = "$total" ] || { it_fail "grafana-$title" "panel sums to [$sum] in $f, SQL says $total"; continue 2; }
	done
	it_ok "grafana-${title// /-}"
done
rows() { awk -v t="$2" '$1 == "ok" { r = $2; $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); if ($0 == t) print r }' "$1"; }
if [ "$(rows "$IT_DIR/grafana.all" "Exec sessions")" = 1 ] && [ "$(rows "$IT_DIR/grafana.all" "Kubelet versions")" = 2 ] &&
    [ "$(rows "$IT_DIR/grafana.all" "Deprecated API use")" = 1 ]; then
	it_ok grafana-panels-answer
else
	it_fail grafana-panels-answer "$(tr '\n' ';' <"$IT_DIR/grafana.all")"
fi
# Deliveries are stored now: the last day holds them.
gcheck "$IT_DIR/grafana.now" "$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" "'__all'"
if [ "$(rows "$IT_DIR/grafana.now" "Delivery health")" -ge 1 ]; then
	it_ok grafana-delivery
else
	it_fail grafana-delivery "no delivery row for the last day"
fi
# The checker fails on a panel whose SQL fails.
jq '.panels[0].targets[0].rawSql = "SELECT nope FROM kaudit.findings WHERE $__timeFilter(created_at)"' "$dash" >"$IT_DIR/bad-dash.json"
if ! gcheck "$IT_DIR/grafana.bad" "$from" "$to" "'__all'" "$IT_DIR/bad-dash.json" &&
    grep -q '^error Findings by severity' "$IT_DIR/grafana.bad"; then
	it_ok grafana-check-can-fail
else
	it_fail grafana-check-can-fail "a failing panel query passed"
fi

it_done
