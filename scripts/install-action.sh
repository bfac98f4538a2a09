#!/usr/bin/env bash
# Install flaggate for the GitHub Action (action.yml runs this; so does
# benchmarks/bench_action_install.py, to time exactly the same step).
#
# What it installs: flaggate's runtime dependencies, pinned with their sha256 hashes in the
# action's own scripts/action-lock.txt (generated from pyproject.toml by
# scripts/update-action-lock.py), into a virtualenv under $RUNNER_TEMP; and flaggate itself from
# the action's own checkout: $GITHUB_ACTION_PATH/src/flaggate copied into the venv and put on its
# sys.path by a .pth file (an editable-style install without running a build backend, which
# saves about a second). The copy is compared with the action's source on every run and made
# again when they differ; being in the venv, its bytecode is cached with it.
# Nothing is ever read from the pull request's head: the workspace is not touched.
#
# How (fastest first):
#   1. a venv already at $FLAGGATE_VENV, restored by actions/cache, built for the same lock and
#      interpreter (its stamp file says so) and still whole: reused as it is;
#   2. uv, when `uv` is on PATH;
#   3. uv from its wheel on PyPI, pinned in the lock (URL and sha256 for this platform):
#      downloaded with curl while the venv is created, checked against the hash and unpacked
#      with Python's zipfile; a wrong hash stops here with an ::error:: (nothing in the wheel
#      runs). No pin for this platform, no curl or no network: uv bootstrapped from PyPI with
#      the interpreter's pip instead (the pinned version);
#   4. plain pip, when uv cannot be had or fails.
# uv and pip both install the lock as it is (--require-hashes --no-deps: no resolution, every
# file checked against its hash). Should the lock no longer match pyproject.toml's
# dependencies (a name missing, a pin below a lower bound), the dependencies are installed
# from pyproject.toml unpinned instead, with a ::warning::.
# Whatever the route, flaggate's command line must then import in the venv, or the step fails
# with an ::error:: annotation. Nothing is compiled to bytecode up front (uv's --compile-bytecode
# costs about a second, compiling every module, 40% of which flaggate never imports): the first
# evaluation writes the bytecode of what it uses, and actions/cache saves the venv with it.
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
#   FLAGGATE_UV_DOWNLOAD  1 (default) | 0: never download uv's wheel directly (route 3 then
#                         bootstraps uv with pip). Also off when UV_OFFLINE, PIP_NO_INDEX or a
#                         custom index (PIP_INDEX_URL, UV_INDEX_URL, UV_DEFAULT_INDEX) is set.
#   FLAGGATE_UV_REQUIREMENT  what to bootstrap with pip (default: uv==<the pinned version>)
#   PIP_CACHE_DIR, UV_CACHE_DIR and the other pip/uv settings are honoured.
set -euo pipefail

# Bump when the venv layout this script builds changes (it is part of the cache key).
readonly LAYOUT=2

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
lock=$action_path/scripts/action-lock.txt
[[ -f $lock ]] || die "$lock is missing (regenerate it: python scripts/update-action-lock.py)"
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

# One interpreter start (-S: the standard library only; what the interpreter's own
# site-packages run at start-up can cost 40 ms): check the version, read the dependencies and
# the lock, check that the lock still matches the dependencies, fingerprint it all. Output
# lines: `<version> <fingerprint>`, the interpreter's path, the venv's site-packages, why the
# lock is stale (empty when it is not), then one dependency per line.
meta=$(
  "$base_python" -I -S - "$action_path/pyproject.toml" "$lock" "$LAYOUT" "$venv" <<'PY'
import hashlib, os, sys

if sys.version_info < (3, 11):
    print(f"Python {sys.version.split()[0]} is too old: flaggate needs >= 3.11", file=sys.stderr)
    sys.exit(3)
import re, sysconfig, tomllib

pyproject, lock_path, layout, venv = sys.argv[1:5]
with open(pyproject, "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
with open(lock_path, "rb") as f:
    lock = f.read()


def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def release(version):
    found = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(map(int, found[0].split("."))) if found else ()


pins = {key(n): v for n, v in re.findall(r"^([A-Za-z0-9][\w.-]*)==([\w.!+]+)", lock.decode(), re.M)}
stale = []
for dep in deps:
    name, bounds = re.match(r"\s*([A-Za-z0-9][\w.-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)", dep).groups()
    pin = pins.get(key(name))
    if pin is None:
        stale.append(f"{name} is not in it")
    for op, bound in re.findall(r"(>=|==|~=|>)\s*([\w.]+)", bounds) if pin else ():
        if release(pin) < release(bound):
            stale.append(f"it pins {name}=={pin}, pyproject.toml asks for {name}{op}{bound}")
version = ".".join(map(str, sys.version_info[:3]))
interpreter = os.path.realpath(sys.executable)
lock_hash = hashlib.sha256(lock).hexdigest()
seed = "\n".join([layout, version, interpreter, sys.platform, lock_hash, *deps])
print(version, hashlib.sha256(seed.encode()).hexdigest()[:16])
print(sys.executable)
print(sysconfig.get_path("purelib", "venv", vars={"base": venv, "platbase": venv}))
print("; ".join(stale))
print(*deps, sep="\n")
PY
) || die "cannot use $base_python: flaggate needs Python >= 3.11 (add actions/setup-python first)"
{
  read -r py_version fingerprint
  # From here on the interpreter itself, not a launcher (a pyenv shim costs ~0.1 s a call).
  read -r base_python
  read -r site
  read -r stale
  deps=()
  while IFS= read -r dep; do deps+=("$dep"); done
} <<<"$meta"
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
# What uv and pip install: the lock as it is, or (stale lock) the dependencies, resolved.
if [[ -z $stale ]]; then
  requirements=(--require-hashes --no-deps -r "$lock")
else
  warn "scripts/action-lock.txt does not match pyproject.toml ($stale): installing the" \
    "dependencies unpinned (regenerate the lock: python scripts/update-action-lock.py)"
  requirements=("${deps[@]}")
fi

install_with_uv() {
  "$1" pip install --quiet --python "$vpy" "${requirements[@]}"
}

install_with_pip() {
  # The interpreter's own pip installs into the venv (--python, pip >= 22.3): no pip inside the
  # venv, which saves `ensurepip` (seconds). Without a usable pip there, ensurepip it is.
  local check='import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))'
  if "$base_python" -I -c "$check" 2>/dev/null; then
    "$base_python" -I -m pip --python "$vpy" install --quiet --no-compile \
      --disable-pip-version-check "${requirements[@]}"
  else
    "$vpy" -I -m ensurepip --default-pip >/dev/null &&
      "$vpy" -I -m pip install --quiet --no-compile --disable-pip-version-check \
        "${requirements[@]}"
  fi
}

# uv's wheel for this platform, pinned in the lock: download, check, unpack. Sets $uv. Returns
# 1 when it cannot be had (no pin for this platform, downloads switched off, no curl, a network
# error); exits when the download does not match its hash.
download_uv() {
  local entry version sha url tool
  case ${FLAGGATE_UV_DOWNLOAD:-1} in
    0 | false | no) return 1 ;;
  esac
  # Offline, or told to use another index than PyPI: not from PyPI then.
  [[ -z ${UV_OFFLINE:-}${PIP_NO_INDEX:-} ]] || return 1
  [[ -z ${PIP_INDEX_URL:-}${UV_INDEX_URL:-}${UV_DEFAULT_INDEX:-} ]] || return 1
  entry=$(grep -m1 "^# uv-wheel $(uname -s)-$(uname -m) " "$lock") || return 1
  read -r _ _ _ version sha url <<<"$entry"
  tool=$temp/flaggate-uv/$version-${sha:0:16}
  uv=$tool/uv
  [[ -x $uv ]] && return 0 # this job already has it
  command -v curl >/dev/null || return 1
  rm -rf "$tool" && mkdir -p "$tool" || return 1
  curl --fail --silent --show-error --location --retry 2 --connect-timeout 10 \
    --output "$tool/uv.whl" "$url" >&2 || return 1
  # Exit 3: the wheel is not the one pinned; nothing of it is used.
  "$base_python" -I -S - "$tool/uv.whl" "$sha" "$uv" <<'PY' || { (($? == 3)) && exit 1; return 1; }
import hashlib, io, os, shutil, sys, zipfile

wheel, expected, dest = sys.argv[1:4]
with open(wheel, "rb") as f:
    data = f.read()
got = hashlib.sha256(data).hexdigest()
if got != expected:
    print(
        f"::error title=flaggate: installation failed::the uv wheel downloaded has sha256 {got},"
        f" scripts/action-lock.txt pins {expected}: not using it",
        file=sys.stderr,
    )
    sys.exit(3)
with zipfile.ZipFile(io.BytesIO(data)) as wheel_zip:
    [member] = [n for n in wheel_zip.namelist() if n.endswith(".data/scripts/uv")]
    with wheel_zip.open(member) as src, open(dest + ".part", "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
os.chmod(dest + ".part", 0o755)
os.replace(dest + ".part", dest)
PY
  rm -f "$tool/uv.whl"
  # A binary for another C library (a musl system) does not start: not usable, not fatal.
  "$uv" --version >/dev/null 2>&1 || return 1
}

# uv bootstrapped from PyPI with the interpreter's pip. Sets $uv.
bootstrap_uv() {
  local tool=$temp/flaggate-uv/pip requirement=${FLAGGATE_UV_REQUIREMENT:-}
  if [[ -z $requirement ]]; then
    requirement=uv$(grep -m1 '^# uv-wheel ' "$lock" | awk '{ print "==" $4 }') || requirement=uv
  fi
  uv=$tool/bin/uv
  [[ -x $uv ]] && return 0
  rm -rf "$tool"
  "$base_python" -I -m venv --without-pip "$tool" >&2 &&
    "$base_python" -I -m pip --python "$tool/bin/python" install --quiet --no-compile \
      --disable-pip-version-check "$requirement" >&2
}

# Sets $uv to a uv binary: on PATH, else the pinned wheel, else bootstrapped with pip; and
# $uv_from to which.
find_uv() {
  if uv=$(command -v uv); then
    uv_from="uv on PATH"
  elif download_uv; then
    uv_from="uv from the pinned wheel"
  else
    uv_from="uv bootstrapped with pip"
    bootstrap_uv
  fi
}

# The venv is made in the background while uv is looked for (and downloaded): two processes,
# two cores. venv_ready waits for it.
making_venv=""
venv_ready() {
  if [[ -n $making_venv ]]; then
    wait "$making_venv" || die "cannot create a virtualenv at $venv"
    making_venv=""
  fi
}

# Sets $route to uv or pip; exits when nothing could install the dependencies.
install_venv() {
  rm -rf "$venv"
  "$base_python" -I -m venv --without-pip "$venv" &
  making_venv=$!
  route=""
  if [[ $installer != pip ]]; then
    if find_uv; then
      venv_ready
      if install_with_uv "$uv"; then
        route=uv
        return 0
      fi
      [[ $installer == uv ]] && die "uv could not install the dependencies (see above)"
      warn "uv could not install the dependencies; retrying with pip"
    else
      [[ $installer == uv ]] && die "uv is not on PATH and could not be installed from PyPI"
      echo "flaggate: uv not available; installing with pip"
    fi
  fi
  venv_ready
  install_with_pip || die "pip could not install the dependencies (see above)"
  route=pip
}

# flaggate itself, from the action's checkout, and the console script. A restored venv may come
# from a run of another ref of the action: its copy of flaggate is compared with the action's
# source (a few milliseconds) and made again when anything differs.
copy=$venv/flaggate-action
link() {
  [[ -d $site ]] || return 1
  if ! { cmp -s "$action_path/pyproject.toml" "$copy/pyproject.toml" &&
    diff -r -q -x __pycache__ "$action_path/src/flaggate" "$copy/src/flaggate" >/dev/null; }; then
    rm -rf "$copy" && mkdir -p "$copy/src" &&
      cp "$action_path/pyproject.toml" "$copy/pyproject.toml" &&
      cp -R "$action_path/src/flaggate" "$copy/src/flaggate" || return 1
    # Bytecode that came with the action's checkout is not the copy's: Python makes its own.
    find "$copy/src" -name __pycache__ -type d -prune -exec rm -rf {} + || return 1
  fi
  echo "$copy/src" >"$site/flaggate-action.pth" || return 1
  printf '#!%s -I\nimport sys\nfrom flaggate.cli import main\nsys.exit(main())\n' "$vpy" \
    >"$venv/bin/flaggate" && chmod +x "$venv/bin/flaggate"
}

# The check, after an installation and of a restored venv alike: the venv's interpreter runs
# and imports flaggate's command line from the copy. Deliberately not `import
# flaggate.commands.github`: the evaluation that follows imports it anyway, and doing it here too
# would cost a second on a fresh runner (compiling every module) and 0.4 s on a cache hit. uv and
# pip install the lock whole or fail.
check() {
  link && "$vpy" -I -c 'import flaggate.cli'
}

# A restored venv must also still hold every distribution recorded in its stamp.
restored_venv_works() {
  local first=1 record
  while IFS= read -r record; do
    if ((first)); then
      first=0
    else
      [[ -f $site/$record/RECORD ]] || return 1
    fi
  done <"$stamp"
  check
}

route=""
uv_from=""
stamped=""
[[ -f $stamp ]] && { read -r stamped <"$stamp" || true; }
if [[ $stamped == "$fingerprint" ]]; then
  route=cached
  if ! restored_venv_works 2>/dev/null; then
    warn "the cached virtualenv at $venv does not work; installing afresh"
    route=""
  fi
elif [[ -e $venv ]]; then
  echo "flaggate: discarding the virtualenv at $venv (built for other dependencies)"
fi
if [[ -z $route ]]; then
  install_venv
  check || die "flaggate does not import after installation with $route (see above)"
  # The fingerprint, then the distributions installed (what a restored venv must still have).
  {
    echo "$fingerprint"
    for record in "$site"/*.dist-info; do
      if [[ -f $record/RECORD ]]; then echo "${record##*/}"; fi
    done
  } >"$stamp"
fi

elapsed=$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
how=$route
[[ $route == uv ]] && how=$uv_from
echo "flaggate: ready in ${elapsed}s ($how; Python $py_version; $venv)"
output "python=$vpy"
output "installer=$route"
