"""A real headless Chromium (Debian's) driven by Playwright loads the dashboard.

No browser download: Playwright is pointed at /usr/bin/chromium, started with the
flags this machine needs (no sandbox as root, no GPU, no background networking, which
the closed network refuses) and a new empty profile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import TOKEN, WORKER_FAILED, Seeded, Serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PARTS = ("beads", "charts", "overview", "patterns", "problems")
LOADED = ("() => { const l = document.body.dataset.loaded || ''; "
          f"return {list(PARTS)!r}.every((p) => l.split(' ').includes(p)); }}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user data dir
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1440, "height": 1000}, color_scheme="dark")
        yield context
        context.close()


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url)
    return page, errors


def _pct(value: float) -> str:
    """ArgusChart.fmt for a percentage, as the page prints it."""
    if value == int(value):
        return f"{int(value)}%"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f}%"


def test_the_page_shows_health_charts_problems_and_beads(
        browser: Any, server: Serve, seeded: Seeded, tmp_path: Path) -> None:
    page, errors = _open(browser, server.url + "/")
    page.wait_for_function(LOADED, timeout=20000)
    # Health at a glance: the memory tile holds the snapshot's figure and a level.
    memory = page.locator('[data-signal="memory"]')
    pct = round(seeded.snapshot["memory"]["pct"], 2)
    assert memory.locator(".tile-value").inner_text() == _pct(pct)
    assert "level-ok" in (memory.get_attribute("class") or "")  # a few % of RAM here
    assert page.locator('[data-signal="disk:/"]').count() == 1
    assert page.locator("#overall").inner_text() in ("All good", "Warning", "Critical")
    # The memory chart: one SVG path through the last 24 h of the planted history.
    line = page.locator("#chart-memory path.series")
    assert int(line.get_attribute("data-points") or 0) == 144  # 24 h of 10-minute rows
    d = line.get_attribute("d") or ""
    assert d.startswith("M") and d.count("L") >= 140
    assert page.locator("#chart-memory .threshold.critical").count() == 1
    assert page.locator("#chart-memory .legend").inner_text().endswith(_pct(pct))
    disk_lines = page.locator("#chart-disk path.series")
    assert {disk_lines.nth(i).get_attribute("data-series") for i in range(disk_lines.count())} \
        >= {"/", "/data"}
    assert page.locator("#chart-load path.series").count() == 3
    assert page.locator("#chart-pressure path.series").count() == 3
    # The problems timeline and table: the worker's restarts, then the failed one.
    rows = page.locator("#problems-table tbody tr", has_text=WORKER_FAILED)
    assert rows.count() == 4
    assert rows.nth(1).locator(".badge.res-failure").inner_text() == "failure"
    assert rows.nth(2).locator("td.action").inner_text().startswith("restart_service")
    assert page.locator("#timeline circle.dot").count() == \
        page.locator("#problems-table tbody tr").count()
    # Open beads, with what they are about.
    beads = page.locator("#beads .item")
    assert beads.count() == 2 and "ops-7f3a" in beads.nth(1).inner_text()
    assert WORKER_FAILED in beads.nth(1).inner_text()
    patterns = page.locator("#patterns")
    if page.evaluate("() => document.querySelector('#patterns').hidden"):
        assert patterns.is_hidden()  # analyze/patterns.py not installed: panel omitted
    else:
        # The /data disk fills in days: its predicted fill is drawn on the disk chart.
        assert "/data" in patterns.inner_text()
        assert page.locator("#chart-disk line.projection").count() >= 1
        label = page.locator("#chart-disk .projection-label").first.text_content() or ""
        assert "/data full in" in label
    page.screenshot(path=str(tmp_path / "dashboard-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.screenshot(path=str(tmp_path / "dashboard-light.png"), full_page=True)
    # The week: downsampled to the 400 points asked for, and last night's I/O warnings.
    page.click('.range button[data-range="7d"]')
    page.wait_for_function("() => document.querySelector('#problems-count').textContent"
                           ".includes('7d')")
    page.wait_for_function("() => +document.querySelector('#chart-memory path.series')"
                           ".dataset.points > 300")
    assert page.locator("#problems-table tbody tr", has_text="I/O pressure").count() == 7
    page.screenshot(path=str(tmp_path / "dashboard-7d.png"), full_page=True)
    print(f"screenshots in {tmp_path}")
    assert errors == []


def test_the_token_from_the_address_is_used_then_hidden(
        browser: Any, token_server: Serve) -> None:
    page, errors = _open(browser, f"{token_server.url}/?token={TOKEN}")
    page.wait_for_function(LOADED, timeout=20000)
    assert "token" not in page.url  # out of the address bar, history and screenshots
    assert page.locator("#problems-table tbody tr", has_text=WORKER_FAILED).count() == 4
    assert errors == []


def test_without_the_token_the_page_asks_for_it(browser: Any, token_server: Serve) -> None:
    page = browser.new_page()  # a new page, but the same profile: clear the tab's token
    page.goto(token_server.url + "/healthz")
    page.evaluate("() => sessionStorage.clear()")
    page.goto(token_server.url + "/")
    page.wait_for_selector("#auth[open]", timeout=10000)
    assert page.locator("#banner").inner_text().startswith("Cannot refresh")
    page.fill("#auth-token", TOKEN)
    page.click("#auth button[type=submit]")
    page.wait_for_function(LOADED, timeout=20000)
    assert page.locator("#beads .item").count() == 2
