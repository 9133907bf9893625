#!/usr/bin/env bash
# kafka.sh — a throwaway single-node Apache Kafka 3.9.1 (KRaft, combined
# broker and controller) on 127.0.0.1 for tests and the demo.
#
#   kafka.sh fetch                        jars into the cache only
#   kafka.sh start DIR                    runs a broker under DIR/kafka; prints
#                                         127.0.0.1:PORT on stdout
#   kafka.sh stop DIR                     stops it
#   kafka.sh restart DIR                  starts a stopped broker again, on its
#                                         port, with its data (an outage's end)
#   kafka.sh topic BROKERS NAME PARTS     creates topic NAME with PARTS partitions
#   kafka.sh start-secure DIR CERTDIR USER PASSWORD
#                                         as start, with two more listeners:
#                                         SASL_SSL (SCRAM-SHA-512, PLAIN and
#                                         OAUTHBEARER) and SSL with a client
#                                         certificate required; prints the
#                                         PLAINTEXT, SASL_SSL and SSL
#                                         addresses on one line
#
# start-secure takes from CERTDIR (tests/integration/lib/certs.sh makes them)
# ca.pem, the CA the broker trusts for client certificates, and
# server.pem/server.key, its certificate for 127.0.0.1. USER with PASSWORD is
# a SCRAM-SHA-512 user (written at storage format time) and a PLAIN user
# (in the listener's JAAS line). OAUTHBEARER takes Kafka's unsecured JWT
# validator: any token without a signature, a test setting only. The
# plaintext listener stays for the test's own topic creation and producing;
# restart keeps all three listeners.
#
# The jars come from Maven Central through tests/services/kafka-pom.xml and
# are cached in ${KAUDIT_CACHE:-$HOME/.cache/kaudit}/kafka-3.9.1. Topics that
# a producer names are also created on first use, with num.partitions=3, so two
# kaudit workers share them without an explicit `topic` call.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=3.9.1
cache=${KAUDIT_CACHE:-$HOME/.cache/kaudit}/kafka-$version
# A fixed, valid cluster id (16 bytes, base64url) saves a JVM start for
# `kafka-storage random-uuid` in every throwaway directory.
cluster_id=a2F1ZGl0LXRlc3QtY2x1cw
ready_timeout=${KAUDIT_KAFKA_TIMEOUT:-90}

say() { echo "kafka.sh: $*" >&2; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fetch() {
	[ -f "$cache/.complete" ] && return 0
	command -v mvn >/dev/null || { say "mvn not found (run tests/services/deps.sh)"; return 1; }
	mkdir -p "$(dirname "$cache")"
	local tmp
	tmp=$(mktemp -d "$cache.tmp.XXXXXX")
	say "fetching Apache Kafka $version from Maven Central into $cache"
	if ! mvn -q -B -f "$here/kafka-pom.xml" dependency:copy-dependencies \
	    -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
		say "maven failed:"
		tail -n 30 "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		return 1
	fi
	rm -f "$tmp.log"
	touch "$tmp/.complete"
	# Another run may have finished first; either copy is good. A cache dir
	# without the marker is a broken leftover.
	if [ -f "$cache/.complete" ]; then
		rm -rf "$tmp"
	else
		rm -rf "$cache"
		mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"
	fi
	[ -f "$cache/.complete" ]
}

write_config() {	# kdir bport cport [extra listeners: ,NAME://HOST:PORT...]
	local kdir=$1 bport=$2 cport=$3 extra=${4:-} map=
	[ -n "$extra" ] && map=,SASL_SSL:SASL_SSL,SSL:SSL
	cat >"$kdir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport$extra,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport$extra
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT$map
log.dirs=$kdir/data
num.partitions=3
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
log.retention.hours=24
num.network.threads=2
num.io.threads=4
EOF
	cat >"$kdir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.common.config=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
EOF
}

java_opts() {	# kdir: the JVM options of the broker and its storage tool
	opts=(-Xmx512m -Xms512m -XX:+UseG1GC -Djava.awt.headless=true
	    "-Dlog4j.configuration=file:$1/log4j.properties" -cp "$cache/*")
}

# Free ports, none twice: sets ports[0..n-1].
free_ports() {	# n
	local p i
	ports=()
	while [ "${#ports[@]}" -lt "$1" ]; do
		p=$(free_port)
		for i in "${ports[@]}"; do [ "$i" = "$p" ] && continue 2; done
		ports+=("$p")
	done
}

# The secure listeners' settings (start-secure): TLS from CERTDIR in PEM
# form, which Kafka reads without keytool; SASL mechanisms of the SASL_SSL
# listener, PLAIN's user in its JAAS line (SCRAM's are written by format).
secure_config() {	# kdir certdir user password
	local kdir=$1 certs user=$3 pass=$4
	certs=$(cd "$2" && pwd)
	cat "$certs/server.pem" "$certs/server.key" >"$kdir/server-keystore.pem"
	chmod 600 "$kdir/server-keystore.pem"
	cat >>"$kdir/server.properties" <<EOF
ssl.keystore.type=PEM
ssl.keystore.location=$kdir/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN,OAUTHBEARER
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$pass";
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="$user";
EOF
}

start() {	# dir [certdir user password]: the secure listeners with a certdir
	local dir=$1 kdir opts extra= scram=()
	fetch
	# inside $(...) || ..., set -e is off: a missing DIR must not become /kafka
	kdir=$(cd "$dir" && pwd) || { say "no directory $dir"; return 1; }
	kdir=$kdir/kafka
	mkdir -p "$kdir/data"
	if [ $# -gt 1 ]; then
		free_ports 4
		extra=",SASL_SSL://127.0.0.1:${ports[2]},SSL://127.0.0.1:${ports[3]}"
		scram=(--add-scram "SCRAM-SHA-512=[name=$3,password=$4]")
	else
		free_ports 2
	fi
	write_config "$kdir" "${ports[0]}" "${ports[1]}" "$extra"
	if [ $# -gt 1 ]; then
		secure_config "$kdir" "$2" "$3" "$4" || return 1
		echo "127.0.0.1:${ports[2]} 127.0.0.1:${ports[3]}" >"$kdir/secure"
	fi
	java_opts "$kdir"
	if ! java "${opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
	    -c "$kdir/server.properties" "${scram[@]}" >"$kdir/format.log" 2>&1; then
		say "storage format failed:"
		tail -n 30 "$kdir/format.log" >&2
		return 1
	fi
	echo "127.0.0.1:${ports[0]}" >"$kdir/brokers"
	launch "$dir" "$kdir"
}

start_secure() {	# dir certdir user password
	local plain
	plain=$(start "$@") || return 1
	echo "$plain $(cat "$1/kafka/secure")"
}

launch() {	# dir kdir: runs the broker of kdir/server.properties until it answers
	local dir=$1 kdir=$2 brokers pid i opts
	brokers=$(cat "$kdir/brokers")
	java_opts "$kdir"
	# setsid: the broker must not share the caller's terminal signals, and its
	# output goes to a file so a $(...) caller is not held open.
	setsid java "${opts[@]}" kafka.Kafka "$kdir/server.properties" >>"$kdir/broker.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$kdir/pid"
	for ((i = 0; i < ready_timeout * 2; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			say "broker exited during start; log tail:"
			tail -n 40 "$kdir/broker.log" >&2
			rm -f "$kdir/pid"
			return 1
		fi
		if kcat -b "$brokers" -L -m 2 >/dev/null 2>&1; then
			echo "$brokers"
			return 0
		fi
		sleep 0.5
	done
	say "broker not answering on $brokers after ${ready_timeout}s; log tail:"
	tail -n 40 "$kdir/broker.log" >&2
	stop "$dir"
	return 1
}

restart() {	# dir: the broker start made, back on its port with its data
	local kdir
	kdir=$(cd "$1" && pwd)/kafka
	[ -f "$kdir/server.properties" ] || { say "no broker was started in $1"; return 1; }
	[ -f "$kdir/pid" ] && { say "a broker runs in $1 already"; return 1; }
	launch "$1" "$kdir"
}

stop() {	# dir
	local kdir=$1/kafka pid i
	[ -f "$kdir/pid" ] || return 0
	pid=$(cat "$kdir/pid")
	if kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 60; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "broker $pid still running after 15 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$kdir/pid"
}

topic() {	# brokers name partitions
	local brokers=$1 name=$2 parts=$3 out
	fetch
	out=$(java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:/dev/null \
	    -cp "$cache/*" org.apache.kafka.tools.TopicCommand \
	    --bootstrap-server "$brokers" --create --if-not-exists \
	    --topic "$name" --partitions "$parts" --replication-factor 1 2>&1) || {
		say "creating topic $name failed: $out"
		return 1
	}
}

case "${1:-}" in
fetch)	fetch ;;
start)	[ $# -eq 2 ] || { say "usage: kafka.sh start DIR"; exit 2; }; start "$2" ;;
stop)	[ $# -eq 2 ] || { say "usage: kafka.sh stop DIR"; exit 2; }; stop "$2" ;;
restart) [ $# -eq 2 ] || { say "usage: kafka.sh restart DIR"; exit 2; }; restart "$2" ;;
start-secure)
	[ $# -eq 5 ] || { say "usage: kafka.sh start-secure DIR CERTDIR USER PASSWORD"; exit 2; }
	start_secure "$2" "$3" "$4" "$5" ;;
topic)	[ $# -eq 4 ] || { say "usage: kafka.sh topic BROKERS NAME PARTITIONS"; exit 2; }
	topic "$2" "$3" "$4" ;;
*)	say "usage: kafka.sh fetch | start DIR | start-secure DIR CERTDIR USER PASSWORD |"
	say "       stop DIR | restart DIR | topic BROKERS NAME PARTITIONS"; exit 2 ;;
esac
