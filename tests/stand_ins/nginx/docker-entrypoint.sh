#!/bin/sh
# As the official image's entrypoint does: /etc/nginx/templates/NAME.template becomes
# /etc/nginx/conf.d/NAME with the variables of the environment (and only those) filled in.
set -eu
defined="$(env | cut -d= -f1 | sed 's/.*/${&}/' | tr '\n' ' ')"
for template in /etc/nginx/templates/*.template; do
    [ -e "$template" ] || continue
    output="/etc/nginx/conf.d/$(basename "$template" .template)"
    envsubst "$defined" < "$template" > "$output"
done
exec "$@"
