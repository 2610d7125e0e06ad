"""Field numbers and types of the TensorFlow messages tfbundle reads and
writes: message -> [(field, number, label, type[, oneof])].

label is "" (singular), "repeated" or "map" (type "key,value"). Types are
scalars, messages of SCHEMA or enums of ENUMS (their names are needed by the
text format, e.g. ``dtype: DT_FLOAT``).
"""

from typing import Dict, List, Tuple

Field = Tuple[str, ...]

_DATA_TYPES = [
    "INVALID", "FLOAT", "DOUBLE", "INT32", "UINT8", "INT16", "INT8", "STRING", "COMPLEX64", "INT64", "BOOL",
    "QINT8", "QUINT8", "QINT32", "BFLOAT16", "QINT16", "QUINT16", "UINT16", "COMPLEX128", "HALF", "RESOURCE",
    "VARIANT", "UINT32", "UINT64", "FLOAT8_E5M2", "FLOAT8_E4M3FN", "FLOAT8_E4M3FNUZ", "FLOAT8_E4M3B11FNUZ",
    "FLOAT8_E5M2FNUZ", "INT4", "UINT4", "INT2", "UINT2", "FLOAT4_E2M1FN",
]

# enum -> [(value name, number)]; core/framework/types.proto, core/protobuf/saver.proto
ENUMS: Dict[str, List[Tuple[str, int]]] = {
    "DataType": [(f"DT_{n}", i) for i, n in enumerate(_DATA_TYPES)]
    + [(f"DT_{n}_REF", i + 100) for i, n in enumerate(_DATA_TYPES) if i > 0],
    "CheckpointFormatVersion": [("LEGACY", 0), ("V1", 1), ("V2", 2)],
}

SCHEMA: Dict[str, List[tuple]] = {
    # python/training/checkpoint_state.proto
    "CheckpointState": [
        ("model_checkpoint_path", 1, "", "string"),
        ("all_model_checkpoint_paths", 2, "repeated", "string"),
        ("all_model_checkpoint_timestamps", 3, "repeated", "double"),
        ("last_preserved_timestamp", 4, "", "double"),
    ],
    # core/framework/versions.proto
    "VersionDef": [
        ("producer", 1, "", "int32"),
        ("min_consumer", 2, "", "int32"),
        ("bad_consumers", 3, "repeated", "int32"),
    ],
    # core/framework/tensor_shape.proto
    "TensorShapeProto": [
        ("dim", 2, "repeated", "TensorShapeProtoDim"),
        ("unknown_rank", 3, "", "bool"),
    ],
    "TensorShapeProtoDim": [("size", 1, "", "int64"), ("name", 2, "", "string")],
    # core/framework/tensor.proto
    "TensorProto": [
        ("dtype", 1, "", "DataType"),
        ("tensor_shape", 2, "", "TensorShapeProto"),
        ("version_number", 3, "", "int32"),
        ("tensor_content", 4, "", "bytes"),
        ("float_val", 5, "repeated", "float"),
        ("double_val", 6, "repeated", "double"),
        ("int_val", 7, "repeated", "int32"),
        ("string_val", 8, "repeated", "bytes"),
        ("scomplex_val", 9, "repeated", "float"),
        ("int64_val", 10, "repeated", "int64"),
        ("bool_val", 11, "repeated", "bool"),
        ("dcomplex_val", 12, "repeated", "double"),
        ("half_val", 13, "repeated", "int32"),
        ("variant_val", 15, "repeated", "bytes"),
        ("uint32_val", 16, "repeated", "uint32"),
        ("uint64_val", 17, "repeated", "uint64"),
        ("float8_val", 18, "", "bytes"),
    ],
    # core/framework/attr_value.proto
    "AttrValue": [
        ("list", 1, "", "AttrValueListValue", "value"),
        ("s", 2, "", "bytes", "value"),
        ("i", 3, "", "int64", "value"),
        ("f", 4, "", "float", "value"),
        ("b", 5, "", "bool", "value"),
        ("type", 6, "", "DataType", "value"),
        ("shape", 7, "", "TensorShapeProto", "value"),
        ("tensor", 8, "", "TensorProto", "value"),
        ("placeholder", 9, "", "string", "value"),
        ("func", 10, "", "NameAttrList", "value"),
    ],
    "AttrValueListValue": [
        ("s", 2, "repeated", "bytes"),
        ("i", 3, "repeated", "int64"),
        ("f", 4, "repeated", "float"),
        ("b", 5, "repeated", "bool"),
        ("type", 6, "repeated", "DataType"),
        ("shape", 7, "repeated", "TensorShapeProto"),
        ("tensor", 8, "repeated", "TensorProto"),
        ("func", 9, "repeated", "NameAttrList"),
    ],
    "NameAttrList": [("name", 1, "", "string"), ("attr", 2, "map", "string,AttrValue")],
    # core/framework/node_def.proto, graph.proto, function.proto, op_def.proto
    "NodeDef": [
        ("name", 1, "", "string"),
        ("op", 2, "", "string"),
        ("input", 3, "repeated", "string"),
        ("device", 4, "", "string"),
        ("attr", 5, "map", "string,AttrValue"),
    ],
    "GraphDef": [
        ("node", 1, "repeated", "NodeDef"),
        ("library", 2, "", "FunctionDefLibrary"),
        ("version", 3, "", "int32"),
        ("versions", 4, "", "VersionDef"),
    ],
    "FunctionDefLibrary": [("function", 1, "repeated", "FunctionDef")],
    # core/framework/function.proto, op_def.proto: what freezing rewrites (other fields kept as unknown ones)
    "FunctionDef": [
        ("signature", 1, "", "OpDef"),
        ("node_def", 3, "repeated", "NodeDef"),
        ("ret", 4, "map", "string,string"),
        ("arg_attr", 7, "map", "uint32,FunctionDefArgAttrs"),
        ("resource_arg_unique_id", 8, "map", "uint32,uint32"),
    ],
    "FunctionDefArgAttrs": [("attr", 1, "map", "string,AttrValue")],
    "OpDef": [
        ("name", 1, "", "string"),
        ("input_arg", 2, "repeated", "OpDefArgDef"),
        ("output_arg", 3, "repeated", "OpDefArgDef"),
    ],
    "OpDefArgDef": [
        ("name", 1, "", "string"),
        ("type", 3, "", "DataType"),
        ("type_attr", 4, "", "string"),
        ("handle_data", 7, "repeated", "DtypeAndShape"),
    ],
    "DtypeAndShape": [("dtype", 1, "", "DataType"), ("shape", 2, "", "TensorShapeProto")],
    # core/framework/variable.proto
    "VariableDef": [
        ("variable_name", 1, "", "string"),
        ("initializer_name", 2, "", "string"),
        ("snapshot_name", 3, "", "string"),
        ("save_slice_info_def", 4, "", "SaveSliceInfoDef"),
        ("is_resource", 5, "", "bool"),
        ("initial_value_name", 6, "", "string"),
        ("trainable", 7, "", "bool"),
    ],
    "SaveSliceInfoDef": [
        ("full_name", 1, "", "string"),
        ("full_shape", 2, "repeated", "int64"),
        ("var_offset", 3, "repeated", "int64"),
        ("var_shape", 4, "repeated", "int64"),
    ],
    # core/protobuf/meta_graph.proto
    "MetaGraphDef": [
        ("meta_info_def", 1, "", "MetaInfoDef"),
        ("graph_def", 2, "", "GraphDef"),
        ("saver_def", 3, "", "SaverDef"),
        ("collection_def", 4, "map", "string,CollectionDef"),
        ("signature_def", 5, "map", "string,SignatureDef"),
        ("asset_file_def", 6, "repeated", "AssetFileDef"),
        ("object_graph_def", 7, "", "SavedObjectGraph"),
    ],
    "MetaInfoDef": [
        ("meta_graph_version", 1, "", "string"),
        ("tags", 4, "repeated", "string"),
        ("tensorflow_version", 5, "", "string"),
        ("tensorflow_git_version", 6, "", "string"),
        ("stripped_default_attrs", 7, "", "bool"),
        ("function_aliases", 8, "map", "string,string"),
    ],
    "CollectionDef": [
        ("node_list", 1, "", "CollectionDefNodeList", "kind"),
        ("bytes_list", 2, "", "CollectionDefBytesList", "kind"),
        ("int64_list", 3, "", "CollectionDefInt64List", "kind"),
        ("float_list", 4, "", "CollectionDefFloatList", "kind"),
        ("any_list", 5, "", "CollectionDefAnyList", "kind"),
    ],
    "CollectionDefNodeList": [("value", 1, "repeated", "string")],
    "CollectionDefBytesList": [("value", 1, "repeated", "bytes")],
    "CollectionDefInt64List": [("value", 1, "repeated", "int64")],
    "CollectionDefFloatList": [("value", 1, "repeated", "float")],
    "CollectionDefAnyList": [("value", 1, "repeated", "Any")],
    "Any": [("type_url", 1, "", "string"), ("value", 2, "", "bytes")],
    "TensorInfo": [
        ("name", 1, "", "string", "encoding"),
        ("dtype", 2, "", "DataType"),
        ("tensor_shape", 3, "", "TensorShapeProto"),
        ("coo_sparse", 4, "", "TensorInfoCooSparse", "encoding"),
        ("composite_tensor", 5, "", "bytes", "encoding"),
    ],
    "TensorInfoCooSparse": [
        ("values_tensor_name", 1, "", "string"),
        ("indices_tensor_name", 2, "", "string"),
        ("dense_shape_tensor_name", 3, "", "string"),
    ],
    "SignatureDef": [
        ("inputs", 1, "map", "string,TensorInfo"),
        ("outputs", 2, "map", "string,TensorInfo"),
        ("method_name", 3, "", "string"),
    ],
    "AssetFileDef": [("tensor_info", 1, "", "TensorInfo"), ("filename", 2, "", "string")],
    # core/protobuf/saver.proto
    "SaverDef": [
        ("filename_tensor_name", 1, "", "string"),
        ("save_tensor_name", 2, "", "string"),
        ("restore_op_name", 3, "", "string"),
        ("max_to_keep", 4, "", "int32"),
        ("sharded", 5, "", "bool"),
        ("keep_checkpoint_every_n_hours", 6, "", "float"),
        ("version", 7, "", "CheckpointFormatVersion"),
    ],
    # core/protobuf/saved_model.proto
    "SavedModel": [
        ("saved_model_schema_version", 1, "", "int64"),
        ("meta_graphs", 2, "repeated", "MetaGraphDef"),
    ],
    # core/protobuf/saved_object_graph.proto (the parts tfbundle reads)
    "SavedObjectGraph": [
        ("nodes", 1, "repeated", "SavedObject"),
        ("concrete_functions", 2, "map", "string,SavedConcreteFunction"),
    ],
    "SavedConcreteFunction": [("bound_inputs", 2, "repeated", "int32")],
    "SavedObject": [
        ("children", 1, "repeated", "TrackableObjectReference"),
        ("variable", 7, "", "SavedVariable", "kind"),
        ("asset", 5, "", "SavedAsset", "kind"),
    ],
    "SavedAsset": [("asset_file_def_index", 1, "", "int32")],
    "SavedVariable": [
        ("dtype", 1, "", "DataType"),
        ("shape", 2, "", "TensorShapeProto"),
        ("trainable", 3, "", "bool"),
        ("name", 6, "", "string"),
        ("device", 7, "", "string"),
    ],
    # core/protobuf/fingerprint.proto
    "FingerprintDef": [
        ("saved_model_checksum", 1, "", "uint64"),
        ("graph_def_program_hash", 2, "", "uint64"),
        ("signature_def_hash", 3, "", "uint64"),
        ("saved_object_graph_hash", 4, "", "uint64"),
        ("checkpoint_hash", 5, "", "uint64"),
        ("version", 6, "", "VersionDef"),
        ("uuid", 7, "", "string"),
    ],
    # core/protobuf/trackable_object_graph.proto
    "TrackableObjectGraph": [("nodes", 1, "repeated", "TrackableObject")],
    "TrackableObject": [
        ("children", 1, "repeated", "TrackableObjectReference"),
        ("attributes", 2, "repeated", "SerializedTensor"),
        ("slot_variables", 3, "repeated", "SlotVariableReference"),
    ],
    "TrackableObjectReference": [("node_id", 1, "", "int32"), ("local_name", 2, "", "string")],
    "SerializedTensor": [
        ("name", 1, "", "string"),
        ("full_name", 2, "", "string"),
        ("checkpoint_key", 3, "", "string"),
    ],
    "SlotVariableReference": [
        ("original_variable_node_id", 1, "", "int32"),
        ("slot_name", 2, "", "string"),
        ("slot_variable_node_id", 3, "", "int32"),
    ],
}
