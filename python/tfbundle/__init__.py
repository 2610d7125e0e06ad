"""tfbundle: read and write TensorFlow checkpoints without TensorFlow.

Example:
    >>> import tfbundle
    >>> with tfbundle.open("model.ckpt-20") as ckpt:          # doctest: +SKIP
    ...     kernel = ckpt.get_tensor("dense/kernel")
"""

from . import convert, edit, graph, saved_model, tflite
from .dtypes import DType, as_dtype
from .errors import DataLossError, NotFoundError
from .manager import CheckpointManager
from .objects import object_paths
from .reader import (
    CheckpointReader,
    NewCheckpointReader,
    TensorSlice,
    list_variables,
    load,
    load_checkpoint,
    load_variable,
    open,
)
from .state import checkpoint_exists, get_checkpoint_state, latest_checkpoint, update_checkpoint_state
from .writer import Writer, save

__version__ = "0.1.0"

__all__ = [
    "CheckpointManager",
    "CheckpointReader",
    "DType",
    "DataLossError",
    "NewCheckpointReader",
    "NotFoundError",
    "TensorSlice",
    "Writer",
    "as_dtype",
    "checkpoint_exists",
    "convert",
    "edit",
    "get_checkpoint_state",
    "graph",
    "latest_checkpoint",
    "list_variables",
    "load",
    "load_checkpoint",
    "load_variable",
    "object_paths",
    "open",
    "save",
    "saved_model",
    "tflite",
    "update_checkpoint_state",
]
