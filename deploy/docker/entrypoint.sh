#!/bin/sh
# Entry point of the Phoenix container image (Dockerfile, docker-compose.yml):
#   devstack | init | master | minion    the compose roles (deploy/docker/container.mjs)
#   anything else                        run as a command, e.g. `phoenix keys list`, with
#                                        PHOENIX_API and PHOENIX_TOKEN set for the compose cluster
set -eu
here=$(dirname "$(readlink -f "$0")")
shared=${PHOENIX_SHARED:-/var/lib/phoenix/shared}
config=${PHOENIX_CONFIG_DIR:-/etc/phoenix}

case "${1:-}" in
  devstack | init)
    exec node "$here/container.mjs" "$1"
    ;;
  master)
    node "$here/container.mjs" configure-master
    exec phoenix-master --config "$config/master.yaml"
    ;;
  minion)
    node "$here/container.mjs" configure-minion
    exec phoenix-minion --config "$config/minion.yaml"
    ;;
  "")
    exec phoenix --help
    ;;
  *)
    if [ -z "${PHOENIX_TOKEN:-}" ] && [ -r "$shared/admin.token" ]; then
      PHOENIX_TOKEN=$(cat "$shared/admin.token")
      export PHOENIX_TOKEN
    fi
    PHOENIX_API=${PHOENIX_API:-http://127.0.0.1:8080}
    export PHOENIX_API
    exec "$@"
    ;;
esac
