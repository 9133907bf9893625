#!/usr/bin/env bash
# deps.sh — installs the Debian 12 packages that building, testing and the
# demo need, only those missing. Quiet when everything is there already.
# Needs root or sudo; otherwise prints the apt-get command to run and fails.
set -euo pipefail

pkgs=(
	build-essential pkg-config make
	librdkafka-dev libjansson-dev libpq-dev libcurl4-openssl-dev libyaml-dev libpcre2-dev libssl-dev zlib1g-dev
	libmicrohttpd-dev libgnutls28-dev
	postgresql-15 postgresql-client-15
	openjdk-17-jre-headless maven
	kcat jq time python3 python3-venv python3-yaml ca-certificates openssl procps util-linux bsdextrautils curl
	chromium
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	sudo=(env DEBIAN_FRONTEND=noninteractive)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	sudo=(sudo env DEBIAN_FRONTEND=noninteractive)
else
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
log=$(mktemp /tmp/kaudit-deps.XXXXXX)
if ! { "${sudo[@]}" apt-get update -q &&
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "deps.sh: apt-get failed (full log: $log)" >&2
	exit 1
fi
rm -f "$log"
