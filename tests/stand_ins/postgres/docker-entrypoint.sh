#!/bin/sh
# As the official image's entrypoint does: a new data directory gets the superuser POSTGRES_USER
# with POSTGRES_PASSWORD (scram-sha-256 over TCP) and the database POSTGRES_DB; then postgres runs
# as the postgres user.
set -eu
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" > "$password_file"
    chown postgres "$password_file"
    runuser -u postgres -- initdb --username="$user" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" > /dev/null
    rm "$password_file"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
        runuser -u postgres -- postgres --single -D "$PGDATA" postgres > /dev/null <<SQL
CREATE DATABASE "$database" OWNER "$user";
SQL
    fi
fi
exec runuser -u postgres -- "$@"
