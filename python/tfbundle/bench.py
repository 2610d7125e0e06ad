"""Timing tfbundle against TensorFlow and safetensors on one checkpoint, as
``tfbundle bench`` does: every contender reads (and, with ``write=True``,
saves) the same tensors, in turn (a, b, c, a, b, c, ...) so that a slow
spell of a shared machine hits all alike, and medians are compared.

TensorFlow and safetensors are used only where installed, and imported
only by these functions.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import tempfile
import time
from typing import Any, Callable

from ._lazy import numpy as np

Contenders = dict[str, Callable[[], Any]]


def interleaved_medians(contenders: Contenders, repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each contender, run in turn; a contender that
    returns a float reports its own time (work it must exclude, such as
    removing what it wrote, stays outside).

    Example:
        >>> interleaved_medians({"noop": lambda: None}, repeats=3)["noop"] < 1
        True
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
            times[name].append(result if isinstance(result, float) else elapsed)
            del result  # freeing the result is not part of the timed call
    return {name: statistics.median(t) for name, t in times.items()}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def read_contenders(prefix: str, safetensors_path: str | None = None, *, with_tensorflow: bool = True) -> Contenders:
    """Reading every tensor of the V2 checkpoint at ``prefix`` into new
    arrays: tfbundle's verified ``get_tensor`` loop and ``load``, TF's
    ``load_checkpoint`` + ``get_tensor`` and ``RestoreV2`` (unless
    ``with_tensorflow`` is False), and safetensors' ``load_file`` of
    ``safetensors_path`` (the same tensors).

    Example:
        >>> times = interleaved_medians(read_contenders("ckpt-1"))   # doctest: +SKIP
    """
    from .reader import CheckpointReader, load

    with CheckpointReader(prefix) as reader:
        keys = reader.keys()
        enums = [reader.dtype(k).enum for k in keys]

    def get_tensor_loop() -> list[Any]:
        with CheckpointReader(prefix) as c:
            return [c.get_tensor(k) for k in keys]

    contenders: Contenders = {"tfbundle get_tensor": get_tensor_loop, "tfbundle load": lambda: load(prefix)}
    if with_tensorflow and _installed("tensorflow"):
        import tensorflow as tf

        def tf_get_tensor() -> list[Any]:
            r = tf.train.load_checkpoint(prefix)
            return [r.get_tensor(k) for k in keys]

        def tf_restore_v2() -> Any:
            return tf.raw_ops.RestoreV2(
                prefix=prefix, tensor_names=keys, shape_and_slices=[""] * len(keys), dtypes=enums
            )

        contenders["TF get_tensor"] = tf_get_tensor
        contenders["TF RestoreV2"] = tf_restore_v2
    if safetensors_path is not None and _installed("safetensors"):
        from safetensors.numpy import load_file

        contenders["safetensors load_file"] = lambda: load_file(safetensors_path)
    return contenders


def write_contenders(tensors: dict[str, Any], directory: str) -> Contenders:
    """Saving ``tensors`` (numeric arrays) to a new name in ``directory`` each
    time: ``tfbundle.save``, TF's ``SaveV2``, safetensors' ``save_file`` and a
    plain ``write()`` of the same bytes. Each reports its own time; the
    files are removed outside it.

    Example:
        >>> times = interleaved_medians(write_contenders(weights, "/tmp/b"))  # doctest: +SKIP
    """
    from .writer import save

    runs = [0]

    def timed(write: Callable[[str], object]) -> Callable[[], float]:
        def run() -> float:
            runs[0] += 1
            target = os.path.join(directory, f"run{runs[0]}")
            os.makedirs(target)
            start = time.perf_counter()
            write(os.path.join(target, "ckpt"))
            elapsed = time.perf_counter() - start
            shutil.rmtree(target)
            return elapsed

        return run

    def plain_write(path: str) -> None:
        with open(path, "wb") as f:
            for value in tensors.values():
                f.write(np.ascontiguousarray(value).data.cast("B"))

    contenders: Contenders = {"tfbundle save": timed(lambda p: save(tensors, p))}
    if _installed("tensorflow"):
        import tensorflow as tf

        names = list(tensors)
        constants = [tf.constant(tensors[n]) for n in names]
        contenders["TF SaveV2"] = timed(
            lambda p: tf.raw_ops.SaveV2(
                prefix=p, tensor_names=names, shape_and_slices=[""] * len(names), tensors=constants
            )
        )
    if _installed("safetensors"):
        from safetensors.numpy import save_file

        contenders["safetensors save_file"] = timed(lambda p: save_file(tensors, p + ".safetensors"))
    contenders["plain write()"] = timed(plain_write)
    return contenders


def run(path: str, *, write: bool = False, repeat: int = 5) -> dict[str, Any]:
    """Benchmarks reading (and with ``write``, saving) the checkpoint ``path``.
    Returns ``{"bytes": n, "tensors": k, "read": {name: s}, "write": {...}}``.

    Example:
        >>> result = run("runs/bert/model.ckpt-100000", repeat=3)    # doctest: +SKIP
    """
    from .convert import convert
    from .reader import CheckpointReader, load

    with CheckpointReader(path) as reader:
        prefix = reader.prefix
        version = reader.version
    with tempfile.TemporaryDirectory(prefix="tfbundle-bench-") as scratch:
        if version != 2:  # every contender reads the same V2 bundle
            prefix = convert(path, os.path.join(scratch, "v2", "ckpt"))
        tensors = load(prefix)
        nbytes = sum(v.nbytes for v in tensors.values() if v.dtype != object)
        st_path = None
        if _installed("safetensors"):
            import warnings

            st_path = os.path.join(scratch, "model.safetensors")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # strings cannot go there; they are left out
                convert(prefix, st_path)
        result: dict[str, Any] = {
            "bytes": nbytes,
            "tensors": len(tensors),
            "read": interleaved_medians(read_contenders(prefix, st_path), repeat),
        }
        if write:
            numeric = {k: v for k, v in tensors.items() if v.dtype != object}
            writes = os.path.join(scratch, "writes")
            os.makedirs(writes)
            result["write"] = interleaved_medians(write_contenders(numeric, writes), repeat)
    return result


__all__ = ["interleaved_medians", "read_contenders", "run", "write_contenders"]
