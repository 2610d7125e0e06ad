#!/usr/bin/env bash
# Static checks, configured in pyproject.toml, .clang-tidy and .clang-format:
# the declared layers (import-linter), ruff lint and format, mypy over the
# package, stubtest of the extension's stub against the built extension,
# and clang-format + clang-tidy over csrc/. Exits non-zero on any finding.
# Needs the package installed (stubtest imports it) and the lint extra.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== import-linter: layers and no cycles"
PYTHONPATH=python lint-imports
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== stubtest: tfbundle/_core.pyi against the built extension"
python -m mypy.stubtest tfbundle._core --allowlist .ci/stubtest-allowlist.txt
echo "== clang-format"
clang-format --dry-run --Werror csrc/*.cc csrc/*.h fuzz/targets/*.cc
echo "== clang-tidy"
build=build/tidy
cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -Dpybind11_DIR="$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')" > /dev/null
ls csrc/*.cc | xargs -P "$(nproc)" -n 2 clang-tidy -p "$build" --quiet
