"""Real servers on 127.0.0.1 for the remote-storage tests: an HTTP server
that honours ``Range`` and counts requests and bytes, and moto's standalone
S3 server. Requests go over the loopback; no client library is mocked.

The HTTP server serves files under ``root`` at ``/files/<path>``. Two other
mounts misbehave on purpose: ``/forbidden/<path>`` answers 403, and
``/drop/<path>`` serves ``.index`` files whole but sends only the headers
and half the body of data files, then closes the connection.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class Counters:
    """Requests and body bytes served, reset between measurements."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.bytes = 0

    def reset(self) -> None:
        with self.lock:
            self.requests = []
            self.bytes = 0


class RangeHTTPServer:
    """Serves ``root`` over HTTP on a free port; ``url(path)`` names a file.

    Example:
        >>> with RangeHTTPServer(tmp_path) as server:            # doctest: +SKIP
        ...     fsspec.open(server.url("ckpt.index")).read()
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.counters = Counters()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                with server.counters.lock:
                    server.counters.requests.append((self.command, self.path, self.headers.get("Range")))
                mount, _, rel = self.path.lstrip("/").partition("/")
                path = server.root / rel
                if mount == "forbidden":
                    return self._status(403)
                if mount not in ("files", "drop") or not path.is_file():
                    return self._status(404)
                size = path.stat().st_size
                start, end, status = 0, size, 200
                match = _RANGE.match(self.headers.get("Range", ""))
                if match:
                    start = int(match.group(1))
                    end = min(size, int(match.group(2)) + 1) if match.group(2) else size
                    if start >= size:
                        return self._status(416)
                    status = 206
                self.send_response(status)
                self.send_header("Content-Length", str(end - start))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                self.end_headers()
                if not body:
                    return None
                with path.open("rb") as f:  # only the range is read
                    f.seek(start)
                    payload = f.read(end - start)
                drop = mount == "drop" and ".data-" in rel
                if drop:
                    payload = payload[: len(payload) // 2]
                with server.counters.lock:  # counted first: the client may look before write() returns
                    server.counters.bytes += len(payload)
                self.wfile.write(payload)
                if drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                return None

            def _status(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str = "", mount: str = "files") -> str:
        return f"http://127.0.0.1:{self.port}/{mount}/{path}"

    def __enter__(self) -> RangeHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """moto's S3 server on a free loopback port, with one bucket."""

    def __init__(self, bucket: str = "tfbundle-test") -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.bucket = bucket
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.options = {
            "endpoint_url": f"http://127.0.0.1:{self.port}",
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"region_name": "us-east-1"},
        }

    def __enter__(self) -> S3Server:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "testing")
        self._server.start()
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.options["endpoint_url"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=self.bucket)
        return self

    def url(self, path: str = "") -> str:
        return f"s3://{self.bucket}/{path}"

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
