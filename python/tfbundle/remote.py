"""Files on remote storage, through fsspec: ``s3://``, ``gs://``, ``https://``,
``memory://`` and every other fsspec filesystem.

A path is remote when it is a URL (``scheme://...``) other than ``file://``;
local paths never touch fsspec, which is imported only when a URL is used.
:class:`Store` is the one place that talks to a filesystem: whole and ranged
reads, concurrent ranged reads, writes, listing and deletion, each error
turned into ``FileNotFoundError``, ``PermissionError`` or ``OSError`` naming
the URL.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from . import paths

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

# The extra that brings each protocol's fsspec implementation.
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "http": "remote", "https": "remote"}


def is_url(path: object) -> bool:
    """True for ``scheme://...`` strings other than ``file://``.

    Example:
        >>> is_url("s3://bucket/run/ckpt-1"), is_url("run/ckpt-1"), is_url("file:///tmp/x")
        (True, False, False)
    """
    return isinstance(path, str) and bool(_URL.match(path)) and not path.startswith("file://")


def local_path(path: paths.PathLike) -> paths.PathLike:
    """``file://`` URLs as plain paths; anything else unchanged.

    Example:
        >>> local_path("file:///tmp/ckpt-1")
        '/tmp/ckpt-1'
    """
    if isinstance(path, str) and path.startswith("file://"):
        return path[len("file://") :]
    return path


def join(base: str, name: str) -> str:
    """``name`` resolved against the directory URL ``base`` (URLs and
    absolute names are kept).

    Example:
        >>> join("s3://b/run", "ckpt-3"), join("s3://b/run", "gs://c/x")
        ('s3://b/run/ckpt-3', 'gs://c/x')
    """
    if is_url(name):
        return name
    return base.rstrip("/") + "/" + name.lstrip("/") if not name.startswith("/") else _root(base) + name


def _root(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


class Store:
    """One fsspec filesystem and the URL form of its paths.

    Example:
        >>> store = Store.for_url("memory://ckpt/model.index")
        >>> store.exists("memory://ckpt/model.index")
        False
    """

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    @classmethod
    def for_url(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> Store:
        """The store for ``url``'s filesystem; a missing implementation
        raises ImportError naming the extra to install."""
        try:
            import fsspec
        except ImportError:
            raise ImportError(
                f'{url}: reading URLs needs fsspec: pip install "tfbundle[{_EXTRAS.get(_protocol(url), "remote")}]"'
            ) from None
        try:
            fs, _ = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
        except ImportError as e:
            extra = _EXTRAS.get(_protocol(url), "remote")
            raise ImportError(f'{url}: pip install "tfbundle[{extra}]" ({e})') from None
        return cls(fs)

    def url(self, path: str) -> str:
        """The URL of a path in this store (URLs pass through)."""
        return path if is_url(path) else self.fs.unstrip_protocol(path)

    def _call(self, url: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Runs one filesystem call, errors re-raised naming ``url``."""
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            raise FileNotFoundError(f"{url}: no such object") from None
        except PermissionError as e:
            raise PermissionError(f"{url}: permission denied ({e})") from None
        except OSError as e:
            raise OSError(f"{url}: {what} failed: {e}") from e
        except Exception as e:  # clients raise their own types for HTTP errors
            status = getattr(e, "status", None) or getattr(e, "code", None)
            if status == 404:
                raise FileNotFoundError(f"{url}: no such object") from None
            if status in (401, 403):
                raise PermissionError(f"{url}: permission denied ({e})") from None
            raise OSError(f"{url}: {what} failed: {type(e).__name__}: {e}") from e

    def cat(self, url: str) -> bytes:
        """The whole object."""
        return bytes(self._call(url, "read", self.fs.cat_file, url))

    def cat_range(self, url: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object (fewer if it is shorter)."""
        if end <= start:
            return b""
        try:
            return bytes(self._call(url, "ranged read", self.fs.cat_file, url, start=start, end=end))
        except (FileNotFoundError, PermissionError):
            raise
        except OSError as e:
            return self._past_the_end(url, start, e)

    def _past_the_end(self, url: str, start: int, error: OSError) -> bytes:
        """b"" when a failed ranged read started past the object's end (servers
        refuse such a range; the caller reports the object as truncated);
        otherwise re-raises the failure."""
        size = self._call(url, "lookup", self.fs.size, url)
        if size is not None and start >= size:
            return b""
        raise error

    def cat_ranges(
        self, urls: Sequence[str], starts: Sequence[int], ends: Sequence[int], concurrency: int | None = None
    ) -> list[bytes]:
        """Several ranges at once; filesystems that can (s3, gcs, http) fetch
        them concurrently, at most ``concurrency`` at a time (None: fsspec's
        default)."""
        if not urls:
            return []
        options: dict[str, Any] = {"on_error": "return"}
        if concurrency and getattr(self.fs, "async_impl", False):
            options["batch_size"] = concurrency
        results = self._call(
            urls[0], "ranged read", self.fs.cat_ranges, list(urls), list(starts), list(ends), **options
        )
        out = []
        for url, start, result in zip(urls, starts, results):
            if isinstance(result, BaseException):
                try:
                    result = self._call(url, "ranged read", _raise, result)
                except (FileNotFoundError, PermissionError):
                    raise
                except OSError as e:
                    result = self._past_the_end(url, start, e)
            out.append(bytes(result))
        return out

    def exists(self, url: str) -> bool:
        return bool(self._call(url, "lookup", self.fs.exists, url))

    def glob(self, pattern: str) -> list[str]:
        """Matching URLs, sorted."""
        return sorted(self.url(p) for p in self._call(pattern, "listing", self.fs.glob, pattern))

    def put_bytes(self, url: str, data: bytes) -> None:
        """Writes a whole object (object stores make it appear at once)."""
        self._call(url, "write", self.fs.pipe_file, url, data)

    def put_file(self, local: str, url: str) -> None:
        """Uploads a local file to ``url``."""
        self._call(url, "upload", self.fs.put_file, local, url)

    def remove(self, url: str) -> None:
        """Deletes an object; a missing one is not an error."""
        with contextlib.suppress(FileNotFoundError):
            self._call(url, "delete", self.fs.rm_file, url)


class Upload:
    """A bundle staged in a local temporary directory, then committed to a URL
    prefix in the order that keeps readers safe on stores without rename:
    a marker naming the writer, the data objects, the ``.index`` last, then
    the marker is removed. A reader never sees an index whose data is
    missing; a writer killed mid-way leaves at worst data objects and its
    marker, which the next ``CheckpointManager`` removes.

    Example:
        >>> up = Upload("s3://bucket/run/ckpt-1")                 # doctest: +SKIP
        >>> # write the bundle at up.local_prefix, then:
        >>> up.commit(data_files, index_file)                     # doctest: +SKIP
    """

    def __init__(self, prefix: str, storage_options: Mapping[str, Any] | None = None) -> None:
        import tempfile

        self.prefix = prefix
        self.store = Store.for_url(prefix, storage_options)
        self._staging = tempfile.mkdtemp(prefix="tfbundle-upload-")
        self.local_prefix = posixpath.join(self._staging, "bundle")

    def commit(self, data_files: Sequence[str], index_file: str) -> None:
        """Uploads ``data_files`` (local paths, in shard order) and then
        ``index_file``; removes data objects of an older bundle at the prefix
        with another shard count. On failure, removes what it uploaded."""
        from ._fsutil import temp_name

        index_url = paths.index_path(self.prefix)
        marker = temp_name(index_url)
        count = len(data_files)
        uploaded: list[str] = []
        try:
            self.store.put_bytes(marker, b"")
            uploaded.append(marker)
            for shard, local in enumerate(data_files):
                url = paths.data_path(self.prefix, shard, count)
                self.store.put_file(local, url)
                uploaded.append(url)
            self.store.put_file(index_file, index_url)
        except BaseException:
            for url in uploaded:
                with contextlib.suppress(OSError):
                    self.store.remove(url)
            raise
        finally:
            self.discard()
        # Compared by name: stores spell the same object's URL differently.
        keep = {posixpath.basename(url) for url in uploaded}
        with contextlib.suppress(OSError):
            for stale in self.store.glob(glob_escape(self.prefix) + ".data-?????-of-?????"):
                if posixpath.basename(stale) not in keep:
                    self.store.remove(stale)
        self.store.remove(marker)

    def discard(self) -> None:
        """Removes the local staging directory."""
        import shutil

        shutil.rmtree(self._staging, ignore_errors=True)


_fetched: dict[str, str] = {}


def fetched_copy(url: str, storage_options: Mapping[str, Any] | None = None) -> str:
    """A local copy of the object at ``url`` (fetched once per process, in a
    temporary directory removed at exit), for formats read whole by a parser
    that needs a file (graphs).

    Example:
        >>> path = fetched_copy("s3://bucket/frozen.pb")           # doctest: +SKIP
    """
    if url not in _fetched:
        import atexit
        import shutil
        import tempfile

        if not _fetched:
            directory = tempfile.mkdtemp(prefix="tfbundle-fetched-")
            atexit.register(shutil.rmtree, directory, True)
            _fetched[""] = directory
        data = Store.for_url(url, storage_options).cat(url)
        local = posixpath.join(_fetched[""], f"{len(_fetched)}-{posixpath.basename(url.rstrip('/'))}")
        with open(local, "wb") as f:
            f.write(data)
        _fetched[url] = local
    return _fetched[url]


def glob_escape(url: str) -> str:
    """``url`` with glob's special characters escaped (fsspec globbing)."""
    return re.sub(r"([*?\[\]])", r"[\1]", url)


def _raise(error: BaseException) -> bytes:
    raise error


__all__ = ["Store", "Upload", "is_url", "join", "local_path"]
