"""Who may read the dashboard: the token, the bind address, the Host header, secrets."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from web_helpers import TOKEN, Seeded, Serve, clean_env, free_port, get

PROTECTED = ("/api/overview", "/api/snapshot", "/api/problems", "/api/history?metric=mem_pct",
             "/api/patterns", "/api/beads", "/metrics")


@pytest.mark.parametrize("path", PROTECTED)
def test_with_a_token_every_data_endpoint_needs_it(token_server: Serve, path: str) -> None:
    url = token_server.url + path
    sep = "&" if "?" in path else "?"
    missing = get(url)
    assert missing.status == 401 and "token required" in missing.json()["error"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(url, {"Authorization": "Bearer wrong-" + TOKEN}).status == 401
    assert get(url, {"Authorization": "Bearer " + TOKEN[:-1]}).status == 401  # a prefix
    assert get(url, {"Authorization": "Basic " + TOKEN}).status == 401
    assert get(f"{url}{sep}token=nope").status == 401
    assert get(url, {"Authorization": "Bearer " + TOKEN}).status == 200
    assert get(f"{url}{sep}token={TOKEN}").status == 200


def test_with_a_token_healthz_and_the_page_stay_open(token_server: Serve) -> None:
    # An uptime checker has no token; the page holds no data and asks for the token.
    health = get(token_server.url + "/healthz")
    assert health.status == 200 and "last_error" not in health.json()
    assert get(token_server.url + "/").status == 200
    assert get(token_server.url + "/static/app.css").status == 200


def _serve(argv: list[str], state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "argus", "--state-dir", str(state), *argv],
                          capture_output=True, text=True, timeout=30, env=clean_env())


def test_refuses_to_listen_beyond_loopback_without_a_token(seeded: Seeded) -> None:
    port = free_port()
    done = _serve(["serve", "--listen", f"0.0.0.0:{port}"], seeded.state_dir)
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr and "web.token" in done.stderr
    assert done.stdout == ""
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    for listen in ("localhost:1", "[::1]:2", "127.0.0.2:3"):  # loopback: no token needed
        from argus.web.server import check_listen

        check_listen(listen, "")
    bad = _serve(["serve", "--listen", "nonsense"], seeded.state_dir)
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr


def test_a_config_that_listens_beyond_loopback_needs_a_token(seeded: Seeded,
                                                             tmp_path: Path) -> None:
    config = tmp_path / "argus.toml"
    config.write_text('[web]\nlisten = "0.0.0.0:9847"\n')
    done = _serve(["--config", str(config), "serve"], seeded.state_dir)
    assert done.returncode == 2 and "web.token" in done.stderr


def test_with_a_token_it_listens_on_every_address(seeded: Seeded, token_config: Path) -> None:
    serve = Serve(seeded.state_dir, token_config, host="0.0.0.0")
    try:
        url = f"http://127.0.0.1:{serve.port}"
        assert get(url + "/api/beads").status == 401
        assert get(url + "/api/beads", {"Authorization": "Bearer " + TOKEN}).status == 200
    finally:
        assert serve.stop() == 0


def test_without_a_token_only_loopback_host_names_are_answered(server: Serve) -> None:
    # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1.
    assert get(server.url + "/api/problems", {"Host": "evil.example"}).status == 403
    assert get(server.url + "/api/problems", {"Host": f"evil.example:{server.port}"}).status == 403
    assert get(server.url + "/api/problems", {"Host": f"localhost:{server.port}"}).status == 200
    assert get(server.url + "/api/problems", {"Host": f"[::1]:{server.port}"}).status == 200


def test_secrets_are_never_served(seeded: Seeded, tmp_path: Path, token_config: Path) -> None:
    telegram = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
    state = tmp_path / "state"
    shutil.copytree(seeded.state_dir, state)
    # A record whose error text carried the bot token (an HTTP library's message), and a
    # top process started with a password on its command line.
    with (state / "problems.jsonl").open("a") as fh:
        fh.write(json.dumps({"ts": seeded.snapshot["ts"], "severity": "warning",
                             "type": "self", "description": "send failed: https://api."
                             f"telegram.org/bot{telegram}/sendMessage timed out",
                             "action_taken": "log", "action_result": "failure"}) + "\n")
    snap = json.loads((state / "last_snapshot.json").read_text())
    snap["processes"]["top_rss"][0]["cmdline"] = "pg_dump --password=hunter2 --host db"
    (state / "last_snapshot.json").write_text(json.dumps(snap))
    env = {"TELEGRAM_BOT_TOKEN": telegram, "ANTHROPIC_API_KEY": "sk-ant-test-secret-42"}
    serve = Serve(state, token_config, extra_env=env)
    try:
        auth = {"Authorization": "Bearer " + TOKEN}
        bodies = [get(serve.url + path, auth).body.decode() for path in
                  (*PROTECTED, "/healthz", "/", "/config", "/api/config", "/api/env")]
        for body in bodies:
            for secret in (telegram, TOKEN, "sk-ant-test-secret-42", "hunter2"):
                assert secret not in body
        problems = json.loads(bodies[2])
        assert "bot<redacted>/sendMessage" in problems[0]["description"]
        snapshot = json.loads(bodies[1])
        assert snapshot["processes"]["top_rss"][0]["cmdline"] == \
            "pg_dump --password=<redacted> --host db"
    finally:
        assert serve.stop() == 0
