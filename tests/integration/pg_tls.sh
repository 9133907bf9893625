#!/usr/bin/env bash
# pg_tls.sh — kaudit on a PostgreSQL that takes only TLS connections with a
# password (tests/services/pg.sh start-tls: ssl=on, a private CA, hostssl
# with scram-sha-256, plain TCP refused), with sslmode=verify-full.
#
# The happy path: `kaudit migrate` and `kaudit run` store through
# postgres.url postgresql://kaudit:${PGPASSWORD}@127.0.0.1:PORT/kaudit
# ?sslmode=verify-full&sslrootcert=CA (docs/operations.md's example) the
# findings `kaudit scan` gives.
# The refusals: another CA as sslrootcert, a host name the certificate
# lacks (host=db.wrong.invalid, hostaddr=127.0.0.1) and a wrong password
# each stop `kaudit migrate` (non-zero) and `kaudit run` at start (non-zero,
# nothing stored) with an error naming the cause; no log shows the password,
# in the URL form or in the keyword form (password=...).
IT_NAME=pg_tls
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

pg_stop() { tests/services/pg.sh stop "$IT_DIR" >/dev/null 2>&1; }
trap 'pg_stop; it_cleanup' EXIT
base=$(tests/services/pg.sh start-tls "$IT_DIR" 2>"$IT_DIR/pg.err") ||
    { cat "$IT_DIR/pg.err" >&2; it_abort setup "could not start a private PostgreSQL with TLS"; }
port=$(cat "$IT_DIR/pg/port")
ca=$IT_DIR/pg/tls/ca.pem
other=$IT_DIR/pg/tls/other-ca.pem
export KAUDIT_PG_PASSWORD
KAUDIT_PG_PASSWORD=$(cat "$IT_DIR/pg/password")
[ -n "$KAUDIT_PG_PASSWORD" ] || it_abort setup "pg.sh start-tls wrote no password"
pw=$KAUDIT_PG_PASSWORD
tls_q="sslmode=verify-full&sslrootcert=$ca"
# What the tests' own psql uses; the configurations name the password as ${VAR}.
IT_DB_URL="postgresql://kaudit:$pw@127.0.0.1:$port/kaudit?$tls_q"

# The server refuses a connection without TLS: what succeeds below used it.
if psql -X -q "postgresql://kaudit:$pw@127.0.0.1:$port/kaudit?sslmode=disable" \
    -c 'select 1' >/dev/null 2>"$IT_DIR/plain.err"; then
	it_fail plain-tcp-refused "a connection without TLS was let in"
elif grep -q 'no encryption' "$IT_DIR/plain.err"; then
	it_ok plain-tcp-refused
else
	it_fail plain-tcp-refused "$(head -n 1 "$IT_DIR/plain.err")"
fi

falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
python3 tests/integration/lib/replicate.py --copies 1 --tag pgtls "$falco"/*.json \
    >"$IT_DIR/events.jsonl" || it_abort setup "could not build the event file"
it_scan_set "$IT_DIR/events.jsonl" | it_plain >"$IT_DIR/want"

topic=it-pg-tls-$$
# cfg URL [log_level]: a daemon configuration on this test's topic whose
# postgres.url is URL (written as given: ${KAUDIT_PG_PASSWORD} stays a
# reference, expanded by kaudit).
cfg() {
	it_config "$IT_DIR/$1.yaml" "$topic" "it-pg-tls-$$" "alert:
  webhooks: []"
	# it_config writes IT_DB_URL; single quotes keep the YAML literal
	URL=$2 LVL=${3:-info} awk '/^  url: / { print "  url: '"'"'" ENVIRON["URL"] "'"'"'"; next }
	    /^log_level: / { print "log_level: " ENVIRON["LVL"]; next } { print }' \
	    "$IT_DIR/$1.yaml" >"$IT_DIR/$1.tmp" && mv "$IT_DIR/$1.tmp" "$IT_DIR/$1.yaml"
}
# The happy path runs docs/operations.md's example, with this server's
# address, user and CA put in; its ${PGPASSWORD} is expanded by kaudit.
good=$(awk '/^### PostgreSQL over TLS/ { s = 1 } s && /^```yaml/ { y = 1; next }
    y && /^```/ { exit } y && /url:/' docs/operations.md |
    sed -e 's/^ *url: "\(.*\)"$/\1/' -e "s|kaudit_daemon:|kaudit:|" \
	-e "s|@db.example:5432/|@127.0.0.1:$port/|" -e "s|=/etc/kaudit/tls/postgres-ca.pem|=$ca|")
case $good in
*'${PGPASSWORD}@127.0.0.1:'*"sslmode=verify-full&sslrootcert=$ca") ;;
*) it_abort setup "docs/operations.md's PostgreSQL example is not as expected: $good" ;;
esac
export PGPASSWORD=$pw
cfg good "$good" debug

if "$KAUDIT" migrate -c "$IT_DIR/good.yaml" >"$IT_DIR/migrate.log" 2>&1; then
	it_ok migrate-verify-full
else
	it_fail migrate-verify-full "$(tail -n 1 "$IT_DIR/migrate.log")"
fi
it_topic "$topic" 2 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
it_run_idle run-verify-full "$IT_DIR/good.yaml" "$IT_DIR/run.log" 60 2
it_db_set | it_plain >"$IT_DIR/got"
it_same findings-stored-over-tls "$IT_DIR/want" "$IT_DIR/got"
stored=$(it_sql "select count(*) from kaudit.findings")

# refusal NAME URL WHY: migrate and run on URL both fail, saying WHY, and
# nothing more is stored.
refusal() {
	local name=$1 url=$2 why=$3 rc
	cfg "$name" "$url" debug
	"$KAUDIT" migrate -c "$IT_DIR/$name.yaml" >"$IT_DIR/$name-migrate.log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "$why" "$IT_DIR/$name-migrate.log"; then
		it_ok "migrate-refused-$name"
	else
		it_fail "migrate-refused-$name" "exit $rc: $(tail -n 1 "$IT_DIR/$name-migrate.log")"
	fi
	it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
	it_run "$IT_DIR/$name.yaml" "$IT_DIR/$name-run.log" 30 --idle-exit 2
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "$why" "$IT_DIR/$name-run.log"; then
		it_ok "run-refused-$name"
	else
		it_fail "run-refused-$name" "exit $rc: $(tail -n 1 "$IT_DIR/$name-run.log")"
	fi
	n=$(it_sql "select count(*) from kaudit.findings")
	[ -n "$n" ] && [ "$n" = "$stored" ] && it_ok "nothing-stored-$name" ||
	    it_fail "nothing-stored-$name" "$stored findings before, $n after"
}
# From here on the password is in the URL, or wrong: not from libpq's own
# PGPASSWORD.
unset PGPASSWORD
refusal wrong-ca "postgresql://kaudit:\${KAUDIT_PG_PASSWORD}@127.0.0.1:$port/kaudit?sslmode=verify-full&sslrootcert=$other" \
    'certificate verify failed'
refusal wrong-host "postgresql://kaudit:\${KAUDIT_PG_PASSWORD}@db.wrong.invalid:$port/kaudit?hostaddr=127.0.0.1&$tls_q" \
    'does not match host name "db.wrong.invalid"'
export KAUDIT_PG_WRONG=wrong-$pw-x
refusal wrong-password "postgresql://kaudit:\${KAUDIT_PG_WRONG}@127.0.0.1:$port/kaudit?$tls_q" \
    'password authentication failed for user "kaudit"'
# The keyword form of a connection string, with password=.
refusal keyword-wrong-ca "host=127.0.0.1 port=$port dbname=kaudit user=kaudit password=\${KAUDIT_PG_PASSWORD} sslmode=verify-full sslrootcert=$other" \
    'certificate verify failed'

# The debug level logs postgres.url, and a refused start logs it with its
# error: redacted each time.
if grep -q 'postgres.url postgresql://kaudit:' "$IT_DIR/run.log"; then
	it_ok url-logged-redacted
else
	it_fail url-logged-redacted "no postgres.url line at debug level in run.log"
fi
leaks=$(grep -l -F -e "$pw" -e "$KAUDIT_PG_WRONG" "$IT_DIR"/*.log 2>/dev/null)
[ -z "$leaks" ] && it_ok no-password-in-logs ||
    it_fail no-password-in-logs "the password appears in $(echo "$leaks" | tr '\n' ' ')"
it_log "$stored findings stored over TLS (verify-full)"
it_done
