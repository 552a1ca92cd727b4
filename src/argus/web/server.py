"""``argus serve``: the dashboard, ``/metrics``, ``/api/...`` and ``/healthz`` over HTTP.

The stdlib's ``ThreadingHTTPServer``: a handful of GET endpoints for one person's
browser and one Prometheus need no framework (docs/decisions.md). Security:

- binds 127.0.0.1:9847 unless told otherwise; any other address needs ``web.token``,
  and ``check_listen`` refuses to start without it (exit 2);
- with a token, ``/api/*`` and ``/metrics`` need ``Authorization: Bearer <token>`` or
  ``?token=``, compared in constant time; ``/healthz`` and the static page (which
  hold no host data) do not, so uptime checkers and the page's token prompt work;
- without a token (loopback only), requests must name a loopback host in ``Host``,
  so a web page the user visits cannot read the API through DNS rebinding;
- nothing served comes from the config or the environment; every JSON body goes
  through ``redact`` with the configured secrets, and command lines are scrubbed.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from argus.context import Context
from argus.errors import UsageError
from argus.logs import get_logger
from argus.typing_lite import TYPE_CHECKING
from argus.web import api

if TYPE_CHECKING:
    from typing import Any

log = get_logger("argus.web")

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
PUBLIC = ("/healthz",)  # answered without a token: liveness only, no host data
# The page loads nothing from elsewhere and runs no inline script; nobody may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 as ``[::1]:PORT``) -> (host, port); UsageError otherwise."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"serve: --listen expects HOST:PORT, got {listen!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_listen(listen: str, token: str) -> tuple[str, int]:
    """The address to bind; refuses a non-loopback one without a token, as config
    validation does for ``web.listen`` (config.py), so ``--listen`` cannot bypass it."""
    host, port = parse_listen(listen)
    if not is_loopback(host) and not token:
        raise UsageError(
            f"serve: refusing to listen on {listen}: it is not a loopback address, and "
            "web.token is not set. Set [web] token in the config (clients send it as "
            "'Authorization: Bearer <token>' or ?token=), or listen on 127.0.0.1")
    return host, port


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must not keep `argus serve` from exiting
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ctx: Context) -> None:
        import socket

        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.ctx = ctx
        self.secrets = tuple(s for s in (ctx.config.telegram.token, ctx.config.llm.api_key,
                                         ctx.config.web.token) if s)
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "argus"
    sys_version = ""  # no Python version in the Server header

    def do_GET(self) -> None:  # http.server's naming
        self._handle(send_body=True)

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def _refuse(self) -> None:
        self._send(405, b'{"error": "only GET and HEAD"}\n', "application/json",
                   {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _handle(self, send_body: bool) -> None:
        self.send_body = send_body
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        ctx = self.server.ctx
        if not self._host_allowed():
            self._json(403, {"error": "Host header must name a loopback address"})
            return
        path = url.path.rstrip("/") or "/"
        protected = path.startswith("/api/") or path == "/metrics"
        if protected and not self._authorized(params):
            self._json(401, {"error": "token required: Authorization: Bearer <token> "
                                      "or ?token="}, {"WWW-Authenticate": 'Bearer realm="argus"'})
            return
        params.pop("token", None)
        now = ctx.clock()
        try:
            if path == "/metrics":
                from argus.web.metrics import exposition

                self._send(200, exposition(ctx, now), "text/plain; version=0.0.4; charset=utf-8")
            elif path in api.ROUTES:
                reply = api.ROUTES[path](ctx, params, now)
                self._json(reply.status, reply.body)
            else:
                self._static(path)
        except Exception:  # a bug in one endpoint must not take the server down
            log.exception("GET %s failed", url.path)
            self._json(500, {"error": "internal error; see the argus serve log"})

    def _host_allowed(self) -> bool:
        if self.server.ctx.config.web.token:
            return True  # the token guards the data, whatever name reached us
        host = (self.headers.get("Host") or "").strip()
        if not host:
            return True  # HTTP/1.0 without Host: no browser sends that
        name = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
        return name in LOOPBACK_NAMES or is_loopback(name)

    def _authorized(self, params: dict[str, list[str]]) -> bool:
        token = self.server.ctx.config.web.token
        if not token:
            return True
        given = ""
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        elif params.get("token"):
            given = params["token"][-1]
        # Constant time: a byte-by-byte compare would leak how much of a guess matched.
        return hmac.compare_digest(given.encode(), token.encode())

    def _static(self, path: str) -> None:
        name = "index.html" if path == "/" else path.removeprefix("/static/")
        if path != "/" and (not path.startswith("/static/") or "/" in name or
                            name.startswith(".")):
            self._json(404, {"error": f"no such page: {path[:100]}"})
            return
        try:
            with open(os.path.join(STATIC_DIR, name), "rb") as fh:
                body = fh.read()
        except OSError:
            self._json(404, {"error": f"no such page: {path[:100]}"})
            return
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        self._send(200, body, ctype, {"Cache-Control": "no-cache"})

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        from argus.redact import redact

        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        self._send(status, (redact(text, self.server.secrets) + "\n").encode(),
                   "application/json", {"Cache-Control": "no-store", **(headers or {})})

    def _send(self, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if getattr(self, "send_body", True):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line may carry ?token=: log the path alone.
        log.debug("%s %s", self.address_string(), urlsplit(self.path).path)


def serve(ctx: Context, listen: str | None = None) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status (0)."""
    host, port = check_listen(listen or ctx.config.web.listen, ctx.config.web.token)
    try:
        server = DashboardServer((host, port), ctx)
    except OSError as err:
        from argus.errors import ArgusError

        raise ArgusError(f"serve: cannot listen on {host}:{port}: {err.strerror}") from None
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever to return, so it cannot run on the
        # thread serve_forever runs on (this one, where signal handlers run).
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    shown = f"[{host}]" if ":" in host else host
    print(f"argus: serving http://{shown}:{server.server_address[1]}/ "
          f"(state {ctx.paths.state_dir})"
          + ("; token required" if ctx.config.web.token else ""), flush=True)
    started = time.monotonic()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    log.info("argus serve stopped after %.0f s", time.monotonic() - started)
    return 0
