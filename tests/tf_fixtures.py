"""Checkpoints made by TensorFlow, for tfbundle to be judged against.

Each function takes the imported ``tensorflow`` module and a directory and
returns what the tests need to find the result (a prefix or a directory).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def tf1_saver(tf, directory: Path) -> Path:
    """TF1 graph + Saver(max_to_keep=2) saved at steps 1..3 with global_step
    and an Adam optimizer (so slot variables and beta powers exist)."""
    v1 = tf.compat.v1
    directory.mkdir(parents=True)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        kernel = v1.get_variable("dense/kernel", [4, 3], initializer=v1.random_normal_initializer(seed=1))
        bias = v1.get_variable("dense/bias", [3], initializer=v1.zeros_initializer())
        step = v1.train.get_or_create_global_step()
        loss = tf.reduce_sum(tf.matmul(x, kernel) + bias)
        train = v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        saver = v1.train.Saver(max_to_keep=2)
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(3):
                sess.run(train, {x: np.ones((2, 4), np.float32)})
                saver.save(sess, str(directory / "model.ckpt"), global_step=step)
    return directory


def tf1_sharded(tf, directory: Path) -> Path:
    """Saver(sharded=True) over variables placed on three CPU devices, so the
    checkpoint has several data shards merged by MergeV2Checkpoints."""
    v1 = tf.compat.v1
    directory.mkdir(parents=True)
    g = tf.Graph()
    with g.as_default():
        for i in range(3):
            with tf.device(f"/cpu:{i}"):
                v1.get_variable(f"layer{i}/w", [5, 7], initializer=v1.random_uniform_initializer(seed=i))
                v1.get_variable(f"layer{i}/name", [], dtype=tf.string, initializer=v1.constant_initializer(f"n{i}"))
        saver = v1.train.Saver(sharded=True)
        config = v1.ConfigProto(device_count={"CPU": 3})
        with v1.Session(graph=g, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, str(directory / "model.ckpt"), global_step=7)
    return directory


def tf1_partitioned(tf, directory: Path) -> Path:
    """A TF1 variable split by fixed_size_partitioner(3), and a 3-D one split
    along axis 1, saved by Saver."""
    v1 = tf.compat.v1
    directory.mkdir(parents=True)
    g = tf.Graph()
    with g.as_default():
        v1.get_variable(
            "emb", [10, 4], partitioner=v1.fixed_size_partitioner(3), initializer=v1.random_normal_initializer(seed=3)
        )
        v1.get_variable(
            "cube",
            [2, 9, 3],
            dtype=tf.float64,
            partitioner=v1.fixed_size_partitioner(2, axis=1),
            initializer=v1.random_normal_initializer(seed=4, dtype=tf.float64),
        )
        v1.get_variable("plain", [3], initializer=v1.ones_initializer())
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, str(directory / "model.ckpt"))
    return directory / "model.ckpt"


def tf2_manager(tf, directory: Path) -> Path:
    """tf.train.Checkpoint of a module and a Keras optimizer, saved three
    times by CheckpointManager(max_to_keep=2)."""
    module = tf.Module()
    module.w = tf.Variable(tf.random.stateless_normal([6, 5], seed=[1, 2]), name="w")
    module.b = tf.Variable(tf.zeros([5]), name="b")
    module.layers = [tf.Variable(tf.ones([2, 2]) * i) for i in range(2)]
    opt = tf.keras.optimizers.Adam(0.01)
    ckpt = tf.train.Checkpoint(model=module, optimizer=opt)
    manager = tf.train.CheckpointManager(ckpt, str(directory), max_to_keep=2)
    for i in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(module.w * (i + 1.0)) + tf.reduce_sum(module.b)
        grads = tape.gradient(loss, [module.w, module.b])
        opt.apply_gradients(zip(grads, [module.w, module.b]))
        manager.save()
    return directory


# dtype name -> a small example array (as TensorFlow's numpy type)
def _dtype_examples(tf):
    from tensorflow.python.framework import dtypes as D

    rng = np.random.default_rng(7)
    floats = rng.normal(size=(3, 4)) * 4
    out = {
        "float16": floats.astype(np.float16),
        "float32": floats.astype(np.float32),
        "float64": floats,
        "bfloat16": floats.astype(D.bfloat16.as_numpy_dtype),
        "int8": rng.integers(-128, 127, (5,)).astype(np.int8),
        "int16": rng.integers(-30000, 30000, (2, 3)).astype(np.int16),
        "int32": rng.integers(-(2**31), 2**31 - 1, (4,)).astype(np.int32),
        "int64": rng.integers(-(2**62), 2**62, (2, 2)).astype(np.int64),
        "uint8": rng.integers(0, 255, (7,)).astype(np.uint8),
        "uint16": rng.integers(0, 65535, (3,)).astype(np.uint16),
        "uint32": rng.integers(0, 2**32 - 1, (3,)).astype(np.uint32),
        "uint64": rng.integers(0, 2**63, (3,)).astype(np.uint64),
        "bool": np.array([[True, False], [False, True]]),
        "complex64": (floats + 1j * floats[::-1]).astype(np.complex64),
        "complex128": floats + 2j * floats,
    }
    for name in (
        "float8_e5m2",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e4m3b11fnuz",
        "float8_e5m2fnuz",
        "float4_e2m1fn",
    ):
        out[name] = np.array([0.5, 1.0, -1.0, 2.0, 0.0, -0.5]).astype(getattr(D, name).as_numpy_dtype)
    for name, values in (
        ("int4", [-8, -1, 0, 7]),
        ("uint4", [0, 1, 9, 15]),
        ("int2", [-2, -1, 0, 1]),
        ("uint2", [0, 1, 2, 3]),
    ):
        out[name] = np.array(values).astype(getattr(D, name).as_numpy_dtype)
    return out


def all_dtypes(tf, prefix: Path) -> Path:
    """One SaveV2 call with every dtype TensorFlow saves, quantized types,
    strings (empty, binary, non-ASCII, long), scalars and empty tensors."""
    from tensorflow.python.framework import dtypes as D

    prefix.parent.mkdir(parents=True)
    tensors = {name: tf.constant(value) for name, value in _dtype_examples(tf).items()}
    for q in ("qint8", "quint8", "qint16", "quint16", "qint32"):
        tensors[q] = tf.cast(tf.constant([1, 2, 3, 4]), getattr(D, q))
    tensors["string/scalar"] = tf.constant(b"hello")
    tensors["string/matrix"] = tf.constant(
        [[b"", b"\x00\xff binary"], ["non-ASCII: \u00e9\u4e2d\U0001f600".encode(), b"x" * 300]]
    )
    tensors["string/empty"] = tf.constant([], dtype=tf.string)
    tensors["scalar/float"] = tf.constant(3.5)
    tensors["scalar/int64"] = tf.constant(42, dtype=tf.int64)
    tensors["empty/float"] = tf.zeros([0, 3])
    tensors["empty/int32"] = tf.zeros([2, 0, 5], dtype=tf.int32)
    tensors["big"] = tf.constant(np.arange(300_000, dtype=np.float32).reshape(600, 500))
    names = list(tensors)
    tf.raw_ops.SaveV2(
        prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names), tensors=[tensors[n] for n in names]
    )
    return prefix


def saved_model(tf, directory: Path) -> Path:
    """tf.saved_model.save of a module with a signature."""

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [tf.Variable(tf.random.stateless_normal([4, 4], seed=[i, 0])) for i in range(2)]
            self.scale = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            for w in self.blocks:
                x = tf.matmul(x, w)
            return {"y": x * self.scale}

    model = Model()
    tf.saved_model.save(model, str(directory), signatures=model.__call__)
    return directory


def keras_export(tf, directory: Path) -> Path:
    """A small Keras model exported as a SavedModel (model.export)."""
    keras = tf.keras
    inputs = keras.Input(shape=(5,), name="features")
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="logits")(hidden)
    model = keras.Model(inputs, outputs)
    model.export(str(directory))
    return directory


def tf1_builder(
    tf, directory: Path, as_text: bool = False, tags: Sequence[str] = ("serve",), reference_variable: bool = False
) -> Path:
    """TF1 SavedModelBuilder: MetaGraphs tagged ``tags`` ('serve'; none, as
    TF Hub's TF1 modules) and 'train' sharing (resource) variables, with an
    asset file and signatures; ``as_text`` writes saved_model.pbtxt instead
    of saved_model.pb; ``reference_variable`` adds a VariableV2 'ref'."""
    v1 = tf.compat.v1
    asset_source = directory.parent / "vocab.txt"
    asset_source.write_text("a\nb\nc\n")
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        w = v1.get_variable("w", [3, 2], initializer=v1.random_normal_initializer(seed=5))
        v1.train.get_or_create_global_step()  # saved beside w, shared by both MetaGraphs
        if reference_variable:
            v1.get_variable("ref", initializer=np.float32([1.0, 2.0]), use_resource=False)
        y = tf.identity(tf.matmul(x, w), name="y")
        asset = tf.constant(str(asset_source), name="vocab_path")
        v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, asset)
        sig = v1.saved_model.signature_def_utils.predict_signature_def({"x": x}, {"y": y})
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(directory))
            builder.add_meta_graph_and_variables(
                sess,
                list(tags),
                signature_def_map={"serving_default": sig},
                assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
            )
            builder.add_meta_graph(["train"], signature_def_map={"train_sig": sig})
            builder.save(as_text=as_text)
    return directory


# Every dtype TensorFlow's V1 writer (TensorSliceWriter) can save; bfloat16,
# uint32/64, qint16/quint16, float8 and int4 fail in TF 2.21's V1 SaveSlices.
V1_DTYPES = (
    "float32",
    "float64",
    "int32",
    "int64",
    "int8",
    "int16",
    "uint8",
    "uint16",
    "bool",
    "complex64",
    "complex128",
    "float16",
    "string",
    "qint8",
    "quint8",
    "qint32",
)


def _v1_graph(tf, zeros: bool, devices: int):
    """The variables of the V1 fixture (random values, or zeros to restore
    into): every V1 dtype, strings (scalar, matrix, empty), an empty tensor,
    a scalar step and two partitioned variables. Returns {name: variable}."""
    from tensorflow.python.framework import dtypes as D

    v1 = tf.compat.v1
    rng = np.random.default_rng(11)
    out = {}
    for i, name in enumerate(V1_DTYPES):
        dtype = getattr(D, name)
        if name == "string":
            value = np.array([[b"", b"\x00\xff bin"], ["\u00e9\u4e2d".encode(), b"y" * 300]], dtype=object)
        elif name == "bool":
            value = rng.integers(0, 2, (3, 5)).astype(bool)
        elif name.startswith("complex"):
            value = (rng.normal(size=(3, 5)) + 1j * rng.normal(size=(3, 5))).astype(dtype.as_numpy_dtype)
        elif dtype.is_floating:
            value = (rng.normal(size=(3, 5)) * 100).astype(dtype.as_numpy_dtype)
        else:
            storage = {"qint8": np.int8, "quint8": np.uint8, "qint32": np.int32}.get(name, dtype.as_numpy_dtype)
            info = np.iinfo(storage)
            value = rng.integers(info.min, info.max, (3, 5), endpoint=True)
        init = tf.zeros_like(tf.constant(value, dtype=dtype)) if zeros and name != "string" else None
        if name == "string" and zeros:
            init = tf.fill([2, 2], "")
        with tf.device(f"/cpu:{i % devices}"):
            out[f"v/{name}"] = v1.Variable(init if zeros else tf.constant(value, dtype=dtype), name=f"v/{name}")
    scalars = {
        "vocab/name": (b"words", tf.string),
        "scale": (1.5, tf.float32),
        "empty": (np.zeros((0, 3), np.float32), tf.float32),
    }
    for name, (value, dtype) in scalars.items():
        init = tf.zeros_like(tf.constant(value, dtype)) if zeros else tf.constant(value, dtype)
        out[name] = v1.Variable(init, name=name)
    out["global_step"] = v1.train.get_or_create_global_step()
    seed_init = v1.zeros_initializer() if zeros else v1.random_normal_initializer(seed=3)
    with tf.device(f"/cpu:{1 % devices}"):
        out["emb"] = v1.get_variable("emb", [10, 4], partitioner=v1.fixed_size_partitioner(3), initializer=seed_init)
    out["cube"] = v1.get_variable(
        "cube",
        [2, 9, 3],
        dtype=tf.float64,
        partitioner=v1.fixed_size_partitioner(2, axis=1),
        initializer=v1.zeros_initializer() if zeros else v1.random_normal_initializer(seed=4, dtype=tf.float64),
    )
    return out


def v1_checkpoint(tf, directory: Path, shards: int = 1):
    """A V1 checkpoint made by Saver(write_version=V1): one file, or with
    ``shards`` > 1 one file per device (Saver(sharded=True)). Returns the
    path TensorFlow names it by (a pattern when sharded) and the values TF
    restores from it into fresh variables: {name: ndarray}."""
    v1 = tf.compat.v1
    directory.mkdir(parents=True)
    config = v1.ConfigProto(device_count={"CPU": shards})
    g = tf.Graph()
    with g.as_default():
        _v1_graph(tf, zeros=False, devices=shards)
        saver = v1.train.Saver(write_version=v1.train.SaverDef.V1, sharded=shards > 1)
        with v1.Session(graph=g, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(v1.assign(v1.train.get_global_step(), 1234))
            path = saver.save(sess, str(directory / "model.ckpt"), global_step=1234)
    return path, v1_restore(tf, path, shards)


def v1_restore(tf, path: str, devices: int = 1):
    """{name: value} that TensorFlow's Saver restores from ``path`` into the
    V1 fixture's variables (partitioned ones concatenated)."""
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        variables = _v1_graph(tf, zeros=True, devices=devices)
        saver = v1.train.Saver()
        fetch = {
            name: (tf.concat(list(v), axis=1 if name == "cube" else 0) if name in ("emb", "cube") else v.value())
            for name, v in variables.items()
        }
        with v1.Session(graph=g, config=v1.ConfigProto(device_count={"CPU": devices})) as sess:
            sess.run(v1.global_variables_initializer())
            saver.restore(sess, path)
            return sess.run(fetch)


def signature_shapes_tf2(tf, directory: Path) -> Path:
    """A TF2 SavedModel whose signature has 1-D, unknown-dim, scalar,
    unknown-rank and 2-D inputs and outputs."""

    class Model(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([5], tf.float32),
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([], tf.string),
                tf.TensorSpec(None, tf.float32),
                tf.TensorSpec([None, 3], tf.bfloat16),
            ]
        )
        def __call__(self, a, b, c, d, e):
            return {"a": a * 2.0, "b": b, "c": c, "d": d, "e": e}

    model = Model()
    tf.saved_model.save(model, str(directory), signatures=model.__call__)
    return directory


def signature_shapes_tf1(tf, directory: Path) -> Path:
    """A TF1 SavedModelBuilder export with the same kinds of shapes."""
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        inputs = {
            "a": v1.placeholder(tf.float32, [5], name="a"),
            "b": v1.placeholder(tf.int64, [None], name="b"),
            "c": v1.placeholder(tf.string, [], name="c"),
            "d": v1.placeholder(tf.float32, None, name="d"),
            "e": v1.placeholder(tf.int32, [None, 3], name="e"),
        }
        w = v1.get_variable("w", [5], initializer=v1.ones_initializer())
        outputs = {"y": tf.identity(inputs["a"] * w, name="y"), "n": tf.size(inputs["b"], name="n")}
        sig = v1.saved_model.signature_def_utils.predict_signature_def(inputs, outputs)
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(directory))
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()
    return directory


def _tflite_keras_model(tf):
    """A small CNN: a 3x3 conv (16 filters, per-channel quantizable), then two
    dense layers, the first big enough (3136 x 64) for dynamic-range int8."""
    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((16, 16, 3))
    x = tf.keras.layers.Conv2D(16, 3, activation="relu", name="conv")(inputs)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(64, activation="relu", name="hidden")(x)
    outputs = tf.keras.layers.Dense(10, name="logits")(x)
    return tf.keras.Model(inputs, outputs)


def tflite_models(tf, directory: Path) -> dict[str, Path]:
    """TFLite models converted by TF's TFLiteConverter at test time: from a
    Keras model in float32, float16, dynamic-range int8 and full-integer
    int8 (a representative dataset; per-channel quantized conv), with its
    buffers past the flatbuffer (the layout of models over 2 GiB), and from
    a SavedModel (float32 and dynamic-range int8). {variant: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    model = _tflite_keras_model(tf)
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(8):
            yield [rng.random((1, 16, 16, 3), dtype=np.float32)]

    def keras(**options):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        for name, value in options.items():
            if name == "supported_types":
                converter.target_spec.supported_types = value
            elif name == "supported_ops":
                converter.target_spec.supported_ops = value
            else:
                setattr(converter, name, value)
        return converter.convert()

    default = [tf.lite.Optimize.DEFAULT]
    flat = {
        "float32": keras(),
        "float16": keras(optimizations=default, supported_types=[tf.float16]),
        "dynamic_int8": keras(optimizations=default),
        "full_int8": keras(
            optimizations=default,
            representative_dataset=representative,
            supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8],
            inference_input_type=tf.int8,
            inference_output_type=tf.int8,
        ),
        "buffer_offsets": keras(_experimental_use_buffer_offset=True),
    }

    class Affine(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(rng.normal(size=(64, 48)).astype(np.float32), name="w")
            self.b = tf.Variable(rng.normal(size=(48,)).astype(np.float32), name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="features")])
        def __call__(self, x):
            return {"scores": tf.nn.softmax(tf.matmul(x, self.w) + self.b)}

    module = Affine()
    saved = directory / "saved_model"
    tf.saved_model.save(module, str(saved), signatures={"score": module.__call__})
    flat["saved_model"] = tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = default
    flat["saved_model_int8"] = converter.convert()
    out = {}
    for name, data in flat.items():
        path = directory / f"{name}.tflite"
        path.write_bytes(data)
        out[name] = path
    return out


def tflite_interpreter(tf, path: Path, **options):
    """TF's interpreter (deprecated in 2.21), else LiteRT's, its successor."""
    cls = getattr(getattr(tf, "lite", None), "Interpreter", None)
    if cls is None:
        from ai_edge_litert.interpreter import Interpreter as cls
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = cls(model_path=str(path), **options)
    interpreter.allocate_tensors()
    return interpreter
