"""collect_probes against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from argus.collect.probes import collect_probes, redact_url
from argus.config import HttpProbe, TcpProbe

Server = Callable[..., tuple[str, Any]]  # (base URL, conftest.Recorder)


def test_http_200_is_ok(http_server: Server) -> None:
    url, rec = http_server(200)
    (r,) = collect_probes((HttpProbe("web", f"{url}/health", timeout=2),), ())
    assert (r.name, r.kind, r.target) == ("web", "http", f"{url}/health")
    assert (r.ok, r.status, r.error) == (True, 200, None)
    assert 0 < r.latency_ms < 2000
    assert [(m, p) for m, p, _ in rec.requests] == [("GET", "/health")]


def test_http_500_is_not_ok_with_status(http_server: Server) -> None:
    url, _ = http_server(500)
    (r,) = collect_probes((HttpProbe("api", url, timeout=2),), ())
    assert (r.ok, r.status, r.error) == (False, 500, "HTTP 500")


def test_expect_status_is_exact(http_server: Server) -> None:
    url204, _ = http_server(204)
    url200, _ = http_server(200)
    good, bad = collect_probes((HttpProbe("a", url204, 2, expect_status=204),
                                HttpProbe("b", url200, 2, expect_status=204)), ())
    assert (good.ok, good.status) == (True, 204)
    assert (bad.ok, bad.status, bad.error) == (False, 200, "expected HTTP 204, got 200")


def test_redirect_is_not_followed(http_server: Server) -> None:
    target, target_rec = http_server(500)
    url, _ = http_server(302, {"Location": f"{target}/"})
    (r,) = collect_probes((HttpProbe("r", url, 2),), ())
    assert (r.ok, r.status) == (True, 302)
    assert target_rec.requests == []


def test_hanging_server_times_out_within_the_timeout(hanging_server: int) -> None:
    start = time.monotonic()
    (r,) = collect_probes((HttpProbe("hang", f"http://127.0.0.1:{hanging_server}/", 0.5),), ())
    elapsed = time.monotonic() - start
    assert not r.ok and r.status is None
    assert r.error == "timed out after 0.5s"
    assert 0.4 < elapsed < 1.0
    assert 400 < r.latency_ms < 1000


def test_probes_run_concurrently(hanging_server: int, http_server: Server) -> None:
    """Three hanging probes of 0.5 s and a good one: the call takes ~0.5 s, not 1.5 s."""
    url, _ = http_server(200)
    hang = f"http://127.0.0.1:{hanging_server}/"
    start = time.monotonic()
    results = collect_probes(
        (HttpProbe("h1", hang, 0.5), HttpProbe("ok", url, 2), HttpProbe("h2", hang, 0.5)),
        (TcpProbe("h3", "127.0.0.1", hanging_server, 0.5),))
    elapsed = time.monotonic() - start
    assert [r.name for r in results] == ["h1", "ok", "h2", "h3"]
    assert [r.ok for r in results] == [False, True, False, True]  # TCP connect does succeed
    assert elapsed < 1.0


def test_closed_port_is_refused(closed_port: int) -> None:
    start = time.monotonic()
    (h,) = collect_probes((HttpProbe("h", f"http://127.0.0.1:{closed_port}/", 2),), ())
    (t,) = collect_probes((), (TcpProbe("t", "127.0.0.1", closed_port, 2),))
    assert (h.ok, h.status, h.error) == (False, None, "connection refused")
    assert (t.ok, t.error, t.target) == (False, "connection refused", f"127.0.0.1:{closed_port}")
    assert time.monotonic() - start < 1.0


def test_tcp_open_port_is_ok(hanging_server: int) -> None:
    (r,) = collect_probes((), (TcpProbe("db", "127.0.0.1", hanging_server, 2),))
    assert (r.kind, r.ok, r.status, r.error) == ("tcp", True, None, None)
    assert r.target == f"127.0.0.1:{hanging_server}"
    assert 0 < r.latency_ms < 2000


def test_dns_failure_is_reported_not_raised() -> None:
    # .invalid never resolves (RFC 2606); offline resolvers may stall instead of failing.
    (r,) = collect_probes((), (TcpProbe("dns", "argus-probe-test.invalid", 80, 2),))
    assert not r.ok
    assert r.error is not None
    assert r.error.startswith(("DNS lookup failed for argus-probe-test.invalid",
                               "timed out after 2s"))


def test_credentials_are_redacted_from_target_but_still_sent(http_server: Server) -> None:
    url, rec = http_server(200)
    secret_url = url.replace("http://", "http://alice:s3cr%40t@") + "/x?token=abc&v=1"
    (r,) = collect_probes((HttpProbe("auth", secret_url, 2),), ())
    assert r.ok
    assert r.target == f"{url}/x?token=REDACTED&v=1"
    assert "s3cr" not in json.dumps(r._asdict()) and "abc" not in r.target
    (_, path, headers), = rec.requests
    assert path == "/x?token=abc&v=1"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cr@t").decode()


def test_redact_url() -> None:
    assert redact_url("http://user:pass@host") == "http://host"
    assert redact_url("https://u@example.com:8443/a?b=c") == "https://example.com:8443/a?b=c"
    assert redact_url("http://[::1]:80/?api_key=k&x=1") == "http://[::1]:80/?api_key=REDACTED&x=1"
    assert redact_url("http://host/p") == "http://host/p"


def test_no_probes_returns_nothing() -> None:
    assert collect_probes((), ()) == ()


def test_no_http_library_imported_without_http_probes(closed_port: int) -> None:
    """A cycle without HTTP probes pays for neither httpx nor http.client; with one,
    still no httpx (http.client is cheaper per probe: see the module docstring)."""
    code = f"""
import json, sys
from argus.collect.probes import collect_probes
from argus.config import HttpProbe, TcpProbe
seen = {{}}
collect_probes((), ())
seen["none"] = ["httpx" in sys.modules, "http.client" in sys.modules]
collect_probes((), (TcpProbe("t", "127.0.0.1", {closed_port}, 1),))
seen["tcp"] = ["httpx" in sys.modules, "http.client" in sys.modules]
collect_probes((HttpProbe("h", "http://127.0.0.1:{closed_port}/", 1),), ())
seen["http"] = ["httpx" in sys.modules, "http.client" in sys.modules]
print(json.dumps(seen))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert json.loads(out) == {"none": [False, False], "tcp": [False, False],
                               "http": [False, True]}
