"""HTTP and TCP probes for things that run outside systemd.

Every probe runs in its own thread, so several probes take as long as the slowest,
and each has a hard deadline of its own ``timeout`` (seconds): a probe whose thread
is still busy then (a DNS lookup that ignores socket timeouts, a server that
trickles its headers) is reported as timed out, and the call returns. A probe
failure is a result (``ok=False`` with a short ``error``), never an exception.

HTTP uses the standard library's ``http.client``, not httpx, for CPU cost. The
daemon cycle has a budget of 12 ms CPU; measured against a local server:

- ``httpx.Client`` per call, as a probe needs it: about 27 ms CPU, almost all in
  building the default TLS context (loading the CA bundle), even for ``http://``;
- a long-lived ``httpx.Client``: 0.5 ms, at the price of a client and its
  connection pool kept across cycles (and 60-90 ms CPU to import httpx);
- ``http.client.HTTPConnection`` per call: 0.2 ms (0.4 ms in a thread), no
  state kept between cycles.

For ``https://`` the TLS context is built once, on the first HTTPS probe, and
reused. Nothing here is imported for a cycle without probes.
"""

from __future__ import annotations

import re
import threading
import time

from argus.config import HttpProbe, TcpProbe
from argus.model import ProbeResult
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

if TYPE_CHECKING:
    import ssl

USER_AGENT = "argus-probe"
# Scheduling slack on top of a probe's own timeout before its thread is given up:
# the socket timeout normally ends it first, with a more precise error.
DEADLINE_SLACK_S = 0.2
# Query parameters whose values are secrets as far as a record is concerned.
_SECRET_PARAM = re.compile(r"pass|token|secret|key|auth|sig|session|credential", re.I)

_tls_lock = threading.Lock()
_tls_context: ssl.SSLContext | None = None


def collect_probes(http: tuple[HttpProbe, ...],
                   tcp: tuple[TcpProbe, ...]) -> tuple[ProbeResult, ...]:
    """Run every probe concurrently; results in the order given, HTTP first.

    Returns within about the longest probe ``timeout`` (seconds) plus
    ``DEADLINE_SLACK_S``, whatever the remote ends do.
    """
    jobs: list[tuple[Callable[[], ProbeResult], str, str, str, float]] = []
    for hp in http:
        jobs.append((_bind_http(hp), hp.name, "http", redact_url(hp.url), hp.timeout))
    for tp in tcp:
        jobs.append((_bind_tcp(tp), tp.name, "tcp", _host_port(tp.host, tp.port),
                     tp.timeout))
    if not jobs:
        return ()

    results: list[ProbeResult | None] = [None] * len(jobs)

    def work(i: int, fn: Callable[[], ProbeResult]) -> None:
        results[i] = fn()

    start = time.perf_counter()
    threads = []
    for i, (fn, name, *_) in enumerate(jobs):
        # Daemon threads: one stuck in getaddrinfo must not keep Argus from exiting.
        t = threading.Thread(target=work, args=(i, fn), name=f"probe-{name}", daemon=True)
        t.start()
        threads.append(t)
    out: list[ProbeResult] = []
    for i, (t, (_, name, kind, target, timeout)) in enumerate(zip(threads, jobs, strict=True)):
        t.join(max(0.0, start + timeout + DEADLINE_SLACK_S - time.perf_counter()))
        result = results[i]
        if result is None:  # still running: give up on it, it ends on its own later
            result = ProbeResult(name, kind, target, False, None, _ms(start),
                                 f"timed out after {timeout:g}s")
        out.append(result)
    return tuple(out)


def _bind_http(probe: HttpProbe) -> Callable[[], ProbeResult]:
    return lambda: probe_http(probe)


def _bind_tcp(probe: TcpProbe) -> Callable[[], ProbeResult]:
    return lambda: probe_tcp(probe)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def probe_tcp(probe: TcpProbe) -> ProbeResult:
    """Connect to ``host:port`` and close; latency_ms is the time to connect."""
    import socket

    target = _host_port(probe.host, probe.port)
    start = time.perf_counter()
    try:
        sock = socket.create_connection((probe.host, probe.port), timeout=probe.timeout)
    except Exception as err:  # every failure is a probe result, not a crash
        return ProbeResult(probe.name, "tcp", target, False, None, _ms(start),
                           describe_error(err, probe.host, probe.timeout))
    latency = _ms(start)
    sock.close()
    return ProbeResult(probe.name, "tcp", target, True, None, latency, None)


def probe_http(probe: HttpProbe) -> ProbeResult:
    """GET ``probe.url`` without following redirects; ok on status < 400, or on
    ``expect_status`` exactly when it is set. latency_ms runs from connect to the
    response headers; the body is not read.
    """
    import http.client
    from urllib.parse import unquote, urlsplit

    target = redact_url(probe.url)
    start = time.perf_counter()
    deadline = start + probe.timeout
    host = ""
    try:
        parts = urlsplit(probe.url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise ValueError(f"not an http(s) URL: {target}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
        if parts.username is not None:  # as curl and httpx do for user:pass@host
            headers["Authorization"] = _basic_auth(unquote(parts.username),
                                                   unquote(parts.password or ""))
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, parts.port, timeout=probe.timeout,
                                               context=_tls())
        else:
            conn = http.client.HTTPConnection(host, parts.port, timeout=probe.timeout)
        try:
            conn.connect()
            if conn.sock is not None:
                # The socket timeout counts per operation; shrink it to what is left
                # so that a slow connect plus a slow answer stays within the timeout.
                conn.sock.settimeout(max(0.001, deadline - time.perf_counter()))
            conn.request("GET", path, headers=headers)
            status = conn.getresponse().status
        finally:
            conn.close()
    except Exception as err:  # every failure is a probe result, not a crash
        return ProbeResult(probe.name, "http", target, False, None, _ms(start),
                           describe_error(err, host, probe.timeout))
    latency = _ms(start)
    if probe.expect_status:
        ok = status == probe.expect_status
        error = None if ok else f"expected HTTP {probe.expect_status}, got {status}"
    else:
        ok = status < 400
        error = None if ok else f"HTTP {status}"
    return ProbeResult(probe.name, "http", target, ok, status, latency, error)


def _basic_auth(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _tls() -> ssl.SSLContext:
    """The system CA store's default context, built once: it costs ~25 ms CPU."""
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            import ssl

            _tls_context = ssl.create_default_context()
        return _tls_context


def describe_error(err: BaseException, host: str, timeout: float) -> str:
    """A short, secret-free line for a failed probe ("connection refused", ...).

    Built from the exception type and errno text only: messages that could quote a
    URL (and the credentials in it) are never passed through.
    """
    import socket
    import sys

    if isinstance(err, TimeoutError):  # socket.timeout is an alias since Python 3.10
        return f"timed out after {timeout:g}s"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(err, socket.gaierror):
        return f"DNS lookup failed for {host}: {err.strerror or err}"
    # ssl and http.client can only have raised if they were imported: looking them up
    # rather than importing them keeps a TCP-only cycle from loading either.
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {err.verify_message or err.reason}"
    if ssl is not None and isinstance(err, ssl.SSLError):
        return f"TLS error: {err.reason or err}"
    client = sys.modules.get("http.client")
    if client is not None and isinstance(err, client.RemoteDisconnected):
        return "connection closed without a response"
    if client is not None and isinstance(err, client.HTTPException):
        return f"bad HTTP response ({type(err).__name__})"
    if isinstance(err, ValueError):
        return str(err)[:200]
    if isinstance(err, OSError):
        return (err.strerror or type(err).__name__)[:200]
    return type(err).__name__


def redact_url(url: str) -> str:
    """The URL without userinfo (``http://user:pass@host`` -> ``http://host``), and
    with secret-looking query values replaced (``?token=...`` -> ``?token=REDACTED``)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_param(param: str) -> str:
    key, sep, _ = param.partition("=")
    return f"{key}=REDACTED" if sep and _SECRET_PARAM.search(key) else param


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
