"""The project's own subset of TensorFlow's protobuf messages.

Messages are declared here by field number and type and built into a
private descriptor pool under the package ``tfbundle.proto``, so they never
collide with TensorFlow's own descriptors when both live in one process, and
no generated code ties us to one protobuf release. Only wire compatibility
matters: the field numbers and types are TensorFlow's.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

_PACKAGE = "tfbundle.proto"

# message name -> [(field name, number, label, type)], label "" or "repeated";
# type is a scalar type name or another message of this schema.
_SCHEMA: Dict[str, List[Tuple[str, int, str, str]]] = {
    "CheckpointState": [
        ("model_checkpoint_path", 1, "", "string"),
        ("all_model_checkpoint_paths", 2, "repeated", "string"),
        ("all_model_checkpoint_timestamps", 3, "repeated", "double"),
        ("last_preserved_timestamp", 4, "", "double"),
    ],
}

_classes: Dict[str, type] = {}


def _build() -> None:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="tfbundle/proto/tfbundle.proto", package=_PACKAGE, syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto
    scalar = {
        "string": F.TYPE_STRING, "bytes": F.TYPE_BYTES, "double": F.TYPE_DOUBLE, "float": F.TYPE_FLOAT,
        "int64": F.TYPE_INT64, "int32": F.TYPE_INT32, "uint64": F.TYPE_UINT64, "uint32": F.TYPE_UINT32,
        "bool": F.TYPE_BOOL, "fixed32": F.TYPE_FIXED32, "enum": F.TYPE_INT32,
    }
    for name, fields in _SCHEMA.items():
        msg = fdp.message_type.add(name=name)
        for field_name, number, label, type_name in fields:
            f = msg.field.add(name=field_name, number=number)
            f.label = F.LABEL_REPEATED if label == "repeated" else F.LABEL_OPTIONAL
            if type_name in scalar:
                f.type = scalar[type_name]
            else:
                f.type = F.TYPE_MESSAGE
                f.type_name = f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    for name in _SCHEMA:
        _classes[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


def message_class(name: str) -> type:
    """The protobuf message class for one of the schema's messages.

    Example:
        >>> state = message_class("CheckpointState")(model_checkpoint_path="ckpt-1")
        >>> state.model_checkpoint_path
        'ckpt-1'
    """
    if not _classes:
        _build()
    return _classes[name]


__all__ = ["message_class"]
