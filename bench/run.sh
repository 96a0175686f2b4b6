#!/usr/bin/env bash
# The benchmark suite in one command (as root):
#
#   bench/run.sh                 # full run: 4 workloads x 5 rounds, 10 s measured per run (about an hour)
#   bench/run.sh --quick         # a short check of the harness: 2 rounds of 3 s
#   bench/run.sh --workload nginx-keepalive --config trace-json --rounds 7
#
# Installs what it needs (Debian: nginx, wrk, bpftrace, gcc, clang-14, libbpf-dev), publishes the NativeAOT executable,
# builds the workloads in bench/workloads, runs the BenchmarkDotNet decode benchmarks, then the
# interleaved workload runs, and writes bench/RESULTS.md and bench/results.json. Every load goes
# to 127.0.0.1 only. Options not listed here go to the harness (bench/Sysstream.Bench --help).
#
#   --quick            2 rounds, 3 s measured, 1 s warm-up
#   --no-microbench    skip the BenchmarkDotNet run
#   --no-publish       use artifacts/bin/sysstream as it is (or $SYSSTREAM_EXE)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

quick=0 microbench=1 publish=1 pass=()
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --no-microbench) microbench=0 ;;
    --no-publish) publish=0 ;;
    *) pass+=("$1") ;;
  esac
  shift
done
# --quick's settings, each unless given explicitly
defaults=()
if ((quick)); then
  for kv in "--rounds 2" "--seconds 3" "--warmup 1"; do
    set -- $kv
    [[ " ${pass[*]} " == *" $1 "* ]] || defaults+=("$1" "$2")
  done
fi

if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: run as root (the tracers load BPF programs)" >&2
  exit 77
fi

packages=(nginx wrk bpftrace gcc libc6-dev clang-14 libbpf-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench: installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# bpftrace attaches classic tracepoints, which need tracefs.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
if [ "$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo 0)" != 0 ]; then
  echo "bench: warning: kernel.bpf_stats_enabled=1 adds a cost to every BPF program run" >&2
fi

out=artifacts/bench
mkdir -p "$out"
exe=${SYSSTREAM_EXE:-$PWD/artifacts/bin/sysstream}
if ((publish)) && [ -z "${SYSSTREAM_EXE:-}" ]; then
  echo "bench: publishing the NativeAOT executable to artifacts/bin" >&2
  dotnet publish src/Sysstream -c Release -r linux-x64 -o artifacts/bin -v quiet -nologo >&2
fi
[ -x "$exe" ] || { echo "bench: no executable at $exe" >&2; exit 66; }

for tool in ss-bench-exec ss-pingpong ss-udpflood; do
  gcc -O2 -Wall -Wextra -Werror -o "$out/$tool" "bench/workloads/$tool.c"
done
# The floors: trace's two syscall hooks and top's two byte hooks, with empty programs.
for floor in ss-bench-hooks ss-bench-top-hooks; do
  clang-14 -g -O2 -target bpf -D__TARGET_ARCH_x86 -mcpu=v3 -Wall -Werror -Ibpf \
    -c "bench/workloads/$floor.bpf.c" -o "$out/$floor.bpf.o"
done
gcc -O2 -Wall -Wextra -Werror -o "$out/ss-bench-hooks" bench/workloads/ss-bench-hooks.c -lbpf

mb=()
if ((microbench)); then
  echo "bench: BenchmarkDotNet decode/output benchmarks" >&2
  rm -rf "$out/bdn"
  dotnet run -c Release --project bench/Sysstream.Benchmarks -- --filter '*' --job short \
    --artifacts "$out/bdn" >"$out/bdn.log" 2>&1 || { echo "bench: BenchmarkDotNet failed, see $out/bdn.log" >&2; }
  # one report per benchmark class: the harness takes them as one file
  if ls "$out"/bdn/results/*-report-github.md >/dev/null 2>&1; then
    cat "$out"/bdn/results/*-report-github.md > "$out/bdn/reports.md"
    mb=(--microbench "$out/bdn/reports.md")
  fi
fi

# bench/RESULTS.md and bench/results.json unless --out says elsewhere
[[ " ${pass[*]} " == *" --out "* ]] || defaults+=(--out bench)
dotnet build bench/Sysstream.Bench -c Release -v quiet -nologo >&2
exec dotnet bench/Sysstream.Bench/bin/Release/net10.0/Sysstream.Bench.dll \
  --exe "$exe" --tools "$out" --notes bench/analysis.md "${defaults[@]}" "${mb[@]}" "${pass[@]}"
