#!/usr/bin/env bash
# Installs what the test suite needs beyond `npm ci`: Debian's Chromium for the web UI's
# end-to-end tests (driven by playwright-core; never `npx playwright install`, which downloads
# a browser build), and python3 with pip for the Python client's tests (python-client.test.ts
# runs `python3` scripts and `python3 -m pip install --target`), and Debian's PostgreSQL server
# for the PostgreSQL store's tests (test/helpers/postgres.ts starts a throwaway cluster with its
# initdb and pg_ctl; the packaged cluster is not used), and Debian's Slurm with munge for the
# Slurm executor's tests (scripts/slurm-start.sh starts a single-node cluster; no accounting
# database is needed), and iproute2's `ip` for the remote agents' tests in network namespaces
# (scripts/netns-hosts.sh), and a C compiler for the native spawn helper `npm run build` builds
# (scripts/build-native.mjs; better-sqlite3's build needs one too). Idempotent: installs only what is
# missing, and does nothing when all of it is there.
set -euo pipefail

missing=()
if [ -x /usr/bin/chromium ]; then
  echo "install-test-deps: chromium already installed ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
else
  missing+=(chromium)
fi
if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  echo "install-test-deps: python3 and pip already installed ($(python3 --version 2>&1))"
else
  missing+=(python3 python3-pip)
fi
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "install-test-deps: postgresql already installed ($(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1))"
else
  missing+=(postgresql)
fi
if command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
  echo "install-test-deps: slurm already installed ($(sinfo --version 2>/dev/null || echo unknown version))"
else
  missing+=(slurm-wlm munge)
fi
if command -v ip >/dev/null 2>&1; then
  echo "install-test-deps: ip (iproute2) already installed"
else
  missing+=(iproute2)
fi
if command -v cc >/dev/null 2>&1; then
  echo "install-test-deps: a C compiler is installed ($(cc --version 2>/dev/null | head -1))"
else
  missing+=(gcc libc6-dev)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-test-deps: need root (or sudo) to apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-test-deps: installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
if [ -x /usr/bin/chromium ]; then
  echo "install-test-deps: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium installed')"
fi
echo "install-test-deps: $(python3 --version 2>&1), $(python3 -m pip --version 2>&1 | cut -d' ' -f1-2)"
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "install-test-deps: postgresql in $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
if command -v slurmctld >/dev/null 2>&1; then
  echo "install-test-deps: $(sinfo --version 2>/dev/null || echo 'slurm installed')"
fi
