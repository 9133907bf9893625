#!/bin/sh
# rootfs.sh BINARY DIR — lays out the runtime image's whole file system in
# DIR: the binary, the shared libraries it loads (as ldd resolves them, at
# the same paths), the CA bundle for HTTPS webhooks and TLS Kafka, and a
# passwd/group naming the unprivileged user 65532. Nothing else: no shell,
# no package manager. Used by deploy/Dockerfile and by tools/check-deploy.sh,
# which runs the result under chroot.
set -eu
bin=$1
dir=$2
mkdir -p "$dir/usr/local/bin" "$dir/etc/ssl/certs" "$dir/tmp" "$dir/etc/kaudit"
cp "$bin" "$dir/usr/local/bin/kaudit"
# "libx.so => /path (addr)" and the loader's own "/lib64/ld-linux... (addr)".
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
while read -r lib; do
	mkdir -p "$dir$(dirname "$lib")"
	cp -L "$lib" "$dir$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/nonexistent\nkaudit:x:65532:65532:kaudit:/nonexistent:/nonexistent\n' >"$dir/etc/passwd"
printf 'root:x:0:\nkaudit:x:65532:\n' >"$dir/etc/group"
printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
chmod 1777 "$dir/tmp"
