#!/bin/sh
# A self-signed certificate for trying the production stack locally; mount real ones in
# production (fullchain.pem and privkey.pem in the same directory).
# Usage: scripts/self_signed_certificate.sh DIRECTORY [HOSTNAME]
set -eu
directory=${1:?usage: $0 DIRECTORY [HOSTNAME]}
hostname=${2:-localhost}
mkdir -p "$directory"
if [ -f "$directory/fullchain.pem" ]; then
    echo "$directory/fullchain.pem exists; leaving it."
    exit 0
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
    -subj "/CN=$hostname" -addext "subjectAltName=DNS:$hostname" \
    -keyout "$directory/privkey.pem" -out "$directory/fullchain.pem" 2>/dev/null
chmod 600 "$directory/privkey.pem"
echo "Wrote a self-signed certificate for $hostname to $directory (valid 30 days)."
