"""A stand-in Telegram Bot API server: real HTTP on 127.0.0.1, the sendMessage protocol.

It answers ``POST /bot<token>/sendMessage`` the way api.telegram.org does
(CONTRACTS.md, "Telegram Bot API"):

- wrong token: 401 ``{"ok": false, "error_code": 401, "description": "Unauthorized"}``;
- wrong chat id: 400 ``Bad Request: chat not found``;
- empty text or over 4096 characters: 400, as Telegram does;
- otherwise 200 ``{"ok": true, "result": {"message_id": N, "chat": {...}, "text": ...}}``
  and the message is appended to :attr:`TelegramServer.received`.

Failures are scripted: :meth:`TelegramServer.script` queues answers for the next
requests, :meth:`TelegramServer.always` sets one for every request until cleared:

- ``("500",)``: 500 Internal Server Error (a ``("502",)`` etc. works too);
- ``("429", retry_after)``: Too Many Requests with ``parameters.retry_after``;
- ``("hang", seconds)``: read the request, then answer nothing for ``seconds``
  (longer than the client's timeout), then close without delivering;
- ``("garbage",)``: 200 with an HTML body, as a proxy in the way would send;
- ``("drop",)``: close the connection without any answer;
- ``("pass",)``: answer normally (to script "one success, then a failure").

Usage::

    with TelegramServer(token="123456:ABC...", chat_id="42") as server:
        server.url   # the api_base, e.g. http://127.0.0.1:41234
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

MAX_CHARS = 4096


class Received(NamedTuple):
    chat_id: str
    text: str
    body: dict[str, Any]  # the whole JSON body, for checks on other fields


class TelegramServer:
    """The server, its recorded messages and its failure script."""

    def __init__(self, token: str, chat_id: str) -> None:
        self.token = token
        self.chat_id = chat_id
        self.received: list[Received] = []
        self.requests: list[str] = []  # "<status> <path>" of every request, in order
        self._script: deque[tuple[Any, ...]] = deque()
        self._always: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # wakes hanging handlers at shutdown
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="telegram-standin", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> TelegramServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TelegramServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *responses: tuple[Any, ...]) -> None:
        """Queue failure answers: each is served to one request, in order."""
        with self._lock:
            self._script.extend(responses)

    def always(self, response: tuple[Any, ...] | None) -> None:
        """Serve ``response`` to every request (after the script) until set to None."""
        with self._lock:
            self._always = response

    def texts(self) -> list[str]:
        with self._lock:
            return [m.text for m in self.received]

    def _next_scripted(self) -> tuple[Any, ...] | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            return self._always

    def _record(self, line: str, message: Received | None = None) -> int:
        with self._lock:
            self.requests.append(line)
            if message is None:
                return 0
            self.received.append(message)
            return len(self.received)


def _handler_for(server: TelegramServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real API and httpx use

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests read server.requests instead

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            scripted = server._next_scripted()
            if scripted is not None and scripted[0] != "pass":
                self._scripted(scripted)
                return
            prefix, _, method = self.path.rpartition("/")
            if prefix != f"/bot{server.token}":
                self._error(401, "Unauthorized")
                return
            if method != "sendMessage":
                self._error(404, "Not Found")
                return
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._error(400, "Bad Request: invalid JSON body")
                return
            chat_id, text = str(body.get("chat_id", "")), body.get("text")
            if chat_id != server.chat_id:
                self._error(400, "Bad Request: chat not found")
                return
            if not isinstance(text, str) or not text.strip():
                self._error(400, "Bad Request: message text is empty")
                return
            if len(text) > MAX_CHARS:
                self._error(400, "Bad Request: message is too long")
                return
            message_id = server._record(f"200 {self._safe_path()}",
                                        Received(chat_id, text, body))
            self._json(200, {"ok": True, "result": {
                "message_id": message_id, "date": 0,
                "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
                         "type": "private"},
                "text": text,
            }})

        do_GET = do_POST  # the Bot API accepts GET too; the same checks apply

        def _scripted(self, response: tuple[Any, ...]) -> None:
            kind = response[0]
            if kind == "hang":
                server._record(f"hang {self._safe_path()}")
                server._stopping.wait(float(response[1]))
                self.close_connection = True  # the client gave up long ago
            elif kind == "drop":
                server._record(f"drop {self._safe_path()}")
                self.close_connection = True
            elif kind == "garbage":
                server._record(f"200-garbage {self._safe_path()}")
                self._send(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            elif kind == "429":
                retry_after = int(response[1])
                server._record(f"429 {self._safe_path()}")
                self._json(429, {"ok": False, "error_code": 429,
                                 "description": f"Too Many Requests: retry after {retry_after}",
                                 "parameters": {"retry_after": retry_after}})
            else:
                self._error(int(kind), str(response[1]) if len(response) > 1 else
                            "Internal Server Error")

        def _error(self, status: int, description: str) -> None:
            server._record(f"{status} {self._safe_path()}")
            self._json(status, {"ok": False, "error_code": status, "description": description})

        def _json(self, status: int, data: dict[str, Any]) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                self.close_connection = True  # the client went away

        def _safe_path(self) -> str:
            # The path holds the token: the request log keeps only the method name.
            return "/bot<token>/" + self.path.rpartition("/")[2]

    return Handler
