#!/bin/bash
# SPDX-License-Identifier: MIT
# Issues a DC's federation certificate (docs/federation.md §8), run by
# whoever holds the federation CA's key.  The DC's key is an X25519 key,
# which cannot sign a request, so the DC's operator sends its public key
# and the CA issues a certificate for it directly:
#
#   at the DC:  openssl pkey -in /var/lib/ntm-dc/dc-key.pem -pubout -out dc-pub.pem
#   at the CA:  issue-dc-cert.sh --ca-cert ca.pem --ca-key ca.key --public-key dc-pub.pem \
#                 --dc-id <the DC's [dc] id> --zones b.example[,c.example] --out dc-cert.pem
#   at the DC:  [federation] ca_file = ca.pem, cert_file = dc-cert.pem
#
# The certificate: subject CN = the DC id (32 hex digits), subjectAltName =
# the zones (dNSName), key usage keyAgreement, not a CA.  A new CA:
#   openssl genpkey -algorithm ed25519 -out ca.key
#   openssl req -x509 -new -key ca.key -subj "/CN=Example federation CA" -days 3650 \
#     -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out ca.pem
set -euo pipefail

usage() {
  sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  echo "usage: $0 --ca-cert F --ca-key F --public-key F --dc-id HEX32 --zones Z[,Z] [--days N] --out F" >&2
  exit 2
}

ca_cert="" ca_key="" pub="" dc_id="" zones="" days=365 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ca-cert) ca_cert=$2; shift 2 ;;
    --ca-key) ca_key=$2; shift 2 ;;
    --public-key) pub=$2; shift 2 ;;
    --dc-id) dc_id=$2; shift 2 ;;
    --zones) zones=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) usage ;;
  esac
done
[ -n "$ca_cert" ] && [ -n "$ca_key" ] && [ -n "$pub" ] && [ -n "$dc_id" ] && [ -n "$zones" ] &&
  [ -n "$out" ] || usage
[[ "$dc_id" =~ ^[0-9a-f]{32}$ ]] || { echo "$0: --dc-id must be 32 lower-case hex digits" >&2; exit 2; }
[[ "$days" =~ ^[0-9]+$ ]] || { echo "$0: --days must be a number" >&2; exit 2; }
openssl pkey -pubin -in "$pub" -noout -text 2>/dev/null | grep -q '^X25519 Public-Key' ||
  { echo "$0: $pub is not an X25519 public key (openssl pkey -pubout of dc-key.pem)" >&2; exit 1; }
san=""
IFS=, read -r -a list <<<"$zones"
for z in "${list[@]}"; do
  z=${z// /}
  z=${z%.}
  [[ "$z" =~ ^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?)*$ ]] ||
    { echo "$0: '$z' is not a zone name" >&2; exit 2; }
  san+="${san:+,}DNS:${z,,}"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# openssl x509 -req needs a request to start from; a throwaway key signs it,
# and -force_pubkey puts the DC's key in the certificate instead.
openssl genpkey -algorithm ed25519 -out "$tmp/throwaway.key" 2>/dev/null
openssl req -new -key "$tmp/throwaway.key" -subj "/CN=$dc_id" -out "$tmp/dc.csr"
printf 'subjectAltName=%s\nkeyUsage=critical,keyAgreement\nbasicConstraints=critical,CA:FALSE\n' \
  "$san" >"$tmp/ext.cnf"
openssl x509 -req -in "$tmp/dc.csr" -CA "$ca_cert" -CAkey "$ca_key" -set_serial "0x$(openssl rand -hex 16)" \
  -force_pubkey "$pub" -days "$days" -extfile "$tmp/ext.cnf" -out "$out" 2>"$tmp/err" ||
  { cat "$tmp/err" >&2; exit 1; }
openssl verify -CAfile "$ca_cert" "$out" >/dev/null
echo "issued $out: DC $dc_id, zones ${san//DNS:/}, key sha256:$(openssl pkey -pubin -in "$pub" -outform DER |
  tail -c 32 | openssl dgst -sha256 -r | cut -d' ' -f1), $days days"
