"""TFLite models (tfbundle.tflite and the CLI on .tflite files) against TF
2.21's converter and interpreter: every tensor's name, dtype, shape,
quantization and constant values equal what the interpreter reports."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tfbundle
from tests import tf_fixtures
from tfbundle import tflite

VARIANTS = ["float32", "float16", "dynamic_int8", "full_int8", "buffer_offsets", "saved_model", "saved_model_int8"]


@pytest.fixture(scope="module")
def models(tf, tmp_path_factory):
    return tf_fixtures.tflite_models(tf, tmp_path_factory.mktemp("tflite"))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfbundle", *map(str, args)], capture_output=True, text=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_tensor_matches_the_interpreter(tf, models, variant):
    interpreter = tf_fixtures.tflite_interpreter(tf, models[variant])
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    constants = 0
    with tflite.open(models[variant]) as model:
        assert len(model.tensors) == len(details)
        for t in model.tensors:
            d = details[t.index]
            assert t.name == d["name"]
            assert t.dtype.numpy_dtype == np.dtype(d["dtype"])
            assert list(t.shape) == list(d["shape"])
            assert list(t.shape_signature) == list(d["shape_signature"])
            q = d["quantization_parameters"]
            assert t.quantization.scales.tobytes() == q["scales"].astype(np.float32).tobytes()
            assert t.quantization.zero_points.tolist() == q["zero_points"].tolist()
            assert t.quantization.quantized_dimension == q["quantized_dimension"]
            if not t.is_constant:
                with pytest.raises(ValueError, match="no constant data"):
                    model.get_tensor(t.index)
                continue
            expected = interpreter.get_tensor(t.index)
            view = model.get_tensor(t.name)
            assert view.dtype == expected.dtype
            assert view.shape == expected.shape
            assert view.tobytes() == expected.tobytes()
            assert not view.flags.writeable
            if view.ctypes.data % view.itemsize == 0 and view.size:
                assert not view.flags.owndata  # a view of the mapped file, not a copy
            copied = model.get_tensor(t.index, copy=True)
            assert copied.flags.writeable
            assert copied.tobytes() == expected.tobytes()
            constants += 1
    assert constants >= 2


def test_quantization_kinds(models):
    with tflite.open(models["dynamic_int8"]) as m:
        hidden = [t for t in m.tensors if t.is_constant and t.dtype.name == "int8"]
        assert hidden, "dynamic-range quantization stores int8 weights"
        assert all(len(t.quantization.scales) >= 1 for t in hidden)
    with tflite.open(models["full_int8"]) as m:
        conv = next(t for t in m.tensors if t.is_constant and t.dtype.name == "int8" and len(t.shape) == 4)
        assert conv.quantization.per_axis
        assert len(conv.quantization.scales) == conv.shape[conv.quantization.quantized_dimension] == 16
        assert m.tensors[m.subgraphs[0].inputs[0]].dtype.name == "int8"
    with tflite.open(models["float16"]) as m:
        assert any(t.is_constant and t.dtype.name == "float16" for t in m.tensors)


def test_dequantize_per_axis_and_half(tf, models):
    # Per-axis int8: scale * (q - zero_point) along the quantized dimension,
    # within half a step of the float weights the model was converted from.
    keras_kernel = None
    with tflite.open(models["float32"]) as f32:
        for t in f32.tensors:
            if t.is_constant and len(t.shape) == 4:
                keras_kernel = f32.get_tensor(t.index)
    with tflite.open(models["full_int8"]) as m:
        conv = next(t for t in m.tensors if t.is_constant and t.dtype.name == "int8" and len(t.shape) == 4)
        q = m.get_tensor(conv.index)
        real = m.get_tensor(conv.index, dequantize=True)
        assert real.dtype == np.float32
        axis = conv.quantization.quantized_dimension
        shape = [1] * q.ndim
        shape[axis] = -1
        scales = conv.quantization.scales.astype(np.float64).reshape(shape)
        zeros = conv.quantization.zero_points.astype(np.float64).reshape(shape)
        np.testing.assert_array_equal(real, ((q.astype(np.float64) - zeros) * scales).astype(np.float32))
        assert keras_kernel is not None
        assert keras_kernel.shape == real.shape
        assert np.all(np.abs(real - keras_kernel) <= scales.astype(np.float32) / 2 + 1e-7)
    # float16 weights: the interpreter's DEQUANTIZE outputs are what dequantize=True gives.
    interpreter = tf_fixtures.tflite_interpreter(
        tf,
        models["float16"],
        experimental_preserve_all_tensors=True,
        # Without XNNPACK, which takes the half weights itself and leaves DEQUANTIZE's outputs unwritten.
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ones((1, 16, 16, 3), np.float32))
    interpreter.invoke()
    with tflite.open(models["float16"]) as m:
        dequantizes = [op for op in m.operators if op.name == "DEQUANTIZE"]
        assert len(dequantizes) >= 2
        for op in dequantizes:
            ours = m.get_tensor(op.inputs[0], dequantize=True)
            assert ours.tobytes() == interpreter.get_tensor(op.outputs[0]).tobytes()


def test_signatures_operators_and_metadata(tf, models):
    for variant in ("float32", "saved_model"):
        interpreter = tf_fixtures.tflite_interpreter(
            tf,
            models[variant],
            # Without XNNPACK, whose nodes would be listed after the model's own.
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        with tflite.open(models[variant]) as m:
            listed = interpreter.get_signature_list()
            assert set(m.signatures) == set(listed)
            for key, sig in m.signatures.items():
                assert set(sig.inputs) == set(listed[key]["inputs"])
                assert set(sig.outputs) == set(listed[key]["outputs"])
                runner = interpreter.get_signature_runner(key)
                for name, detail in runner.get_input_details().items():
                    assert sig.inputs[name] == detail["index"]
            ops = interpreter._get_ops_details()
            assert [op.name for op in m.operators] == [d["op_name"] for d in ops]
            assert [list(op.inputs) for op in m.operators] == [list(d["inputs"]) for d in ops]
            assert "min_runtime_version" in m.metadata
            assert bytes(m.metadata["min_runtime_version"]).rstrip(b"\0")[:1].isdigit()
    with tflite.open(models["saved_model"]) as m:
        assert set(m.signatures) == {"score"}
        assert set(m.signatures["score"].inputs) == {"features"}
        assert m.tensors[m.subgraphs[0].inputs[0]].shape_signature == (-1, 64)


def test_damaged_files_raise_data_loss_never_crash(models, tmp_path):
    data = models["full_int8"].read_bytes()
    broken = tmp_path / "broken.tflite"
    for cut in (0, 7, 64, len(data) // 3, len(data) - 1):
        broken.write_bytes(data[:cut])
        with pytest.raises(tfbundle.DataLossError, match=r"broken\.tflite"):
            tflite.open(broken)
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(300):
        mutated = bytearray(data)
        for position in rng.integers(0, len(data), 4):
            mutated[position] = int(rng.integers(0, 256))
        broken.write_bytes(bytes(mutated))
        try:
            with tflite.open(broken) as m:
                for t in m.tensors:
                    if t.is_constant:
                        m.get_tensor(t.index, dequantize=True)
            outcomes.add("read")
        except tfbundle.DataLossError:
            outcomes.add("DataLossError")
        except (ValueError, KeyError, IndexError) as e:  # a readable model describing impossible tensors
            outcomes.add(type(e).__name__)
    assert "DataLossError" in outcomes
    broken.write_bytes(b"not a model at all")
    with pytest.raises(tfbundle.DataLossError, match="not a TFLite model"):
        tflite.open(broken)


def test_command_line(models, tmp_path):
    out = _cli("ls", models["full_int8"])
    assert out.returncode == 0, out.stderr
    assert "per-axis 16 scales, dim 0" in out.stdout
    assert "[tflite]" in out.stdout
    listed = json.loads(_cli("ls", models["dynamic_int8"], "--json").stdout)
    assert listed["kind"] == "tflite"
    assert any(r["scales"] for r in listed["tensors"])
    with tflite.open(models["full_int8"]) as m:
        conv = next(t for t in m.tensors if t.is_constant and len(t.shape) == 4)
        real = m.get_tensor(conv.index, dequantize=True)
        names = m.keys()
        values = {n: np.array(m.get_tensor(n)) for n in names}
    out = _cli("show", models["full_int8"], conv.name, "--dequantize", "--slice", "0,0,0,:")
    assert out.returncode == 0, out.stderr
    assert f"{real[0, 0, 0, 0]:.4g}"[:4] in out.stdout
    # convert: the stored values, in each format.
    for suffix in (".safetensors", ".npz", "/ckpt"):
        target = tmp_path / f"int8{suffix}"
        out = _cli("convert", models["full_int8"], target)
        assert out.returncode == 0, out.stderr
        source = tfbundle.convert.open_source(str(target))
        for name, value in values.items():
            assert np.asarray(source.get_tensor(name)).tobytes() == value.tobytes(), (suffix, name)
        source.close()
    # diff: dequantized, against another model and against a checkpoint.
    assert _cli("diff", models["float32"], models["float32"]).returncode == 0
    with tflite.open(models["float16"]) as m:
        real_values = {n: m.get_tensor(n, dequantize=True) for n in m.keys()}
    tfbundle.save(real_values, tmp_path / "from_model")
    assert _cli("diff", models["float16"], tmp_path / "from_model").returncode == 0
    nudged = {n: v + np.float32(1e-3) if v.dtype == np.float32 else v for n, v in real_values.items()}
    tfbundle.save(nudged, tmp_path / "nudged")
    assert _cli("diff", models["float16"], tmp_path / "nudged").returncode == 1
    assert _cli("diff", models["float16"], tmp_path / "nudged", "--atol", "2e-3").returncode == 0
