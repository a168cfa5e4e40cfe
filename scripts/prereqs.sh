#!/usr/bin/env bash
# Installs what the build and the tests need, when it is missing. Idempotent and non-interactive:
# a second run does no network and takes well under two seconds.
#   - the .NET SDK must already be there (global.json pins it); we only check it.
#   - Debian packages through apt-get (apt-get update runs only when something must be installed).
#   - npm packages: `npm ci` in every folder under tests/ and bench/ that has a package-lock.json,
#     when its node_modules (git-ignored) is missing or older than the lock file.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(python3-grpcio python3-grpc-tools python3-yaml grpc-proto protobuf-compiler postgresql tmux systemd curl)
NPM_ROOTS=(tests bench)

say() { printf 'prereqs: %s\n' "$*" >&2; }
die() { printf 'prereqs: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root to run '$*' (not root and no sudo)"
  fi
}

# 1. .NET SDK (resolved through global.json from the repository root)
command -v dotnet >/dev/null 2>&1 ||
  die "the .NET SDK is not installed: 'dotnet' is not on PATH (global.json asks for 10.0.100 or a later feature band)"
sdk=$(dotnet --version 2>&1) ||
  die "no installed .NET SDK satisfies global.json (10.0.100, rollForward latestFeature): ${sdk}"
say "dotnet SDK ${sdk}"

# 2. Debian packages
missing=()
for p in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || die "missing Debian packages (${missing[*]}) and no apt-get"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
else
  say "Debian packages present (${#APT_PACKAGES[@]})"
fi

# 3. npm packages
npm_dirs=()
for root in "${NPM_ROOTS[@]}"; do
  [[ -d $root ]] || continue
  while IFS= read -r -d '' lock; do
    npm_dirs+=("$(dirname "$lock")")
  done < <(find "$root" -name node_modules -prune -o -name package-lock.json -type f -print0 | sort -z)
done
for dir in ${npm_dirs[@]+"${npm_dirs[@]}"}; do
  [[ -f $dir/package.json ]] || continue
  if [[ -d $dir/node_modules && ! $dir/package-lock.json -nt $dir/node_modules ]]; then
    say "npm packages present in ${dir}"
    continue
  fi
  command -v npm >/dev/null 2>&1 || die "npm is needed for ${dir} but is not installed"
  say "npm ci in ${dir}"
  (cd "$dir" && npm ci --no-audit --no-fund </dev/null >&2) || die "npm ci failed in ${dir}"
  touch "$dir/node_modules"
done

say "ok"
