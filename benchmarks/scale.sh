#!/usr/bin/env bash
# The scale benchmarks of issue 16 at one corpus size, one after the other, with progress on stderr:
# ingest/analyze peak RSS (with the old settings as a peer below 10M), sync from an S3-compatible
# server vs ingest of the same files (below 10M), the Spark job over the archive layout vs the local engine.
# Results are appended to benchmarks/results/scale.md. Corpora stay in $WORK for the next run.
#   benchmarks/scale.sh 100000      # a few minutes
#   benchmarks/scale.sh 1000000     # ~1 hour on a quiet 2-core machine
#   benchmarks/scale.sh 10000000    # many hours, ~60 GB in $WORK: only on a quiet machine (load < 3)
set -euo pipefail
N=${1:?usage: benchmarks/scale.sh COUNT}
WORK=${WORK:-/tmp/cw-scale}
PY=${PY:-.venv/bin/python}
cd "$(dirname "$0")/.."
echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) scale benchmarks at $N" >&2
baseline=--baseline
[ "$N" -ge 10000000 ] && baseline=   # the old settings' peer only below 10M (hours more)
$PY benchmarks/ingest_memory.py --counts "$N" $baseline --work "$WORK"
if [ "$N" -lt 10000000 ]; then         # sync at 10M would hold the whole archive in moto's memory
  $PY benchmarks/sync.py --count "$N" --work "$WORK"
fi
$PY benchmarks/spark_scale.py --counts "$N" --work "$WORK"
echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) done" >&2
