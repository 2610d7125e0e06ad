"""Realistic checkpoint shape mixes for the benchmarks: what users load.

``bert_base()``: the original BERT-base release's variables, each with its
``/adam_m`` and ``/adam_v`` twins, plus an int64 ``global_step`` (598
float32 tensors, 1.31 GB). ``resnet50()``: the v1.5 bottleneck network with
batch-norm vectors and a ``/Momentum`` twin per trainable tensor (398
tensors, 0.20 GB). ``uniform(n, nbytes)``: n float32 tensors of nbytes each.
Each returns ``{name: shape}``; ``materialize`` fills them with random
values (float32) and the step.
"""

from __future__ import annotations

import numpy as np

Shapes = dict[str, tuple[int, ...]]


def bert_base() -> Shapes:
    h, ffn, layers = 768, 3072, 12
    trainable: Shapes = {
        "bert/embeddings/word_embeddings": (30522, h),
        "bert/embeddings/position_embeddings": (512, h),
        "bert/embeddings/token_type_embeddings": (2, h),
        "bert/embeddings/LayerNorm/gamma": (h,),
        "bert/embeddings/LayerNorm/beta": (h,),
    }
    for i in range(layers):
        p = f"bert/encoder/layer_{i}"
        for name in ("query", "key", "value"):
            trainable[f"{p}/attention/self/{name}/kernel"] = (h, h)
            trainable[f"{p}/attention/self/{name}/bias"] = (h,)
        trainable[f"{p}/attention/output/dense/kernel"] = (h, h)
        trainable[f"{p}/attention/output/dense/bias"] = (h,)
        trainable[f"{p}/attention/output/LayerNorm/gamma"] = (h,)
        trainable[f"{p}/attention/output/LayerNorm/beta"] = (h,)
        trainable[f"{p}/intermediate/dense/kernel"] = (h, ffn)
        trainable[f"{p}/intermediate/dense/bias"] = (ffn,)
        trainable[f"{p}/output/dense/kernel"] = (ffn, h)
        trainable[f"{p}/output/dense/bias"] = (h,)
        trainable[f"{p}/output/LayerNorm/gamma"] = (h,)
        trainable[f"{p}/output/LayerNorm/beta"] = (h,)
    trainable["bert/pooler/dense/kernel"] = (h, h)
    trainable["bert/pooler/dense/bias"] = (h,)
    shapes: Shapes = {}
    for name, shape in trainable.items():
        shapes[name] = shape
        shapes[name + "/adam_m"] = shape
        shapes[name + "/adam_v"] = shape
    shapes["global_step"] = ()
    return shapes


def resnet50() -> Shapes:
    trainable: Shapes = {}

    def conv(name: str, k: int, cin: int, cout: int) -> None:
        trainable[f"{name}/kernel"] = (k, k, cin, cout)
        for v in ("gamma", "beta", "moving_mean", "moving_variance"):
            trainable[f"{name}/bn/{v}"] = (cout,)

    conv("resnet50/conv1", 7, 3, 64)
    cin = 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=2):
        for b in range(blocks):
            p = f"resnet50/conv{stage}_block{b + 1}"
            if b == 0:
                conv(f"{p}/shortcut", 1, cin, width * 4)
            conv(f"{p}/1", 1, cin, width)
            conv(f"{p}/2", 3, width, width)
            conv(f"{p}/3", 1, width, width * 4)
            cin = width * 4
    trainable["resnet50/fc/kernel"] = (2048, 1000)
    trainable["resnet50/fc/bias"] = (1000,)
    shapes: Shapes = {}
    for name, shape in trainable.items():
        shapes[name] = shape
        if not name.endswith(("moving_mean", "moving_variance")):
            shapes[name + "/Momentum"] = shape
    shapes["global_step"] = ()
    return shapes


def uniform(count: int, nbytes: int) -> Shapes:
    return {f"layer_{i:05d}/kernel": (nbytes // 4,) for i in range(count)}


def materialize(shapes: Shapes, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 values for every shape (an int64 step for global_step)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name == "global_step":
            out[name] = np.array(100000, np.int64)
        else:
            out[name] = rng.standard_normal(size=shape, dtype=np.float32)
    return out


def saved(mix: str, directory: str):
    """Materializes mix ``mix`` and saves it under ``directory/mix/ckpt``:
    returns (prefix, tensors, total bytes)."""
    import os

    import tfbundle

    tensors = materialize(MIXES[mix]())
    prefix = tfbundle.save(tensors, os.path.join(directory, mix, "ckpt"))
    return prefix, tensors, sum(v.nbytes for v in tensors.values())


MIXES = {
    "bert": bert_base,
    "resnet": resnet50,
    "uniform_256k": lambda: uniform(2048, 256 * 1024),
    "uniform_4m": lambda: uniform(128, 4 * 2**20),
}
