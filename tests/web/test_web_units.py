"""The dashboard's pure parts, in process: health levels, the backwards registry
reader, and the packaging of the page."""

from __future__ import annotations

import copy
import fnmatch
import tomllib
from pathlib import Path
from typing import Any

import pytest
from web_helpers import Seeded

from argus.config import build_config
from argus.web import api
from argus.web.health import signals

ROOT = Path(__file__).resolve().parents[2]
OK_ARGUS = {"status": "ok", "last_status": "ok", "consecutive_failures": 0, "age_s": 5.0,
            "last_duration_ms": 30.0, "interval_s": 300, "message": "last cycle 5 s ago"}


def _levels(snap: dict[str, Any], argus: dict[str, Any] | None = None,
            thresholds: dict[str, Any] | None = None) -> dict[str, str]:
    config = build_config({"thresholds": thresholds or {}}, "test", {})
    return {s["id"]: s["level"] for s in signals(snap, config, argus or OK_ARGUS)}


def test_each_signal_is_judged_by_the_rules_thresholds(seeded: Seeded) -> None:
    snap = copy.deepcopy(seeded.snapshot)
    root = next(d for d in snap["disks"] if d["mount"] == "/")
    pct = root["used_pct"]
    assert _levels(snap, thresholds={"disk_warn": pct + 1, "disk_crit": pct + 2})["disk:/"] \
        == "ok"
    assert _levels(snap, thresholds={"disk_warn": pct - 1, "disk_crit": pct + 1})["disk:/"] \
        == "warning"
    assert _levels(snap, thresholds={"disk_warn": pct - 2, "disk_crit": pct})["disk:/"] \
        == "critical"  # at the threshold counts, as in the rules
    snap["memory"].update(pct=85.0)
    assert _levels(snap)["memory"] == "warning"
    snap["memory"].update(pct=90.0)
    assert _levels(snap)["memory"] == "critical"
    snap["memory"].update(swap_total_bytes=2**30, swap_used_pct=60.0)
    snap["paging"] = {"swap_in_mb_s": 1.0, "swap_out_mb_s": 1.0}
    assert _levels(snap)["swap"] == "warning"
    snap["paging"] = {"swap_in_mb_s": 8.0, "swap_out_mb_s": 4.0}  # thrashing: 12 MiB/s >= 10
    assert _levels(snap)["swap"] == "critical"
    snap["pressure"]["io"]["some_avg60"] = 35.0  # psi_io_warn 30; critical from 60
    assert _levels(snap)["pressure"] == "warning"
    snap["pressure"]["io"]["some_avg60"] = 61.0
    assert _levels(snap)["pressure"] == "critical"


def test_services_probes_and_argus_itself(seeded: Seeded) -> None:
    snap = copy.deepcopy(seeded.snapshot)
    unit = {"unit": "nginx.service", "scope": "system", "load_state": "loaded",
            "active_state": "active", "sub_state": "running"}
    snap["services"] = [unit]
    snap["probes"] = [{"name": "gateway", "kind": "http", "ok": True}]
    levels = _levels(snap)
    assert levels["services"] == "ok" and levels["probes"] == "ok"
    snap["services"] = [{**unit, "active_state": "activating", "sub_state": "auto-restart"}]
    snap["probes"] = [{"name": "gateway", "kind": "http", "ok": False}]
    levels = _levels(snap)
    assert levels["services"] == "warning" and levels["probes"] == "critical"
    snap["services"] = [{**unit, "active_state": "failed"}]
    assert _levels(snap)["services"] == "critical"
    assert _levels(snap, {**OK_ARGUS, "last_status": "failed",
                          "consecutive_failures": 1})["argus"] == "warning"
    assert _levels(snap, {**OK_ARGUS, "consecutive_failures": 3})["argus"] == "critical"
    assert _levels(snap, {**OK_ARGUS, "status": "stalled"})["argus"] == "critical"
    assert _levels({}, OK_ARGUS)["memory"] == "unknown"  # no snapshot yet


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 16])
def test_the_registry_read_backwards_matches_it_read_forwards(tmp_path: Path,
                                                              block: int) -> None:
    path = tmp_path / "problems.jsonl"
    lines = [f'{{"n": {n}, "pad": "{"x" * (n % 13)}"}}'.encode() for n in range(50)]
    path.write_bytes(b"\n".join(lines) + b"\n" + b'{"torn": tr')  # a torn last line
    got = [line for line in api._lines_newest_first(str(path), block) if line]
    assert got == [b'{"torn": tr', *reversed(lines)]
    assert list(api._lines_newest_first(str(tmp_path / "none"))) == []


def test_the_page_ships_in_the_package() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["argus"]
    static = ROOT / "src" / "argus" / "web" / "static"
    files = sorted(p.relative_to(static.parent.parent).as_posix() for p in static.iterdir())
    assert {"web/static/index.html", "web/static/app.js", "web/static/chart.js",
            "web/static/app.css"} <= set(files)
    for name in files:
        assert any(fnmatch.fnmatch(name, g) for g in globs), name
    # Offline: nothing is loaded from another origin.
    for name in files:
        text = (static.parent.parent / name).read_text()
        assert "//cdn" not in text and "https://" not in text.replace("http://www.w3.org", "")
