"""Fixtures for the services collectors: a real systemd user manager, real HTTP servers."""

from __future__ import annotations

import http.server
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# The harness lives in tests/, shared with other test folders.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from systemd_env import SystemdUserManager, systemd_user_manager


@pytest.fixture(scope="module")
def user_manager() -> Iterator[SystemdUserManager]:
    """One real ``systemd --user`` per test module; tests use distinct unit names."""
    yield from systemd_user_manager()


class Recorder:
    """Requests the stand-in server received: (method, path, headers)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []


def _handler(status: int, recorder: Recorder,
             headers: dict[str, str]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            recorder.requests.append((self.command, self.path, dict(self.headers.items())))
            body = f"status {status}\n".encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[Callable[..., tuple[str, Recorder]]]:
    """Factory: start a real HTTP server on 127.0.0.1 answering ``status``; returns
    (base URL, recorder)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(status: int = 200, headers: dict[str, str] | None = None) -> tuple[str, Recorder]:
        recorder = Recorder()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                              _handler(status, recorder, headers or {}))
        srv.daemon_threads = True
        # A short poll interval: shutdown() waits for it (0.5 s by default) at teardown.
        threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}", recorder

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def hanging_server() -> Iterator[int]:
    """A port that accepts connections and never answers; yields the port."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        lsock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            held.append(conn)  # keep it open and silent

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield lsock.getsockname()[1]
    stop.set()
    t.join(2)
    for conn in held:
        conn.close()
    lsock.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound once to get a free number, then closed."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port
