"""A V2 checkpoint on remote storage, read by byte ranges.

Opening fetches the ``.index`` object in one request (the shape and dtype
maps need nothing more); a tensor moves exactly its byte range, checked by
the C++ core as a local read is (length, CRC32C, string structure). Reading
many tensors (``load``) coalesces neighbouring ranges into blocks and
fetches the blocks concurrently. :class:`RemoteBundle` has the interface of
the core's ``BundleReader``, so :class:`tfbundle.CheckpointReader` reads
either without knowing which.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import paths
from ._core import BundleReader, empty_bytes
from ._lazy import numpy as np
from .dtypes import from_enum
from .errors import DataLossError
from .remote import Store, join
from .state import get_checkpoint_state

# Ranges closer than this are fetched as one block (the bytes between are
# cheaper than a request), and no block grows past the block size.
DEFAULT_MAX_GAP = 1 << 20
DEFAULT_BLOCK_SIZE = 64 << 20
# load() fetches blocks in groups of about this many bytes at a time.
GROUP_BYTES = 512 << 20


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class RemoteBundle:
    """``BundleReader``'s interface over a bundle whose files are fetched.

    Example:
        >>> core = RemoteBundle.open("s3://bucket/run/ckpt-10")   # doctest: +SKIP
        >>> core.keys()[:2]                                        # doctest: +SKIP
        ['dense/bias', 'dense/kernel']
    """

    def __init__(self, store: Store, prefix: str, index: bytes) -> None:
        self._store = store
        self.prefix = prefix
        self._core = BundleReader.from_index(prefix, index)
        count = self._core.num_shards
        self._data = [paths.data_path(prefix, i, count) for i in range(count)]
        self.max_gap = _env_int("TFBUNDLE_REMOTE_MAX_GAP", DEFAULT_MAX_GAP)
        self.block_size = _env_int("TFBUNDLE_REMOTE_BLOCK_SIZE", DEFAULT_BLOCK_SIZE)
        self.concurrency = _env_int("TFBUNDLE_REMOTE_CONCURRENCY", 0) or None  # None: fsspec's default

    @classmethod
    def open(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> RemoteBundle:
        """Finds the checkpoint ``url`` names (a prefix, one of its files, a
        directory with a ``checkpoint`` state file, a SavedModel or its
        ``variables/``) and fetches its index."""
        store = Store.for_url(url, storage_options)
        prefix, index = _resolve(store, url, storage_options)
        return cls(store, prefix, index)

    def __getattr__(self, name: str) -> Any:
        # Metadata (keys, info, shape_map, dtype_map, slices, entry, ...)
        # comes from the index alone.
        return getattr(self._core, name)

    @property
    def verbatim(self) -> bool:
        return bool(self._core.verbatim)

    def _fetch(self, key: str) -> bytes:
        shard, offset, size = self._core.payload_range(key)
        return self._store.cat_range(self._data[shard], offset, offset + size)

    def checked_size(self, key: str) -> int:
        return int(self._core.payload_range(key)[2])

    def read_tensor(self, key: str, verify: bool = True) -> None:
        """Always None: the reader then calls read_into or read_strings."""
        return

    def read_into(self, key: str, dst: Any, verify: bool = True) -> None:
        self._core.read_fetched(key, self._fetch(key), dst, verify)

    def read_strings(self, key: str, verify: bool = True) -> list[bytes]:
        return self._core.read_fetched_strings(key, self._fetch(key), verify)

    def view(self, key: str) -> Any:
        """The stored bytes (fetched, not verified) as a read-only array."""
        return np.frombuffer(self._fetch(key), dtype=np.uint8)

    def read_rows(self, key: str, start: int, stop: int) -> Any:
        """Rows [start, stop) of a fixed-size tensor's first dimension, fetched
        alone and not verified (the checksum covers the whole tensor), as a
        read-only uint8 array in file byte order."""
        shard, offset, size = self._core.payload_range(key)
        rows = self._core.info(key)[1][0]
        if not 0 <= start <= stop <= rows:
            raise IndexError(f"rows [{start}, {stop}) of {key!r}, which has {rows}")
        row_bytes = size // rows if rows else 0
        begin, end = offset + start * row_bytes, offset + stop * row_bytes
        data = self._store.cat_range(self._data[shard], begin, end)
        if len(data) != end - begin:
            raise DataLossError(
                f"{self._data[shard]}: rows [{start}, {stop}) of tensor {key!r} span bytes [{begin}, {end}) "
                f"but {len(data)} were read (truncated data file?)"
            )
        return np.frombuffer(data, dtype=np.uint8)

    def copy_entry_to(self, key: str, writer: Any, new_key: str, shard: int = -1) -> None:
        """Copies one entry into a core ``BundleWriter``, as the core's own
        copy_entry_to does: fetched, verified, stored bytes unchanged."""
        enum, shape, _partitioned = self._core.info(key)
        dtype = from_enum(enum)
        if dtype.name == "variant":
            raise ValueError(f"{self.prefix}: copying variant tensor {key!r} from a URL is not supported")
        if dtype.is_variable_length:
            writer.add_strings(new_key, shape, self.read_strings(key, True), shard)
            return
        raw = empty_bytes(self.checked_size(key))
        self.read_into(key, raw, True)
        writer.add(new_key, enum, shape, raw, shard)

    def verify(self, key: str) -> None:
        enum, _shape, partitioned = self._core.info(key)
        if partitioned:
            return  # its slices are entries of their own
        if from_enum(enum).is_variable_length:
            self.read_strings(key, True)
        else:
            self.read_into(key, empty_bytes(self.checked_size(key)), True)

    def verify_files(self) -> None:
        """Nothing more to check: every index block was checked on open."""

    def _fetch_group(self, group: list[list[Any]], out: dict[str, Any], verify: bool) -> None:
        """Fetches blocks concurrently and copies their tensors, checked, into new arrays."""
        fetched = self._store.cat_ranges(
            [self._data[b[0]] for b in group], [b[1] for b in group], [b[2] for b in group], self.concurrency
        )
        for (_shard, start, _end, members), data in zip(group, fetched):
            view = memoryview(data)
            for key, offset, size, numpy_dtype, shape in members:
                raw = empty_bytes(size)
                self._core.read_fetched(key, view[offset - start : offset - start + size], raw, verify)
                out[key] = raw.view(numpy_dtype).reshape(shape)

    def read_many(self, keys: list[str], verify: bool = True) -> dict[str, Any]:
        """The fixed-size, non-partitioned tensors among ``keys`` as new
        arrays; neighbouring ranges are fetched together, blocks concurrently."""
        wanted = []
        for key in keys:
            enum, shape, partitioned = self._core.info(key)
            dtype = from_enum(enum)
            if partitioned or dtype.is_variable_length:
                continue
            try:
                numpy_dtype = dtype.numpy_dtype
            except TypeError:
                continue  # no numpy form (resource handles); the reader says so
            shard, offset, size = self._core.payload_range(key)
            wanted.append((shard, offset, size, key, numpy_dtype, shape))
        wanted.sort()
        blocks: list[list[Any]] = []  # [shard, start, end, [(key, offset, size, dtype, shape)]]
        for shard, offset, size, key, numpy_dtype, shape in wanted:
            last = blocks[-1] if blocks else None
            if (
                last is not None
                and last[0] == shard
                and offset - last[2] <= self.max_gap
                and offset + size - last[1] <= self.block_size
            ):
                last[2] = max(last[2], offset + size)
            else:
                last = [shard, offset, offset + size, []]
                blocks.append(last)
            last[3].append((key, offset, size, numpy_dtype, shape))
        # Blocks are fetched in groups that stop growing at GROUP_BYTES, so the
        # fetched bytes held at once (beside the arrays) stay bounded.
        out: dict[str, Any] = {}
        group: list[list[Any]] = []
        held = 0
        for i, block in enumerate(blocks):
            group.append(block)
            held += block[2] - block[1]
            if held >= GROUP_BYTES or i == len(blocks) - 1:
                self._fetch_group(group, out, verify)
                group, held = [], 0
        return out


def _resolve(store: Store, url: str, storage_options: Mapping[str, Any] | None) -> tuple[str, bytes]:
    """(prefix URL, index bytes) of the checkpoint ``url`` names."""
    p = url.rstrip("/")
    prefix = paths.strip_file_suffix(p)
    try:
        return prefix, store.cat(paths.index_path(prefix))
    except FileNotFoundError:
        if prefix != p:
            raise FileNotFoundError(
                f"{paths.index_path(prefix)}: no such object (the index of the checkpoint {p} belongs to)"
            ) from None
    # The state file's latest checkpoint (as named, then beside the state
    # file when it was moved), then a SavedModel: one request per guess.
    try:
        state = get_checkpoint_state(p, storage_options=storage_options)
    except DataLossError:
        state = None
    latest = [state.model_checkpoint_path, join(p, paths.file_name(state.model_checkpoint_path))] if state else []
    candidates = [*dict.fromkeys(latest), join(p, "variables/variables"), join(p, "variables")]
    for candidate in candidates:
        try:
            return candidate, store.cat(paths.index_path(candidate))
        except FileNotFoundError:
            continue
    try:
        indexes = store.glob(join(p, "*.index"))
    except OSError:
        indexes = []  # a filesystem that cannot list (plain HTTP)
    if len(indexes) == 1:
        prefix = indexes[0][: -len(".index")]
        return prefix, store.cat(indexes[0])
    if indexes:
        raise FileNotFoundError(f"{p}: holds {len(indexes)} checkpoints and no 'checkpoint' state file naming one")
    raise FileNotFoundError(
        f"{p}: no checkpoint found: looked for {paths.index_path(p)}, a 'checkpoint' state file, a SavedModel "
        "(variables/variables.index) and a single .index file (remote V1 checkpoints are not read; download them)"
    )


__all__ = ["RemoteBundle"]
