#!/usr/bin/env bash
# Install flaggate for the GitHub Action (action.yml runs this; so does
# benchmarks/bench_action_install.py, to time exactly the same step).
#
# What it installs: flaggate's runtime dependencies (read from the action's own pyproject.toml)
# into a virtualenv under $RUNNER_TEMP, and flaggate itself from the action's own checkout
# ($GITHUB_ACTION_PATH/src, put on the venv's sys.path by a .pth file: an editable-style install
# without running a build backend, which saves about a second). Nothing is ever read from the
# pull request's head: the workspace is not touched.
#
# How (fastest first):
#   1. a venv already at $FLAGGATE_VENV, restored by actions/cache, built for the same
#      dependencies and interpreter (a stamp file says so) and importable: reused as it is;
#   2. uv, when `uv` is on PATH;
#   3. uv bootstrapped from PyPI with the interpreter's pip into $RUNNER_TEMP/flaggate-uv
#      (uv is not preinstalled on GitHub-hosted runners);
#   4. plain pip, when uv cannot be had or fails.
# Whatever the route, `import flaggate.commands.github` must succeed in the new venv, or the
# step fails with an ::error:: annotation.
#
# Usage: install-action.sh              install; prints `python=` and `installer=` to $GITHUB_OUTPUT
#        install-action.sh --cache-key  print `key=<actions/cache key>` to $GITHUB_OUTPUT
#
# Environment:
#   GITHUB_ACTION_PATH    the action's checkout (required)
#   RUNNER_TEMP           where the venv goes (required)
#   FLAGGATE_VENV         the venv (default: $RUNNER_TEMP/flaggate-venv)
#   FLAGGATE_INSTALLER    auto (default) | uv (fail if uv cannot be had) | pip
#   FLAGGATE_BASE_PYTHON  interpreter to build the venv from (default: python3; >= 3.11)
#   FLAGGATE_UV_REQUIREMENT  what to bootstrap (default: uv>=0.5)
#   PIP_CACHE_DIR, UV_CACHE_DIR and the other pip/uv settings are honoured.
set -euo pipefail

# Bump when the venv layout this script builds changes (it is part of the cache key).
readonly LAYOUT=1

die() {
  echo "::error title=flaggate: installation failed::$*" >&2
  exit 1
}
warn() { echo "::warning title=flaggate: installation::$*" >&2; }
now() { echo "${EPOCHREALTIME:-$(date +%s)}"; }

case $(uname -s) in
  Linux | Darwin) ;;
  *) die "the flaggate action runs on Linux and macOS runners, not on $(uname -s)" ;;
esac
action_path=${GITHUB_ACTION_PATH:-}
[[ -n $action_path && -f $action_path/pyproject.toml && -d $action_path/src/flaggate ]] ||
  die "GITHUB_ACTION_PATH (${action_path:-unset}) is not a flaggate checkout"
action_path=$(cd "$action_path" && pwd -P)
temp=${RUNNER_TEMP:-}
[[ -n $temp && -d $temp ]] || die "RUNNER_TEMP (${temp:-unset}) is not a directory"
temp=$(cd "$temp" && pwd -P)
venv=${FLAGGATE_VENV:-$temp/flaggate-venv}
[[ $venv == /* ]] || die "FLAGGATE_VENV ($venv) must be an absolute path"
installer=${FLAGGATE_INSTALLER:-auto}
case $installer in
  auto | uv | pip) ;;
  *) die "FLAGGATE_INSTALLER=$installer: use auto, uv or pip" ;;
esac
base_python=${FLAGGATE_BASE_PYTHON:-python3}
command -v "$base_python" >/dev/null ||
  die "$base_python not found: flaggate needs Python >= 3.11 (add actions/setup-python first)"
started=$(now)
# Never run Python from the workspace (the pull request's files): `python -m x` and `python -c`
# put the current directory first on sys.path. -I keeps it (and PYTHON* variables) out too.
cd "$temp"

# One interpreter start: check the version, read the dependencies, fingerprint both.
# Output: `<version> <fingerprint>`, the interpreter's path, then one dependency per line.
meta=$(
  "$base_python" -I - "$action_path/pyproject.toml" "$LAYOUT" <<'PY'
import hashlib, os, sys

if sys.version_info < (3, 11):
    print(f"Python {sys.version.split()[0]} is too old: flaggate needs >= 3.11", file=sys.stderr)
    sys.exit(3)
import tomllib

with open(sys.argv[1], "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
version = ".".join(map(str, sys.version_info[:3]))
interpreter = os.path.realpath(sys.executable)
seed = "\n".join([sys.argv[2], version, interpreter, sys.platform, *deps])
print(version, hashlib.sha256(seed.encode()).hexdigest()[:16])
print(sys.executable)
print(*deps, sep="\n")
PY
) || die "cannot use $base_python: flaggate needs Python >= 3.11 (add actions/setup-python first)"
read -r py_version fingerprint <<<"${meta%%$'\n'*}"
# From here on the interpreter itself, not a launcher (a pyenv shim costs ~0.1 s a call).
base_python=$(sed -n 2p <<<"$meta")
deps=()
while IFS= read -r dep; do deps+=("$dep"); done < <(tail -n +3 <<<"$meta")
((${#deps[@]} > 0)) || die "no dependencies found in $action_path/pyproject.toml"

output() {
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then echo "$1" >>"$GITHUB_OUTPUT"; else echo "$1"; fi
}

if [[ ${1:-} == --cache-key ]]; then
  output "key=flaggate-venv-$(uname -s)-$(uname -m)-py$py_version-$fingerprint"
  exit 0
elif [[ $# -gt 0 ]]; then
  die "unknown argument $1 (usage: install-action.sh [--cache-key])"
fi

vpy=$venv/bin/python
stamp=$venv/.flaggate-stamp

install_with_uv() {
  # Bytecode compiled by uv's parallel workers: cheaper than compiling on first import, and a
  # venv saved by actions/cache then holds it too.
  "$1" pip install --quiet --compile-bytecode --python "$vpy" "${deps[@]}"
}

install_with_pip() {
  # The interpreter's own pip installs into the venv (--python, pip >= 22.3): no pip inside the
  # venv, which saves `ensurepip` (seconds). Without a usable pip there, ensurepip it is.
  local check='import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))'
  if "$base_python" -I -c "$check" 2>/dev/null; then
    "$base_python" -I -m pip --python "$vpy" install --quiet --no-compile \
      --disable-pip-version-check "${deps[@]}"
  else
    "$vpy" -I -m ensurepip --default-pip >/dev/null &&
      "$vpy" -I -m pip install --quiet --no-compile --disable-pip-version-check "${deps[@]}"
  fi
}

find_uv() {
  # uv on PATH, else a copy bootstrapped from PyPI with the interpreter's pip.
  if command -v uv >/dev/null; then
    command -v uv
    return 0
  fi
  local tool=$temp/flaggate-uv
  if [[ ! -x $tool/bin/uv ]]; then
    rm -rf "$tool"
    "$base_python" -I -m venv --without-pip "$tool" >&2 &&
      "$base_python" -I -m pip --python "$tool/bin/python" install --quiet --no-compile \
        --disable-pip-version-check "${FLAGGATE_UV_REQUIREMENT:-uv>=0.5}" >&2 ||
      return 1
  fi
  echo "$tool/bin/uv"
}

# Sets $route to uv or pip; exits when nothing could install the dependencies.
install_venv() {
  rm -rf "$venv"
  "$base_python" -I -m venv --without-pip "$venv" || die "cannot create a virtualenv at $venv"
  route=""
  if [[ $installer != pip ]]; then
    local uv
    if uv=$(find_uv); then
      if install_with_uv "$uv"; then
        route=uv
        return 0
      fi
      [[ $installer == uv ]] && die "uv could not install ${deps[*]}"
      warn "uv could not install the dependencies; retrying with pip"
    else
      [[ $installer == uv ]] && die "uv is not on PATH and could not be installed from PyPI"
      echo "flaggate: uv not available; installing with pip"
    fi
  fi
  install_with_pip || die "pip could not install ${deps[*]}"
  route=pip
}

# flaggate itself, from the action's checkout (rewritten every time: a restored venv may come
# from a run of another ref of the action, at another path); then the smoke test: every module
# the entry point needs imports (which also writes their bytecode for the run that follows).
link_and_check() {
  local site
  site=$("$vpy" -I -c 'import sysconfig; print(sysconfig.get_path("purelib"))') || return 1
  echo "$action_path/src" >"$site/flaggate-action.pth"
  printf '#!%s -I\nimport sys\nfrom flaggate.cli import main\nsys.exit(main())\n' "$vpy" \
    >"$venv/bin/flaggate"
  chmod +x "$venv/bin/flaggate"
  "$vpy" -I -c 'import flaggate.cli, flaggate.commands.github'
}

route=""
if [[ -f $stamp && $(<"$stamp") == "$fingerprint" ]]; then
  route=cached
  if ! link_and_check 2>/dev/null; then
    warn "the cached virtualenv at $venv does not work; installing afresh"
    route=""
  fi
elif [[ -e $venv ]]; then
  echo "flaggate: discarding the virtualenv at $venv (built for other dependencies)"
fi
if [[ -z $route ]]; then
  install_venv
  link_and_check || die "flaggate does not import after installation with $route (see above)"
  echo "$fingerprint" >"$stamp"
fi

elapsed=$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
echo "flaggate: ready in ${elapsed}s ($route; Python $py_version; $venv)"
output "python=$vpy"
output "installer=$route"
