#!/usr/bin/env bash
# The benchmarks suite: every benchmark on local systemd test hosts (containers named pyops-bench*),
# load generated inside each host against its own loopback. Writes
# benchmarks/results/<UTC timestamp>/results.json, summary.txt and one PNG per benchmark.
#   bash benchmarks/run.sh                  full run (~15 min on 2 cores)
#   BENCH_QUICK=1 bash benchmarks/run.sh    short runs, for development
#   BENCH_ONLY=throughput,stop bash benchmarks/run.sh   some benchmarks only
# Other knobs (BENCH_*): benchmarks/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash tools/setup.sh
# shellcheck source=tools/env.sh
source tools/env.sh
python -c 'import matplotlib' 2>/dev/null || {
  echo "matplotlib is missing from .venv: it is pinned in requirements-test.txt (bash tools/setup.sh installs it)" >&2
  exit 1
}
bash tools/testhost.sh up
cd benchmarks
exec python bench.py
