"""/metrics against the real Prometheus tools: promtool, a Prometheus (Debian's 2.42)
scraping ``argus serve`` with the token, and the rules and Grafana dashboard in deploy/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import TOKEN, Seeded, Serve, free_port, get

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "argus-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "argus-dashboard.json"
AUTH = {"Authorization": "Bearer " + TOKEN}
METRIC = re.compile(r"\b(argus_[a-z0-9_]+)\b")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package prometheus)")
    return path


def _exposed(text: str) -> set[str]:
    """Metric names in an exposition, with the _total/_count/_sum families' base names."""
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
             if line and not line.startswith("#")}
    names |= {line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    return names


def test_promtool_check_metrics_passes_on_metrics(server: Serve, seeded: Seeded) -> None:
    reply = get(server.url + "/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    done = subprocess.run([_tool("promtool"), "check", "metrics"], input=reply.body,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == b"" and done.stderr == b""  # not even a lint warning
    text = reply.body.decode()
    pct = seeded.snapshot["memory"]["pct"]
    assert re.search(rf"^argus_memory_used_percent {re.escape(repr(float(pct)))}$", text, re.M)
    assert re.search(r'^argus_disk_used_percent\{device="/dev/vda",fstype="ext4",mount="/"\} ',
                     text, re.M)
    assert "\nargus_healthy 1.0\n" in text and "\nargus_open_beads 2.0\n" in text
    assert 'argus_active_problems{severity="warning",type="disk"}' in text
    assert 'argus_threshold{name="memory_crit"} 90.0' in text
    try:
        import argus.analyze.exposition  # noqa: F401
    except ImportError:
        return
    # The registry stats beside the snapshot: 4 worker records and 2 memory alerts...
    assert 'argus_problems_total{severity="critical",type="service"} 4.0' in text
    assert 'argus_actions_total{action="restart_service",result="failure"} 1.0' in text


@pytest.fixture(scope="module")
def prometheus(token_server: Serve, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus scraping the token-protected ``argus serve`` every second, with
    deploy/'s alert rules loaded; yields its base URL."""
    binary = _tool("prometheus")
    root = tmp_path_factory.mktemp("prometheus")
    (root / "token").write_text(TOKEN)
    config = root / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{
            "job_name": "argus", "scrape_interval": "1s", "scrape_timeout": "1s",
            "authorization": {"credentials_file": str(root / "token")},
            "static_configs": [{"targets": [f"127.0.0.1:{token_server.port}"]}]}]}))
    port = free_port()
    log = (root / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={config}",
                             f"--storage.tsdb.path={root / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _query(base: str, expr: str) -> dict[str, Any]:
    reply = get(f"{base}/api/v1/query?query={urllib.parse.quote(expr)}")
    body: dict[str, Any] = reply.json() if reply.body else {}
    if reply.status != 200:
        raise AssertionError(f"{expr}: HTTP {reply.status} {body}")
    return body


def _wait_for(base: str, expr: str, timeout: float = 60) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result: list[Any] = _query(base, expr)["data"]["result"]
        except (OSError, AssertionError, ValueError):
            result = []  # Prometheus still starting
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus never returned {expr}")
        time.sleep(0.5)


def test_a_real_prometheus_scrapes_argus_serve(prometheus: str, seeded: Seeded) -> None:
    result = _wait_for(prometheus, "argus_memory_used_percent")
    assert result[0]["metric"]["job"] == "argus"
    assert float(result[0]["value"][1]) == pytest.approx(seeded.snapshot["memory"]["pct"])
    up = _wait_for(prometheus, 'up{job="argus"}')
    assert up[0]["value"][1] == "1"  # the bearer token from credentials_file was accepted
    root = _wait_for(prometheus, 'argus_disk_used_percent{mount="/"}')
    disk = next(d for d in seeded.snapshot["disks"] if d["mount"] == "/")
    assert float(root[0]["value"][1]) == pytest.approx(disk["used_pct"])
    assert _wait_for(prometheus, "argus_healthy")[0]["value"][1] == "1"


def test_the_alert_rules_load_and_evaluate_without_errors(prometheus: str) -> None:
    _wait_for(prometheus, "argus_threshold")
    deadline = time.monotonic() + 30
    while True:
        groups = get(prometheus + "/api/v1/rules").json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("2") and
                         not r["lastEvaluation"].startswith("0001") for r in rules):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"rules never evaluated: {groups}")
        time.sleep(0.5)
    assert {g["name"] for g in groups} == {"argus-host", "argus-self"}
    # Run against the real series (many-to-one matches, label sets): no rule errs.
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    firing = {r["name"] for r in rules if r["state"] == "firing"}
    assert "ArgusStalled" not in firing and "ArgusDown" not in firing


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = _tool("promtool")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
    unit = subprocess.run([promtool, "test", "rules", "argus-rules.test.yml"],
                          cwd=RULES.parent, capture_output=True, text=True, timeout=120)
    assert unit.returncode == 0 and "SUCCESS" in unit.stdout, unit.stdout + unit.stderr


def _dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    return [e.replace("$instance", ".*") for e in exprs]


def test_deploy_files_only_name_metrics_argus_serves(server: Serve) -> None:
    exposed = _exposed(get(server.url + "/metrics").body.decode())
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "argus-hosts" and board["panels"]
    assert all(p.get("targets") for p in board["panels"] if p["type"] != "row")
    used = {m for e in [*_dashboard_exprs(), RULES.read_text()] for m in METRIC.findall(e)}
    try:
        import argus.analyze.exposition  # noqa: F401
    except ImportError:
        used = {m for m in used if m not in ("argus_problems_total", "argus_actions_total",
                                             "argus_action_success_ratio")}
    assert used and used <= exposed, sorted(used - exposed)


def test_every_dashboard_query_is_valid_promql(prometheus: str) -> None:
    _wait_for(prometheus, "argus_info")
    for expr in _dashboard_exprs():
        assert _query(prometheus, expr)["status"] == "success", expr
