"""Fault injection in front of the real node: an HTTP proxy that forwards every request to it,
and can instead answer some requests itself or rewrite the node's JSON answers.

Only the faults are made up; everything else is the real node's answer, so a test through the
proxy exercises the real client, the real query and the real index.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FaultProxy", "Forwarded"]

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length"})


@dataclass(frozen=True)
class Forwarded:
    """One request the proxy received, and the status the client got for it."""

    method: str
    path: str
    body: bytes
    status: int


Refusal = Callable[[str, str, bytes], int | None]
"""(method, path, body) → a status to answer in the node's place, or None to forward."""
Rewrite = Callable[[str, dict[str, Any]], dict[str, Any]]
"""(path, the node's JSON answer) → the answer the client gets."""


class FaultProxy:
    """``with FaultProxy(node_url) as proxy:`` serves on ``proxy.url`` until the block ends."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 9200)
        self.refuse: Refusal | None = None
        self.rewrite: Rewrite | None = None
        self.seen: list[Forwarded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def statuses(self, path_part: str) -> list[int]:
        """The statuses answered to requests whose path contains ``path_part``, in order."""
        with self._lock:
            return [f.status for f in self.seen if path_part in f.path]

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _exchange(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        refused = self.refuse(method, path, body) if self.refuse else None
        if refused is not None:
            error = {"error": {"type": "injected_fault", "reason": f"status {refused}"}}
            answer = (refused, [("content-type", "application/json")], json.dumps(error).encode())
        else:
            connection = http.client.HTTPConnection(*self.upstream, timeout=120)
            try:
                connection.request(method, path, body=body or None, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                answer = (response.status, kept, payload)
            finally:
                connection.close()
            rewrite = self.rewrite
            if rewrite is not None and answer[0] == 200 and payload.startswith(b"{"):
                rewritten = json.dumps(rewrite(path, json.loads(payload))).encode()
                answer = (answer[0], answer[1], rewritten)
        with self._lock:
            self.seen.append(Forwarded(method, path, body, answer[0]))
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the cluster clients expect

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                status, answer_headers, payload = proxy._exchange(
                    self.command, self.path, headers, body
                )
                self.send_response(status)
                for name, value in answer_headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
