# certs.sh — sourced: it_certs DIR makes, with openssl, what a TLS test
# needs in DIR: a CA (ca.pem) with a server certificate for 127.0.0.1
# (server.pem, server.key) and a client certificate (client.pem,
# client.key, CN kube-apiserver, for TLS client use); and another CA
# (other-ca.pem) with a client certificate of its own (other.pem,
# other.key), which must not be let in.
# shellcheck shell=bash

it_cert_ca() {	# dir name
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
	    -keyout "$1/$2.key" -out "$1/$2.pem" 2>/dev/null
}

it_cert_leaf() {	# dir name ca subject extensions
	openssl req -newkey rsa:2048 -nodes -subj "$4" -keyout "$1/$2.key" \
	    -out "$1/$2.csr" 2>/dev/null &&
	    printf '%s\n' "$5" >"$1/$2.ext" &&
	    openssl x509 -req -in "$1/$2.csr" -CA "$1/$3.pem" -CAkey "$1/$3.key" \
	    -CAcreateserial -days 1 -extfile "$1/$2.ext" -out "$1/$2.pem" 2>/dev/null
}

it_certs() {	# dir
	mkdir -p "$1" &&
	    it_cert_ca "$1" ca && it_cert_ca "$1" other-ca &&
	    it_cert_leaf "$1" server ca /CN=kaudit-gateway \
	    "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" &&
	    it_cert_leaf "$1" client ca /O=system:masters/CN=kube-apiserver \
	    "extendedKeyUsage=clientAuth" &&
	    it_cert_leaf "$1" other other-ca /CN=kube-apiserver "extendedKeyUsage=clientAuth"
}
