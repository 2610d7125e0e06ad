#!/usr/bin/env bash
# Builds the extension with AddressSanitizer + UndefinedBehaviorSanitizer
# (CMake option TFBUNDLE_SANITIZE) and runs the test suite against it.
# The interpreter is not instrumented, so the runtimes are preloaded.
#   bash .ci/sanitize.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/sanitize
python -m pip install -q "pybind11>=2.12"  # the CMake package; pip's isolated build had its own
cmake -S . -B "$build" -DTFBUNDLE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  -Dpybind11_DIR="$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')" > /dev/null
cmake --build "$build" -j 2 > /dev/null
stage="$build/stage"
rm -rf "$stage" && mkdir -p "$stage"
cp -r python/tfbundle "$stage/"
cp "$build"/_core*.so "$stage/tfbundle/"
preload="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export LD_PRELOAD="$preload"
# Leaks are not checked: the interpreter and TensorFlow keep memory until exit.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TFBUNDLE_SANITIZED=1
export PYTHONPATH="$PWD/$stage${PYTHONPATH:+:$PYTHONPATH}"
python -c "import tfbundle, sys; assert tfbundle.__file__.startswith('$PWD/$stage'), tfbundle.__file__"
python -m pytest -q -p no:cacheprovider tests "$@"
