#!/usr/bin/env bash
# Installs what the tests need, checks the committed BPF object and generated structs are fresh,
# publishes the NativeAOT executable, and runs every test. Run as root (the privileged tests load
# BPF programs; without root they are skipped, not failed).
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# Debian packages: libbpf headers + bpftool + clang to rebuild the BPF object; real programs
# that make real traffic in the privileged tests.
packages=(libbpf1 libbpf-dev bpftool clang-14 llvm-14 make nginx curl wget python3 tshark
          netcat-openbsd iproute2 procps util-linux tmux chromium graphviz)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})) && [ "$(id -u)" = 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# A package's nginx may start itself; the tests start their own instances on free ports.
if [ "$(id -u)" = 0 ]; then
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  (systemctl stop nginx 2>/dev/null || service nginx stop 2>/dev/null || true) >/dev/null 2>&1
fi

# The BPF object and the C# structs generated from it are committed: rebuild and compare.
if command -v clang-14 >/dev/null && [ -f /usr/include/bpf/bpf_helpers.h ]; then
  make -s -B -C bpf
  git diff --exit-code --stat -- src/Sysstream.Core/Bpf src/Sysstream.Core/Events/Generated.cs \
    || { echo "test.sh: the committed BPF object or Generated.cs is stale: run 'make -C bpf' and commit"; exit 1; }
fi

# The shipped form: one self-contained NativeAOT executable. End-to-end tests run it.
dotnet publish src/Sysstream -c Release -r linux-x64 -o artifacts/bin -v quiet -nologo
export SYSSTREAM_EXE="$PWD/artifacts/bin/sysstream"

dotnet test Sysstream.sln -c Release --logger "console;verbosity=normal" "$@"
