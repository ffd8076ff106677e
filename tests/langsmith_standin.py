"""The HTTP plumbing of the tests' local stand-ins for LangSmith's API (no network needed)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

import zstandard


class StandInHandler(BaseHTTPRequestHandler):
    """Reads the (possibly zstd-compressed) bodies the langsmith client sends; answers JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _body(self) -> bytes:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "zstd":
            raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        return raw

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
