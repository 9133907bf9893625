#!/usr/bin/env bash
# pg.sh — a throwaway PostgreSQL 15 cluster on 127.0.0.1 for tests and the demo.
#
#   pg.sh start DIR    initdb + start under DIR/pg; prints the URL
#                      postgresql://kaudit@127.0.0.1:PORT/kaudit on stdout
#   pg.sh stop DIR     stops it
#   pg.sh restart DIR  starts it again after a stop: same data, same port
#                      (for tests of a database outage)
#   pg.sh start-tls DIR  the same server with ssl=on and a password: a
#                      private CA made with openssl (DIR/pg/tls/ca.pem) signs
#                      the server's certificate (subjectAltName IP:127.0.0.1,
#                      DNS:localhost); the role kaudit has a random password
#                      (DIR/pg/password, scram-sha-256) and may connect over
#                      TCP only with TLS (pg_hba: hostssl; a plain connection
#                      is refused). Prints postgresql://kaudit@127.0.0.1:PORT/kaudit,
#                      to which a client adds the password, sslmode and
#                      sslrootcert. stop and restart work on it as on the other.
#
# Trust authentication on 127.0.0.1 (start) and on a unix socket inside DIR/pg
# only; fsync off, since the data is thrown away. As root, the server runs as
# the `postgres` system user (PostgreSQL refuses root), which then owns DIR/pg.
set -euo pipefail

pgbin=${KAUDIT_PG_BIN:-/usr/lib/postgresql/15/bin}

say() { echo "pg.sh: $*" >&2; }

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The server's TLS files under $1 (DIR/pg), from tests/integration/lib/certs.sh,
# and the lines that turn TLS on. The key is the server user's alone, as
# PostgreSQL requires.
tls_setup() {	# pdir
	# shellcheck source=../integration/lib/certs.sh
	. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/certs.sh"
	it_certs "$1/tls" || { say "could not make the certificates (openssl)"; return 1; }
	chmod 600 "$1/tls/server.key"
	[ "$(id -u)" -ne 0 ] || chown -R postgres: "$1/tls"
	as_pg tee -a "$1/data/postgresql.conf" >/dev/null <<EOF
ssl = on
ssl_cert_file = '$1/tls/server.pem'
ssl_key_file = '$1/tls/server.key'
password_encryption = 'scram-sha-256'
EOF
}

start() {	# dir [tls]
	local pdir port url tls=${2:-} pw=
	[ -x "$pgbin/initdb" ] || { say "$pgbin/initdb not found (run tests/services/deps.sh)"; return 1; }
	pdir=$(cd "$1" && pwd)/pg
	mkdir -p "$pdir"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || { say "no postgres system user"; return 1; }
		# The server user must reach DIR/pg through every parent.
		chmod 755 "$1"
		chown postgres: "$pdir"
	fi
	if ! as_pg "$pgbin/initdb" -D "$pdir/data" -U postgres -A trust -E UTF8 \
	    --no-locale --no-sync >"$pdir/initdb.log" 2>&1; then
		say "initdb failed:"
		tail -n 30 "$pdir/initdb.log" >&2
		return 1
	fi
	port=$(free_port)
	as_pg tee -a "$pdir/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 128MB
log_min_messages = warning
log_min_error_statement = error
EOF
	if [ -z "$tls" ]; then
		as_pg tee "$pdir/data/pg_hba.conf" >/dev/null <<EOF
local	all	all			trust
host	all	all	127.0.0.1/32	trust
EOF
	else
		tls_setup "$pdir" || return 1
		pw=$(openssl rand -hex 16)
		(umask 077; echo "$pw" >"$pdir/password")
		as_pg tee "$pdir/data/pg_hba.conf" >/dev/null <<EOF
local		all	all			trust
hostssl		all	kaudit	127.0.0.1/32	scram-sha-256
hostnossl	all	all	127.0.0.1/32	reject
EOF
	fi
	if ! as_pg "$pgbin/pg_ctl" -D "$pdir/data" -l "$pdir/server.log" -w -t 60 \
	    -o "-k $pdir" start >"$pdir/pg_ctl.log" 2>&1; then
		say "server did not start:"
		tail -n 30 "$pdir/server.log" "$pdir/pg_ctl.log" >&2
		return 1
	fi
	head -n 1 "$pdir/data/postmaster.pid" >"$pdir/pid"
	echo "$port" >"$pdir/port"
	if ! as_pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pdir" -p "$port" \
	    -U postgres -d postgres >"$pdir/setup.log" 2>&1 <<EOF
create role kaudit login superuser${pw:+ password '$pw'};
create database kaudit owner kaudit;
EOF
	then
		say "creating role and database failed:"
		cat "$pdir/setup.log" >&2
		stop "$1"
		return 1
	fi
	url="postgresql://kaudit@127.0.0.1:$port/kaudit"
	echo "$url" >"$pdir/url"
	echo "$url"
}

restart() {	# dir
	local pdir
	pdir=$(cd "$1" && pwd)/pg
	[ -f "$pdir/data/PG_VERSION" ] || { say "no cluster in $pdir (pg.sh start first)"; return 1; }
	if ! as_pg "$pgbin/pg_ctl" -D "$pdir/data" -l "$pdir/server.log" -w -t 60 \
	    -o "-k $pdir" start >"$pdir/pg_ctl.log" 2>&1; then
		say "server did not start again:"
		tail -n 30 "$pdir/server.log" "$pdir/pg_ctl.log" >&2
		return 1
	fi
	head -n 1 "$pdir/data/postmaster.pid" >"$pdir/pid"
}

stop() {	# dir
	local pdir=$1/pg pid i
	[ -f "$pdir/data/postmaster.pid" ] || return 0
	if ! as_pg "$pgbin/pg_ctl" -D "$pdir/data" -m immediate -w -t 20 stop \
	    >/dev/null 2>&1; then
		pid=$(cat "$pdir/pid" 2>/dev/null || true)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			say "pg_ctl stop failed; killing $pid"
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 40; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.25
			done
		fi
	fi
}

case "${1:-}" in
start)	[ $# -eq 2 ] || { say "usage: pg.sh start DIR"; exit 2; }; start "$2" ;;
start-tls) [ $# -eq 2 ] || { say "usage: pg.sh start-tls DIR"; exit 2; }; start "$2" tls ;;
stop)	[ $# -eq 2 ] || { say "usage: pg.sh stop DIR"; exit 2; }; stop "$2" ;;
restart) [ $# -eq 2 ] || { say "usage: pg.sh restart DIR"; exit 2; }; restart "$2" ;;
*)	say "usage: pg.sh start DIR | start-tls DIR | stop DIR | restart DIR"; exit 2 ;;
esac
