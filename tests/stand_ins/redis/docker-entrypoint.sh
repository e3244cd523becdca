#!/bin/sh
# As the official image does: without a config file, protected mode is off (the container's
# network, not Redis, decides who connects).
set -eu
if [ "$1" = redis-server ]; then
    case " $* " in
        *.conf\ *) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
fi
exec "$@"
