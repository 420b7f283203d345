#!/usr/bin/env bash
# Every test: yamllint; then ansible-lint, ansible-test sanity and the fast tests (no host: docs,
# changelog, the built tarball, templates...) on every tested ansible-core (tests/requirements/);
# then every molecule scenario on local systemd test hosts with the newest core, and the default
# scenario again with the oldest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

started=$SECONDS
step() { printf '\n=== %s (at %ds)\n' "$*" $((SECONDS - started)); }
# Molecule's "scenario ➜ action" lines get the time since the start, so each scenario's time shows
# (molecule runs unbuffered: piped, Python would hold its output back until the end).
# With a tag, every line is tagged (two molecule runs side by side write to the same output).
stamp() { local tag=${1:+[$1] }; while IFS= read -r line; do
  case "$line" in *➜*) printf '%s[at %ds] %s\n' "$tag" $((SECONDS - started)) "$line" ;; *) printf '%s%s\n' "$tag" "$line" ;; esac
done; }

# The tested cores, oldest first (one toolchain each: tools/setup.sh).
mapfile -t CORES < <(for f in tests/requirements/core-*.txt; do f=${f##*/core-}; echo "${f%.txt}"; done | sort -V)
OLDEST=${CORES[0]}
NEWEST=${CORES[-1]}
# A command with one core's toolchain on PATH.
on_core() { (PYOPS_CORE=$1 source tools/env.sh && shift && "$@"); }

step "setup (ansible-core ${CORES[*]})"
bash tools/setup.sh
unset PYOPS_CORE  # the newest core's toolchain, whatever the caller's environment says
# shellcheck source=tools/env.sh
source tools/env.sh

step "yamllint"
yamllint --strict .
for core in "${CORES[@]}"; do
  step "ansible-core $core: ansible-lint (production profile)"
  on_core "$core" ansible-lint
done
for core in "${CORES[@]}"; do
  step "ansible-core $core: ansible-test sanity"
  PYOPS_CORE=$core bash tools/sanity.sh
done
# galaxy-importer checks the built tarball (its own linters and ansible-doc of every module), which is
# the same whatever the core: it runs once, with the newest core's toolchain, and not again per core.
IMPORTER=tests/unit/test_build.py::test_galaxy_importer_accepts_the_tarball_with_no_error_or_warning
for core in "${CORES[@]}"; do
  step "ansible-core $core: fast tests (no host)"
  if [ "$core" = "$NEWEST" ]; then
    on_core "$core" python -m pytest tests/unit
  else
    on_core "$core" python -m pytest tests/unit --deselect "$IMPORTER"
  fi
done

step "test host"
bash tools/testhost.sh up
# One empty pip cache for every test host of this run (.config/molecule/config.yml mounts it): uWSGI is
# built from source once per Python version, with this run's build packages, and never from an earlier
# run's wheel.
PYOPS_PIP_CACHE=$(mktemp -d /var/tmp/pyops-uwsgi-pip-cache.XXXXXX)
export PYOPS_PIP_CACHE
trap 'bash tools/testhost.sh down; rm -rf "$PYOPS_PIP_CACHE"' EXIT

# Scenarios with hosts of their own (shared_state: false) run beside those that share one host, in a
# second molecule run: on 2 cores the two overlap (most of a scenario's time is spent waiting on its
# hosts). Every scenario runs on the newest core (what
# new users install); the default scenario runs again on the oldest (its converge, idempotence and tests),
# after the shared-host scenarios on the same host name, so both ends of requires_ansible run a host.
OWN_HOSTS=(rolling_update system_install debian13 faults sizing)
# Each side's output is also kept in a log of its own, so a failure can be shown again at the end (the
# two sides' lines interleave, and a reader of the run's tail would see only the side that ended last).
LOGS=$(mktemp -d /var/tmp/pyops-molecule-logs.XXXXXX)
shared_hosts() {
  PYTHONUNBUFFERED=1 on_core "$NEWEST" molecule test --all "${OWN_HOSTS[@]/#/--exclude=}" 2>&1 | stamp shared | tee -a "$LOGS/shared"
  printf '[shared] === molecule (ansible-core %s): default (at %ds)\n' "$OLDEST" $((SECONDS - started)) | tee -a "$LOGS/shared"
  PYTHONUNBUFFERED=1 on_core "$OLDEST" molecule test --scenario-name=default 2>&1 | stamp shared | tee -a "$LOGS/shared"
}
own_hosts() {
  printf '[own] === molecule (ansible-core %s): %s (at %ds)\n' "$NEWEST" "${OWN_HOSTS[*]}" $((SECONDS - started)) | tee -a "$LOGS/own"
  PYTHONUNBUFFERED=1 on_core "$NEWEST" molecule test "${OWN_HOSTS[@]/#/--scenario-name=}" 2>&1 | stamp own | tee -a "$LOGS/own"
}
# What failed on one side: its failing tasks and tests with the lines around them, then its last lines.
show_failure() {
  step "molecule: what failed on the $1 side (again, from its own log)"
  grep -v 'FAILED - RETRYING' "$LOGS/$1" | grep -B 12 -A 25 -E 'fatal: |FAILED|failed=[1-9]|ERROR|Error: ' | tail -n 400 || true
  printf '\n--- the last 60 lines of the %s side\n' "$1"
  tail -n 60 "$LOGS/$1"
}
step "molecule: the shared host's scenarios (ansible-core $NEWEST, then default on $OLDEST) beside ${OWN_HOSTS[*]} (ansible-core $NEWEST, hosts of their own)"
shared_hosts &
shared_pid=$!
own_hosts &
own_pid=$!
shared_rc=0
own_rc=0
wait "$shared_pid" || shared_rc=$?
wait "$own_pid" || own_rc=$?
step "molecule: shared host exit $shared_rc, own hosts exit $own_rc"
# (Not `[ ] && [ ]`: set -e ignores a failure that is not the last command of an && list.)
if [ "$shared_rc" -ne 0 ] || [ "$own_rc" -ne 0 ]; then
  if [ "$own_rc" -ne 0 ]; then show_failure own; fi
  if [ "$shared_rc" -ne 0 ]; then show_failure shared; fi
  step "molecule: shared host exit $shared_rc, own hosts exit $own_rc"
  exit 1
fi
rm -rf "$LOGS"

step "done in $((SECONDS - started)) s"
