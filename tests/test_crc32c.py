"""CRC32C against known vectors and the `crc32c` package."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tfbundle import _core

crc32c_pkg = pytest.importorskip("crc32c")


def test_known_vectors():
    assert _core.crc32c(b"123456789") == 0xE3069283
    assert _core.crc32c(b"") == 0
    assert _core.crc32c(bytes(32)) == 0x8A9136AA
    assert _core.crc32c(b"\xff" * 32) == 0x62A8AB43


def test_every_length_and_alignment_matches_reference():
    data = np.random.default_rng(0).integers(0, 256, 4096 + 16, dtype=np.uint8).tobytes()
    for n in range(4097):
        offset = n % 8
        chunk = data[offset : offset + n]
        assert _core.crc32c(chunk) == crc32c_pkg.crc32c(chunk), n


@pytest.mark.parametrize("n", [8192 * 3, 8192 * 3 + 1, 1 << 20, (10 << 20) + 13])
def test_large_buffers_match_reference(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert _core.crc32c(data) == crc32c_pkg.crc32c(data)


def test_extend_composes():
    a, b = b"hello ", b"world" * 5000
    assert _core.crc32c(b, _core.crc32c(a)) == _core.crc32c(a + b)


def test_mask_roundtrip_and_tensorflow_constant():
    assert _core.crc32c_mask(0) == 0xA282EAD8
    for c in (0, 1, 0xDEADBEEF, 0xFFFFFFFF):
        assert _core.crc32c_unmask(_core.crc32c_mask(c)) == c


def test_portable_fallback_agrees():
    script = (
        "import numpy as np, crc32c\n"
        "from tfbundle import _core\n"
        "assert _core.crc32c_implementation() == 'portable'\n"
        "d = np.random.default_rng(2).integers(0, 256, 70000, dtype=np.uint8).tobytes()\n"
        "for n in list(range(0, 300)) + [69999, 70000]:\n"
        "    assert _core.crc32c(d[3:3+n]) == crc32c.crc32c(d[3:3+n]), n\n"
    )
    env = dict(os.environ, TFBUNDLE_CRC32C="portable")
    subprocess.run([sys.executable, "-c", script], check=True, env=env)


def test_forced_crc32_instruction_kernel_agrees():
    """On CPUs with VPCLMULQDQ the folding kernel is the default; the
    three-stream `crc32` kernel it hands short buffers and tails to must
    agree on its own too (and is what older x86 CPUs run)."""
    if _core.crc32c_implementation() not in ("vpclmulqdq", "sse4.2"):
        pytest.skip("not an x86 CPU with SSE4.2")
    script = (
        "import numpy as np, crc32c\n"
        "from tfbundle import _core\n"
        "assert _core.crc32c_implementation() == 'sse4.2'\n"
        "d = np.random.default_rng(3).integers(0, 256, 70000, dtype=np.uint8).tobytes()\n"
        "for n in list(range(0, 1100)) + [69990, 69997]:\n"
        "    assert _core.crc32c(d[5:5+n], 7) == crc32c.crc32c(d[5:5+n], 7), n\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ, TFBUNDLE_CRC32C="sse4.2"))


def test_folding_block_edges_and_continuation():
    """Lengths around the folding kernel's 256-byte steps and 512-byte start,
    from four alignments, continued from a non-zero CRC."""
    data = np.random.default_rng(5).integers(0, 256, 8192 + 64, dtype=np.uint8).tobytes()
    for base in (512, 768, 1024, 4096, 8192):
        for n in range(base - 17, base + 18):
            for offset in (0, 1, 7, 63):
                chunk = data[offset : offset + n]
                assert _core.crc32c(chunk, 0x12345678) == crc32c_pkg.crc32c(chunk, 0x12345678), (n, offset)
