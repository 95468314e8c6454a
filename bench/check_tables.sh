#!/bin/sh
# check_tables.sh BIN_DIR PYTHON — the ctest "bench_tables": runs the
# benchmarks that need no server (bench_memory, bench_sqlite) very briefly,
# two repetitions each as scripts/bench does, and checks with
# bench_table.py --check that every case the tables of docs/benchmarks.md
# name has a median (a renamed or removed case would otherwise drop out of
# the next scripts/bench table unnoticed). Figures from this run mean
# nothing: sqlite runs with synchronous=off to stay short.
set -eu
bin="$1"
python="$2"
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d /tmp/evdb-bench-check-XXXXXX)"
trap 'rm -rf "${out}"' EXIT
flags="--benchmark_repetitions=2 --benchmark_report_aggregates_only=true --benchmark_out_format=json"
# shellcheck disable=SC2086 # flags is a list
"${bin}/bench_memory" --benchmark_min_time=0.01 ${flags} --benchmark_out="${out}/memory.json" >/dev/null
# shellcheck disable=SC2086
"${bin}/bench_sqlite" --sync=off ${flags} --benchmark_out="${out}/sqlite-normal.json" >/dev/null
"${python}" "${here}/bench_table.py" --check "${out}"
"${python}" "${here}/bench_table.py" "${out}" >/dev/null
echo "bench_tables: every case of the memory and sqlite tables ran"
