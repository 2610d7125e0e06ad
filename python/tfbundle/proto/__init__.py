"""The project's own subset of TensorFlow's protobuf messages.

Messages are declared below by field number and type and built into a
private descriptor pool under the package ``tfbundle.proto``, so they never
collide with TensorFlow's descriptors when both live in one process, and no
generated code ties us to one protobuf release. Only wire compatibility
matters: the field numbers and types are TensorFlow's (see
``tensorflow/core/framework/*.proto`` and ``core/protobuf/*.proto``).
Fields tfbundle never reads are left out; protobuf keeps them as unknown
fields, so a parsed-and-reserialized message loses nothing.
"""

from __future__ import annotations

from typing import Any

from .schema import ENUMS, SCHEMA

_PACKAGE = "tfbundle.proto"
_classes: dict[str, type] = {}


def _build() -> None:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="tfbundle/proto/tfbundle.proto", package=_PACKAGE, syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto
    scalar = {
        "string": F.TYPE_STRING,
        "bytes": F.TYPE_BYTES,
        "double": F.TYPE_DOUBLE,
        "float": F.TYPE_FLOAT,
        "int64": F.TYPE_INT64,
        "int32": F.TYPE_INT32,
        "uint64": F.TYPE_UINT64,
        "uint32": F.TYPE_UINT32,
        "bool": F.TYPE_BOOL,
        "fixed32": F.TYPE_FIXED32,
    }

    for enum_name, values in ENUMS.items():
        enum = fdp.enum_type.add(name=enum_name)
        for value_name, number in values:
            enum.value.add(name=value_name, number=number)

    def set_type(field: Any, type_name: str) -> None:
        if type_name in scalar:
            field.type = scalar[type_name]
        elif type_name in ENUMS:
            field.type = F.TYPE_ENUM
            field.type_name = f".{_PACKAGE}.{type_name}"
        else:
            field.type = F.TYPE_MESSAGE
            field.type_name = f".{_PACKAGE}.{type_name}"

    for name, fields in SCHEMA.items():
        msg = fdp.message_type.add(name=name)
        oneofs: list[str] = []
        for spec in fields:
            field_name, number, label, type_name = spec[:4]
            f = msg.field.add(name=field_name, number=number, json_name=field_name)
            if label == "map":  # type_name is "key_type,value_type"
                key_type, value_type = type_name.split(",")
                entry_name = "".join(part.capitalize() for part in field_name.split("_")) + "Entry"
                entry = msg.nested_type.add(name=entry_name)
                entry.options.map_entry = True
                k = entry.field.add(name="key", number=1, label=F.LABEL_OPTIONAL)
                set_type(k, key_type)
                v = entry.field.add(name="value", number=2, label=F.LABEL_OPTIONAL)
                set_type(v, value_type)
                f.label = F.LABEL_REPEATED
                f.type = F.TYPE_MESSAGE
                f.type_name = f".{_PACKAGE}.{name}.{entry_name}"
                continue
            f.label = F.LABEL_REPEATED if label == "repeated" else F.LABEL_OPTIONAL
            set_type(f, type_name)
            if len(spec) > 4:  # member of a oneof
                if spec[4] not in oneofs:
                    oneofs.append(spec[4])
                    msg.oneof_decl.add(name=spec[4])
                f.oneof_index = oneofs.index(spec[4])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    for name in SCHEMA:
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


def parse(name: str, data: bytes) -> Any:
    """Parses binary ``data`` as message ``name``; raises DataLossError.

    Example:
        >>> parse("VersionDef", b"\\x08\\x01").producer
        1
    """
    from google.protobuf.message import DecodeError

    from ..errors import DataLossError

    msg = message_class(name)()
    try:
        msg.ParseFromString(data)
    except DecodeError as e:
        raise DataLossError(f"malformed {name}: {e}") from None
    return msg


__all__ = ["message_class", "parse"]
