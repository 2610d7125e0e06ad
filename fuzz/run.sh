#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan), seeds them
# with TensorFlow-made files and runs each for SECONDS (default 60).
#   bash fuzz/run.sh [SECONDS] [TARGET...]
# Needs clang and libclang-rt (Debian: apt-get install clang libclang-rt-14-dev)
# and, for fuzz_state, `pip install atheris`. A crash leaves its input in
# fuzz/out/<target>/crash-*; copy it to fuzz/regressions/<target>/ so the
# test suite replays it (tests/test_fuzz_regressions.py).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_table fuzz_entry fuzz_strings fuzz_slice_key fuzz_graph fuzz_state fuzz_snappy fuzz_v1 fuzz_tflite)
out=fuzz/out
mkdir -p "$out"
CXX=${CXX:-clang++}
# Every core source (all of csrc/ but the Python bindings), so a new file
# cannot be forgotten here.
core=()
for source in csrc/*.cc; do
  [ "$source" = csrc/bindings.cc ] || core+=("$source")
done
arch_flags=()
[ "$(uname -m)" = x86_64 ] && arch_flags=(-msse4.2)
[ -d "$out/seeds" ] || python fuzz/make_seeds.py "$out/seeds"
failed=0
# run TARGET COMMAND...: runs one fuzzer into its log, then reports it.
run() {
  local target=$1
  shift
  if "$@" > "$out/$target.log" 2>&1; then
    grep -E "stat::number_of_executed_units" "$out/$target.log" | tail -1
  else
    failed=$((failed + 1))
    tail -30 "$out/$target.log"
  fi
}
for target in "${targets[@]}"; do
  corpus="$out/corpus/$target"
  mkdir -p "$corpus" "$out/$target"
  cp -n "$out/seeds/$target"/* "$corpus"/ 2>/dev/null || true
  if [ -d "fuzz/regressions/$target" ]; then cp -n "fuzz/regressions/$target"/* "$corpus"/ 2>/dev/null || true; fi
  echo "== $target: ${seconds}s"
  if [ "$target" = fuzz_state ]; then
    run "$target" timeout $((seconds + 60)) python fuzz/targets/fuzz_state.py "$corpus" \
      -max_total_time="$seconds" -artifact_prefix="$out/$target/" -print_final_stats=1
    continue
  fi
  binary="$out/$target.bin"
  "$CXX" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
    "${arch_flags[@]}" -Icsrc "fuzz/targets/$target.cc" "${core[@]}" -o "$binary"
  run "$target" "$binary" "$corpus" -max_total_time="$seconds" -artifact_prefix="$out/$target/" \
    -print_final_stats=1
done
echo "fuzz targets: $(( ${#targets[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
