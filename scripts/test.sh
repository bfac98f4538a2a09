#!/usr/bin/env bash
# The whole test suite from a fresh clone: a virtual environment with the project and its test
# extra, the real servers the tests start (PostgreSQL's initdb/pg_ctl, Prometheus) and the shells
# the completion scripts are checked with (zsh, fish), then pytest.
# Missing servers are installed with apt-get when run as root; otherwise it stops and says
# which packages to install. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v git >/dev/null || missing+=(git)
# The shell completion scripts are checked by the shells that read them.
command -v zsh >/dev/null || missing+=(zsh)
command -v fish >/dev/null || missing+=(fish)
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
have_postgres() {
  # Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off the PATH.
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null && return 0
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && return 0
  done
  return 1
}
have_postgres || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "flaggate tests: missing ${missing[*]}: install them (e.g. sudo apt-get install --no-install-recommends ${missing[*]}) and run again" >&2
    exit 2
  fi
  install=(apt-get install -y -q --no-install-recommends)
  apt-get update -q
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # No system cluster: the tests initialise their own.
    DEBIAN_FRONTEND=noninteractive "${install[@]}" postgresql-common
    sed -ri 's/^#?[[:space:]]*(create_main_cluster)[[:space:]]*=.*$/\1 = false/' \
      /etc/postgresql-common/createcluster.conf
  fi
  DEBIAN_FRONTEND=noninteractive "${install[@]}" "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
exec .venv/bin/python -m pytest "$@"
