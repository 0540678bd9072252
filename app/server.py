"""uvicorn's HTTP protocol with a cap on the request head (request line + headers), and problem
documents (X4) for the refusals the server makes before the app is called.

httptools buffers a header of any size before the app sees it, so a client could make each
connection hold megabytes; h11 has `h11_max_incomplete_event_size`, httptools has nothing. This
subclass counts the bytes of a request's head as they arrive and answers 431 once they pass
`MAX_HEAD_BYTES`. A request the parser cannot read (a control byte in a header, a malformed request
line) gets a 400 problem document instead of uvicorn's plain text.
"""

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.errors import problem_type

MAX_HEAD_BYTES = 64 * 1024
LINGER_S = 1.0


def _problem(status: int, reason: str, code: str, detail: str) -> bytes:
    body = orjson.dumps({"type": problem_type(code), "title": reason, "status": status, "detail": detail, "code": code})
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n".encode() + body
    )


_TOO_LARGE = _problem(
    431, "Request Header Fields Too Large", "request_header_too_large",
    f"The request line and headers together must stay under {MAX_HEAD_BYTES // 1024} KiB.",
)
_UNREADABLE = _problem(
    400, "Bad Request", "bad_request",
    "The request could not be parsed as HTTP/1.1: check the request line and that header values hold no control bytes.",
)


class HeadLimitedHttpTools(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._tail = b""
        self._in_body = False
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of the oversized head: read and dropped until the connection closes
        if not self._in_body:
            # Count only up to the blank line that ends the head: the body may arrive in the same read.
            window = self._tail + data
            end = window.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = window[-3:]
            if self._head_bytes > MAX_HEAD_BYTES:
                # Answer, then keep reading (and dropping) for a moment before closing: closing with unread
                # data makes the kernel reset the connection, and the client would never see the 431.
                self._refused = True
                self.transport.write(_TOO_LARGE)
                self.loop.call_later(LINGER_S, self.transport.close)
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_body = True
        self._head_bytes = 0
        self._tail = b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_UNREADABLE)
        self.transport.close()
