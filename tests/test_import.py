"""`import tfbundle` is fast and pulls in neither TensorFlow nor numpy."""

from __future__ import annotations

import os
import subprocess
import sys


def test_import_is_light_and_fast():
    script = (
        "import sys, time\n"
        "start = time.perf_counter()\n"
        "import tfbundle\n"
        "elapsed = time.perf_counter() - start\n"
        "assert 'tensorflow' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
        "print(elapsed)\n"
    )
    times = [
        float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
        for _ in range(5)
    ]
    if not os.environ.get("TFBUNDLE_SANITIZED"):  # sanitizer runtimes slow every start-up
        assert min(times) < 0.150, times
