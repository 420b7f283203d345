#!/usr/bin/env bash
# Every test: lint, ansible-test sanity, fast tests (no host: docs, changelog, the built tarball,
# templates...), then every molecule scenario on one local systemd test host.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

started=$SECONDS
step() { printf '\n=== %s (at %ds)\n' "$*" $((SECONDS - started)); }
# Molecule's "scenario ➜ action" lines get the time since the start, so each scenario's time shows
# (molecule runs unbuffered: piped, Python would hold its output back until the end).
stamp() { while IFS= read -r line; do
  case "$line" in *➜*) printf '[at %ds] %s\n' $((SECONDS - started)) "$line" ;; *) printf '%s\n' "$line" ;; esac
done; }

step "setup"
bash tools/setup.sh
# shellcheck source=tools/env.sh
source tools/env.sh

step "yamllint"
yamllint --strict .
step "ansible-lint (production profile)"
ansible-lint
step "ansible-test sanity"
bash tools/sanity.sh
step "fast tests (no host)"
python -m pytest tests/unit

step "test host"
bash tools/testhost.sh up
trap 'bash tools/testhost.sh down' EXIT

# Scenarios with hosts of their own (shared_state: false) run after those that share one host.
OWN_HOSTS=(rolling_update system_install debian13)
step "molecule: every scenario on one shared host"
PYTHONUNBUFFERED=1 molecule test --all "${OWN_HOSTS[@]/#/--exclude=}" 2>&1 | stamp
step "molecule: ${OWN_HOSTS[*]}, each on hosts of its own"
PYTHONUNBUFFERED=1 molecule test "${OWN_HOSTS[@]/#/--scenario-name=}" 2>&1 | stamp

step "done in $((SECONDS - started)) s"
