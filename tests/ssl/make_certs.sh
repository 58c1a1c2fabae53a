#!/bin/sh
# Makes the TLS tests' certificates in $1 with the openssl command (nothing is checked in):
#   ca.pem / ca.key          a private CA
#   server.pem / server.key  localhost, 127.0.0.1 and ::1, signed by the CA
#   expired.pem / .key       localhost, signed by the CA, valid only in 2020
#   wronghost.pem / .key     wrong.example only, signed by the CA
#   client.pem / client.key  a client certificate signed by the CA
#   selfsigned.pem / .key    localhost, signed by nobody
set -eu
d=$1
mkdir -p "$d"
cd "$d"
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 3650 -subj "/CN=nogil test CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() {  # name subject-CN subjectAltName [extra openssl ca args]
  name=$1 cn=$2 san=$3
  shift 3
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$san" > "$name.ext"
  # `openssl ca` takes explicit start and end dates (x509 -req cannot before OpenSSL 3.4).
  mkdir -p db
  : > db/index.txt
  [ -f db/serial ] || echo 1000 > db/serial
  cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = .
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
CNF
  q openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$name.csr" -out "$name.pem" \
    -extfile "$name.ext" -notext "$@"
}
leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1" -days 3650
leaf expired localhost "DNS:localhost,IP:127.0.0.1" -startdate 20200101000000Z -enddate 20200102000000Z
leaf wronghost wrong.example "DNS:wrong.example" -days 3650
leaf client "nogil client" "DNS:client.example" -days 3650
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout selfsigned.key -out selfsigned.pem \
  -days 3650 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost"
rm -rf db ./*.csr ./*.ext ca.cnf
