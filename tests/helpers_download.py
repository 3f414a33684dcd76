"""A stand-in Zenodo server on 127.0.0.1 for the download tests (record JSON + files, Range support)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class RecordServer:
    """Serves ``/api/records/<id>`` (the record JSON, ``<id>`` its ``id``) and each file at its ``links.self`` path,
    with Range support.

    ``drop_first``: names whose first GET sends only half the body, then closes the connection.
    ``ignore_range``: answer 200 with the whole body even when a Range is asked for.
    ``corrupt``: names whose body is served with bytes flipped (the JSON keeps the true md5).
    ``html_first``: names whose first GET is answered 200 with a small ``text/html`` page.
    ``bad_range``: names whose ranged GETs are answered 206 with the whole body (Content-Range from 0).
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.paths: dict[str, str] = {}  # URL path -> file name
        self.record_json: dict = {}
        self.reset()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):  # noqa: N802
                rng = self.headers.get("Range")
                path = self.path.split("?")[0]
                if path == f"/api/records/{server.record_json.get('id')}":
                    body = json.dumps(server.record_json).encode()
                    server.requests.append((path, rng, 200))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                name = server.paths.get(path)
                if name is None:
                    server.requests.append((path, rng, 404))
                    self.send_error(404)
                    return
                data = server.files[name]
                if name in server.html_first:
                    server.html_first.discard(name)
                    page = b"<html><body>Rate limited, try later</body></html>"
                    server.requests.append((path, rng, 200))
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                if name in server.corrupt:
                    data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
                start, status = 0, 200
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    status = 206
                    if name in server.bad_range:
                        start = 0
                    if start >= len(data):
                        server.requests.append((path, rng, 416))
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                body = data[start:]
                server.requests.append((path, rng, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if name in server.drop_first:
                    server.drop_first.discard(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def reset(self) -> None:
        self.drop_first: set[str] = set()
        self.ignore_range = False
        self.corrupt: set[str] = set()
        self.html_first: set[str] = set()
        self.bad_range: set[str] = set()
        self.requests: list[tuple[str, str | None, int]] = []  # (path, Range header, status)

    def serve_record(self, record: dict, folder: Path) -> None:
        self.record_json = record
        for item in record["files"]:
            self.files[item["key"]] = (folder / item["key"]).read_bytes()
            self.paths[urlsplit(item["links"]["self"]).path] = item["key"]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
