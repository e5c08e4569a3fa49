#!/usr/bin/env bash
# `make bench`: one readable markdown report, bench/out/report.md, that compares the collection
# with what users would otherwise use, measured side by side in the same run on this machine.
# Benchmarks report numbers; they never fail on one. The script exits non-zero only when a
# section could not be measured at all (the report says which, and why).
#
# usage: tests/bench/run.sh [collection tarball]     (default: the one `make dist` builds)
# Knobs: BENCH_RUNS (playbook and retry runs, default 3), BENCH_COUNT (go test -count, default 5),
# BENCH_TASKS (tasks per block in the per-task playbook, default 100), BENCH_PROCS (concurrent
# processes, default 50), BENCH_OPS (operations per process, default 10), BENCH_REMOTE_RUNS (runs of
# each remote-host play, default 1; the remote case needs root and is skipped, and said so, without),
# BENCH_SESSION_OPS (the size a retry session grows to, default 100000), BENCH_FLEET_HOSTS (inventory
# sizes of the role on a fleet, default 50,500), BENCH_FLEET_RUNS (runs of each fleet play below 200
# hosts, default 2; one run from 200 hosts).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/bench
out=$root/bench/out
runs=${BENCH_RUNS:-3}
count=${BENCH_COUNT:-5}
tasks=${BENCH_TASKS:-100}
procs=${BENCH_PROCS:-50}
ops=${BENCH_OPS:-10}
session_ops=${BENCH_SESSION_OPS:-100000}
fleet_hosts=${BENCH_FLEET_HOSTS:-50,500}
fleet_runs=${BENCH_FLEET_RUNS:-2}
version=$(sed -n 's/^version: *//p' galaxy.yml)
tarball=${1:-dist/resilience-ops-$version.tar.gz}
goos=$(go env GOOS)
goarch=$(go env GOARCH)
platform=${goos}_${goarch}
bins=plugins/modules/__bin
started=$(date +%s)

rm -rf "$out"
mkdir -p "$out/raw" "$out/sections"
raw=$out/raw
summary=$out/sections/summary.md
: > "$summary"
work=$(mktemp -d "${TMPDIR:-/tmp}/resilience-ops-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()

# section <file> <heading> <command...>: the command's stdout is the section's body; when it
# fails, the section says so and the run goes on.
section() {
  local file=$out/sections/$1 heading=$2
  shift 2
  echo "bench: $heading"
  printf '%s\n\n' "$heading" >> "$file"
  if ! "$@" >> "$file" 2> "$raw/$(basename "$file" .md).err"; then
    printf '_Not measured: `%s` failed:_\n\n```\n%s\n```\n\n' "$(basename "$1") ${*:2}" \
      "$(tail -n 15 "$raw/$(basename "$file" .md).err")" >> "$file"
    failed+=("$heading")
  fi
}

# The peer of section 2: Debian's `retry` (also in .ci/deps).
if ! command -v retry >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bench: installing Debian's retry, to compare retry_backoff with it"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends retry; } \
    >/dev/null 2>&1 || echo "bench: could not install retry; the report will say it was not measured"
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
go build -o "$work/benchtool" ./tests/bench/benchtool
bt=$work/benchtool

# Go benchmarks, run first while nothing else of ours runs. Each package with a run count that
# suits it; a package that does not build is reported, not fatal.
gobench=$raw/go-bench.txt
: > "$gobench"
gobench_run() { # gobench_run <package> <benchmark regexp> <benchtime>
  echo "bench: go test -bench $2 $1"
  go test -run '^$' -bench "$2" -benchmem -count "$count" -benchtime "$3" "$1" >> "$gobench" 2>&1 || true
}
gobench_run ./internal/qosguard '^BenchmarkModuleInvocation$' 100x
gobench_run ./internal/retrymod '^BenchmarkModuleInvocation$' 100x
gobench_run ./internal/release '^BenchmarkModuleInvocation$' 50x
gobench_run ./internal/slo '^BenchmarkEvaluateConcurrent$' 10x
gobench_run ./internal/retry . 200ms
gobench_run ./internal/resilience . 500x
gobench_run ./internal/export . 200ms

# The collection as users install it.
export ANSIBLE_COLLECTIONS_PATH=$work/collections
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >/dev/null
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCAL_TEMP=$work/ansible-local ANSIBLE_REMOTE_TEMP=$work/ansible-remote
# The module cache of localhost's tasks, out of the user's home.
export RESILIENCE_OPS_MODULE_CACHE_DIR=$work/module-cache
inventory=$here/inventory
guard=$work/guard

# playbook <log> <playbook> <extra vars as JSON>
playbook() {
  ansible-playbook -i "$inventory" "$here/playbooks/$2" -e "$3" > "$raw/$1" 2>&1 || {
    echo "ansible-playbook $2 failed; the end of $raw/$1:" >&2
    tail -n 30 "$raw/$1" >&2
    return 1
  }
}

# 1. Per-task cost: the blocks in a different order in each run.
per_task() {
  local orders=('["stat", "qos_guard", "qos_guard_delegated"]' '["qos_guard", "qos_guard_delegated", "stat"]'
    '["qos_guard_delegated", "stat", "qos_guard"]') files=() i
  for ((i = 1; i <= runs; i++)); do
    playbook "per_task-$i.log" per_task.yml "{\"bench_tasks\": $tasks, \"bench_guard\": \"$guard\", \
\"bench_out\": \"$raw/per_task-$i.json\", \"bench_order\": ${orders[$(((i - 1) % 3))]}}" || return
    files+=("$raw/per_task-$i.json")
  done
  "$bt" pertask -summary "$summary" "${files[@]}"
}
# One module run of each, left on disk by ansible, timed alone.
invoke() {
  ANSIBLE_KEEP_REMOTE_FILES=1 ANSIBLE_REMOTE_TEMP=$work/keep \
    playbook keep.log keep.yml "{\"bench_guard\": \"$guard\"}" || return
  "$bt" invoke -keep "$work/keep" -n 30 -bin-dir "$bins" -platform "$platform" -gobench "$gobench" -summary "$summary"
}
# 2. The flaky command in a playbook.
flaky() {
  local orders=('["until", "retry_manager"]' '["retry_manager", "until"]') files=() i
  for ((i = 1; i <= runs; i++)); do
    playbook "flaky-$i.log" flaky.yml "{\"bench_flaky\": \"$here/flaky.sh\", \"bench_counter\": \"$work/flaky.count\", \
\"bench_out\": \"$raw/flaky-$i.json\", \"bench_order\": ${orders[$(((i - 1) % 2))]}}" || return
    files+=("$raw/flaky-$i.json")
  done
  "$bt" flaky -summary "$summary" "${files[@]}"
}
# 3. The AWS jitter experiment through the engine's own delay code.
contention() {
  go run ./internal/cmd/contention_sim -out "$out" > "$raw/contention_sim.log" || return
  cat "$out/contention.md" || return
  echo
  "$bt" contention-summary -md "$out/contention.md" -summary "$summary"
}

section 10-per-task.md "## 1. Per-task cost in a real playbook" true
section 11-per-task.md "### $tasks tasks of each module in one play" per_task
section 12-invoke.md "### One module run, as ansible runs it on the target" invoke
section 13-sizes.md "### Binary size per platform" "$bt" sizes -dir "$bins" -summary "$summary"
section 20-flaky.md "## 2. Retrying a flaky command" true
section 21-flaky.md "### In a playbook: retry_manager against until/retries/delay" flaky
section 22-cli.md "### From the command line: retry_backoff against a shell loop and Debian's retry" \
  "$bt" cliretry -runs "$runs" -retry-backoff build/bin/retry_backoff -flaky "$here/flaky.sh" -loop "$here/retry_loop.sh" -summary "$summary"
section 30-contention.md "## 3. Contention: jitter modes (the AWS \"Exponential Backoff And Jitter\" experiment)" contention
section 40-state.md "## 4. State under contention" \
  "$bt" state -bin-dir "$bins" -platform "$platform" -procs "$procs" -ops "$ops" -runs "$runs" -summary "$summary"
section 70-sessions.md "## 7. Retry sessions at fleet scale" true
section 71-sessions.md "### Recording into a session of up to $session_ops operations, and finalizing it" \
  "$bt" sessions -bin "$bins/retry_manager_$platform" -max "$session_ops" -step $((session_ops / 10)) -summary "$summary"
section 72-fleet.md "### The retry_manager role on a fleet against until/retries" \
  "$bt" fleet -hosts "$fleet_hosts" -runs "$fleet_runs" -forks 50 -playbooks "$here/playbooks" -raw "$raw" -summary "$summary"
section 50-gate.md "## 5. The release gate" \
  "$bt" gate -bin "$bins/qos_guard_release_$platform" -runs 5 -gobench "$gobench" -summary "$summary"
remote() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "_Not measured: needs root (a network namespace, sshd and a user)._"
    return 0
  fi
  BENCH_RUNS=${BENCH_REMOTE_RUNS:-1} "$here/remote.sh" "$raw" "$summary"
}
section 60-remote.md "## 6. Remote hosts over SSH: the module cache" remote
section 90-gobench.md "## Appendix: every Go benchmark (medians of $count runs)" "$bt" gobench "$gobench"

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
dirty=""
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
{
  echo "# resilience.ops benchmarks"
  echo
  echo "What the collection costs compared with what users would otherwise use, measured side by side in one run"
  echo "on the machine below. Benchmarks report; they never fail on a number. Re-run with \`make bench\`."
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), took $(($(date +%s) - started)) s"
  echo "- machine: $(uname -srm), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)),"\
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- load average (1, 5, 15 min) at the start: $load_start; at the end: $load_end (other jobs may share the machine)"
  echo "- $(go version | sed 's/^go version //'), ansible-core $(ansible --version 2>/dev/null | head -1 | sed 's/.*core \([0-9.]*\).*/\1/'),"\
    "$(/usr/bin/python3 --version 2>&1) (/usr/bin/python3), Debian retry $(dpkg-query -W -f='${Version}' retry 2>/dev/null || echo 'not installed')"
  echo "- collection: $(basename "$tarball"), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty"
  echo "- runs: $runs of each playbook and retrier, go test -count $count; medians throughout"
  echo
  echo "## At a glance"
  echo
  cat "$summary"
  echo
  for f in "$out"/sections/[0-9]*.md; do cat "$f"; done
  echo "## Method"
  echo
  echo "- Playbooks: \`tests/bench/playbooks/\`, run with \`ansible-playbook\` against localhost (\`tests/bench/inventory\`) from the"
  echo "  collection tarball installed into a temporary collections path; timestamps are taken inside the play."
  echo "- Everything else: \`tests/bench/benchtool\` (see its \`main.go\`); raw output and playbook logs in \`bench/out/raw/\`."
  echo "- Remote hosts (section 6): \`tests/bench/remote.sh\` (network namespace, veth, \`tc tbf\`, sshd) and \`remote.py\`"
  echo "  (the plays, the timing and the byte counts); each play's log in \`bench/out/raw/remote-*.log\`."
  echo "- Knobs: BENCH_RUNS, BENCH_COUNT, BENCH_TASKS, BENCH_PROCS, BENCH_OPS, BENCH_REMOTE_RUNS,"
  echo "  BENCH_SESSION_OPS, BENCH_FLEET_HOSTS, BENCH_FLEET_RUNS (see \`tests/bench/run.sh\`)."
} > "$out/report.md"
rm -rf "$out/sections"
find "$raw" -name '*.err' -empty -delete
echo "bench: wrote $out/report.md"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'bench: not measured: %s\n' "${failed[@]}" >&2
  exit 1
fi
