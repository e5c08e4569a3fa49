#!/usr/bin/env bash
# `make bench`: one readable markdown report, bench/out/report.md. Benchmarks report numbers; they
# never fail on one.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/out
mkdir -p "$out"
report=$out/report.md
count=${BENCH_COUNT:-5}
raw=$out/go-bench.txt

{
  echo "# resilience.ops benchmarks"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "- cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "- $(go version)"
  echo "- ansible-core: $(ansible --version 2>/dev/null | head -1 | sed 's/ansible //')"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "## Binary size per platform"
  echo
  echo "Static builds (CGO_ENABLED=0 -trimpath -ldflags='-s -w'); goals: qos_guard <= 3 MiB,"
  echo "retry_manager <= 4 MiB, qos_guard_release <= 12 MiB."
  echo
  echo "| binary | bytes | MiB |"
  echo "|---|---:|---:|"
  for f in plugins/modules/__bin/*; do
    s=$(stat -c %s "$f")
    awk -v n="$(basename "$f")" -v s="$s" 'BEGIN {printf "| %s | %d | %.2f |\n", n, s, s / 1048576}'
  done
  echo
} > "$report"

go test -run '^$' -bench . -benchmem -count "$count" ./... | tee "$raw" >/dev/null

{
  echo "## Go benchmarks (median of $count runs)"
  echo
  echo "| benchmark | median ns/op | other metrics (median) |"
  echo "|---|---:|---|"
  awk '
    /^Benchmark/ {
      name=$1; sub(/-[0-9]+$/, "", name)
      n[name]++; ns[name, n[name]]=$3
      extra=""
      for (i=5; i<=NF; i+=2) extra=extra $(i) " " $(i+1) "; "
      ex[name, n[name]]=extra
    }
    END {
      for (k in n) {
        c=n[k]
        for (i=1;i<=c;i++) v[i]=ns[k,i]+0
        for (i=1;i<=c;i++) for (j=i+1;j<=c;j++) if (v[j]<v[i]) {t=v[i];v[i]=v[j];v[j]=t}
        med=(c%2)?v[(c+1)/2]:(v[c/2]+v[c/2+1])/2
        printf "| %s | %.0f | %s |\n", k, med, ex[k,int((c+1)/2)]
      }
    }' "$raw" | sort
  echo
  echo "Raw output: \`$raw\`."
} >> "$report"
go run ./internal/cmd/contention_sim -out "$out" >/dev/null
{
  echo
  echo "## Contention: jitter modes (the AWS \"Exponential Backoff And Jitter\" experiment)"
  echo
  cat "$out/contention.md"
} >> "$report"
echo "bench: wrote $report"
cat "$report"
