#!/usr/bin/env bash
# Regenerates the test fixture keys in this folder with OpenSSL 3. Test keys only: never use
# them anywhere else. Run from this folder: bash generate.sh
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p hmac rsa ec ed25519 refused

# HMAC: a 64-byte secret (raw bytes) for HS256/384/512.
openssl rand 64 > hmac/hs512.secret

cert() { # key.pem cert.pem
  openssl req -x509 -new -key "$1" -out "$2" -days 36500 -subj "/CN=portcullis test key" 2>/dev/null
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa/rsa2048.pkcs8.pem 2>/dev/null
openssl pkey -in rsa/rsa2048.pkcs8.pem -pubout -out rsa/rsa2048.spki.pem
cert rsa/rsa2048.pkcs8.pem rsa/rsa2048.cert.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa/rsa3072.pkcs8.pem 2>/dev/null
openssl pkey -in rsa/rsa3072.pkcs8.pem -pubout -out rsa/rsa3072.spki.pem

for curve in P-256 P-384 P-521; do
  name=$(echo "$curve" | tr -d '-' | tr 'P' 'p')
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$curve -out ec/$name.pkcs8.pem
  openssl pkey -in ec/$name.pkcs8.pem -pubout -out ec/$name.spki.pem
  cert ec/$name.pkcs8.pem ec/$name.cert.pem
done

openssl genpkey -algorithm ED25519 -out ed25519/ed25519.pkcs8.pem
openssl pkey -in ed25519/ed25519.pkcs8.pem -pubout -out ed25519/ed25519.spki.pem

# Keys that must be refused, each for its own reason.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out refused/rsa1024.pkcs8.pem 2>/dev/null
openssl pkey -in rsa/rsa2048.pkcs8.pem -traditional -out refused/rsa2048.pkcs1.pem
openssl pkey -in ec/p256.pkcs8.pem -traditional -out refused/p256.sec1.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out refused/secp256k1.pkcs8.pem
openssl pkcs8 -topk8 -in rsa/rsa2048.pkcs8.pem -passout pass:test -out refused/rsa2048.encrypted.pem
