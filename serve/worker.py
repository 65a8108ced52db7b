"""The gunicorn worker: sync, with gunicorn's own error answers in the API's JSON shape.

gunicorn answers some requests itself, before the app sees them: a request line over `limit_request_line`
(414), headers over their limits (431), a malformed request line, method or header (400), and an app that
failed outside Flask (500). It writes those as an HTML page; the API promises `{"error": {"code", "message",
"field"}}` for every failure (gunicorn has no setting for this: benoitc/gunicorn#993). This worker keeps
gunicorn's decisions (which status, which message, the access log) and changes only how the answer is written.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util
from gunicorn.http.errors import InvalidRequestLine
from gunicorn.workers.sync import SyncWorker

from serve.api import ERROR_CODES, raw_bytes_hint


def write_json_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """What gunicorn's util.write_error writes, as JSON (ASCII: the message may quote the request's bytes)."""
    body = json.dumps({"error": {"code": ERROR_CODES.get(status, "http_error"),
                                 "message": message or reason.lower(), "field": None}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorWorker(SyncWorker):
    """gunicorn's sync worker whose own error answers are JSON."""

    def handle_error(self, req, client, addr, exc) -> None:
        # Worker.handle_error picks the status and message, logs, and ends with util.write_error(...); a sync
        # worker handles one request at a time, so swapping the writer for the call affects nothing else.
        hint = None
        if isinstance(exc, InvalidRequestLine):  # a request line of raw UTF-8 (curl with 美妆 typed in): say how
            parts = str(exc.req).split(" ")  # the whole line, or (from gunicorn's URI parser) the target alone
            hint = raw_bytes_hint(parts[1] if len(parts) == 3 else parts[0]) if len(parts) in (1, 3) else None

        def write(sock: socket.socket, status: int, reason: str, message: str) -> None:
            write_json_error(sock, status, reason, hint or message)

        write_html = util.write_error
        util.write_error = write
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = write_html
