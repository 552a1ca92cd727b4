"""Config: every error path exits 2 with the file, the key and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from argus.config import Config, build_config, load_config, redacted
from argus.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "argus.toml"
    path.write_text(text)
    return str(path)


def test_no_file_gives_the_documented_defaults(tmp_path: Path) -> None:
    config = load_config(None, env={"HOME": str(tmp_path)})
    assert config.source == "built-in defaults"
    assert config.interval == 300
    assert config.thresholds.memory_warn == 80 and config.thresholds.memory_crit == 90
    assert config.processes.kill_allowed == ("node", "claude", "codex")
    assert config.processes.orphans[0].pattern == "node.*--test"
    assert config.processes.orphans[0].after == 3
    assert config.tmux.sockets == ("default",)
    assert config.services.restart_allowed == ()
    assert config.llm.provider == "none"
    assert config.web.listen == "127.0.0.1:9847"


def test_full_example_from_the_design_parses(tmp_path: Path) -> None:
    path = write(tmp_path, """
state_dir = "/var/lib/argus"
interval = 120
dry_run = true
[thresholds]
memory_warn = 75.5
memory_crit = 90
[services]
scope = "user"
systemd = ["nginx.service", "worker@1.service"]
restart_allowed = ["nginx.service"]
[[services.http]]
name = "gateway"
url = "http://127.0.0.1:18500/"
timeout = 5
[[services.tcp]]
name = "db"
host = "127.0.0.1"
port = 5432
[processes]
kill_allowed = ["node", "claude"]
orphans = [{ pattern = "node.*--test", after = 2 }]
[tmux]
sockets = ["default", "/run/agents/tmux.sock"]
[relay]
from = "argus-2"
[web]
listen = "0.0.0.0:9847"
token = "s3cret"
""")
    config = load_config(path, env={})
    assert config.interval == 120 and config.dry_run is True
    assert config.thresholds.memory_warn == 75.5
    assert config.services.scope == "user"
    assert config.services.http[0].url == "http://127.0.0.1:18500/"
    assert config.services.tcp[0].port == 5432
    assert config.processes.orphans[0].after == 2
    assert config.relay.sender == "argus-2"


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        ("interval = -5", "interval", "greater than 0"),
        ("interval = \"300\"", "interval", "expected an integer"),
        ("bogus = 1", "bogus", "unknown key"),
        ("[thresholds]\nmemory_warn = 95\nmemory_crit = 90", "thresholds.memory_crit",
         "below thresholds.memory_warn"),
        ("[thresholds]\ndisk_crit = 70", "thresholds.disk_crit", "below thresholds.disk_warn"),
        ("[thresholds]\nmemroy_warn = 80", "thresholds.memroy_warn", "unknown key"),
        ("[thresholds]\ndisk_warn = 150", "thresholds.disk_warn", "between 0 and 100"),
        ("[thresholds]\nmemory_warn = true", "thresholds.memory_warn", "expected a number"),
        ("[services]\nscope = \"global\"", "services.scope", "must be one of"),
        ("[services]\nsystemd = [\"../etc/passwd\"]", "services.systemd", "not a valid systemd"),
        ("[services]\nrestart_allowed = [\"-x.service\"]", "services.restart_allowed",
         "not a valid systemd"),
        ("[[services.http]]\nname = \"x\"", "services.http[0].url", "missing"),
        ("[[services.http]]\nname = \"x\"\nurl = \"ftp://x\"", "services.http[0].url",
         "http://"),
        ("[[services.tcp]]\nname = \"x\"\nhost = \"h\"\nport = 70000", "services.tcp[0].port",
         "1-65535"),
        ("[processes]\nkill_allowed = [\"(\"]", "processes.kill_allowed",
         "invalid regular expression"),
        ("[processes]\norphans = [{ pattern = \"x\", after = 0 }]",
         "processes.orphans[0].after", "greater than 0"),
        ("[dedup]\nwindow = -1", "dedup.window", "must not be negative"),
        ("[restart]\nsecond_delay = 600\nthird_delay = 60", "restart.third_delay",
         "below restart.second_delay"),
        ("[llm]\nprovider = \"gpt\"", "llm.provider", "must be one of"),
        ("[web]\nlisten = \"0.0.0.0:9847\"", "web.token", "not loopback"),
        ("[web]\nlisten = \"nonsense\"", "web.listen", "HOST:PORT"),
        ("thresholds = 5", "thresholds", "expected a table"),
        ("[telegram]\ntoken = \"x\"", "telegram.token", "unknown key"),
        ("interval = ", "-", "not valid TOML"),
    ],
)
def test_each_bad_value_names_the_file_key_and_reason(
    tmp_path: Path, text: str, key: str, why: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.file == path
    assert info.value.key == key
    assert why in info.value.why


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(str(tmp_path / "nope.toml"), env={})


def test_environment_overrides_use_upstream_names() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "123456:ABC",
        "TELEGRAM_CHAT_ID": "-100200",
        "ARGUS_INTERVAL": "60",
        "ARGUS_DEDUP_WINDOW": "900",
        "ARGUS_RESTART_BACKOFF_SECOND_DELAY": "5",
        "ARGUS_RESTART_BACKOFF_THIRD_DELAY": "10",
        "ARGUS_RESTART_COOLDOWN_SECONDS": "20",
        "ARGUS_DISK_CLEAN_MAX_AGE_DAYS": "3",
        "ARGUS_RELAY_ENABLED": "true",
        "ARGUS_RELAY_FROM": "argus-x",
        "ARGUS_TELEGRAM_API_BASE": "http://127.0.0.1:1",
    }
    config = build_config({}, "built-in defaults", env)
    assert config.telegram.token == "123456:ABC"
    assert config.telegram.chat_id == "-100200"
    assert config.interval == 60
    assert config.dedup.window == 900
    assert config.restart == config.restart._replace(second_delay=5, third_delay=10, cooldown=20)
    assert config.disk_cleanup.max_age_days == 3
    assert config.relay.enabled is True and config.relay.sender == "argus-x"
    assert config.telegram.api_base == "http://127.0.0.1:1"


@pytest.mark.parametrize(("var", "value"), [("ARGUS_INTERVAL", "soon"),
                                            ("ARGUS_INTERVAL", "-1"),
                                            ("ARGUS_RELAY_ENABLED", "maybe")])
def test_bad_environment_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_config({}, "x", {var: value})
    assert info.value.file == "environment" and info.value.key == var


def test_redacted_hides_every_secret() -> None:
    config = build_config({"web": {"listen": "0.0.0.0:1", "token": "webtok"}}, "f",
                          {"TELEGRAM_BOT_TOKEN": "999:SECRET", "ANTHROPIC_API_KEY": "sk-xyz"})
    text = repr(redacted(config))
    for secret in ("999:SECRET", "sk-xyz", "webtok"):
        assert secret not in text
    assert redacted(Config())["telegram"]["token"] == "<unset>"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "argus", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_cli_config_error_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[thresholds]\nmemory_warn = 95\nmemory_crit = 90\n")
    result = run_cli("--config", path, "config", "check")
    assert result.returncode == 2
    assert path in result.stderr and "thresholds.memory_crit" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_config_show_redacts_the_token(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, TELEGRAM_BOT_TOKEN="424242:TOPSECRETTOKEN", HOME=str(tmp_path))
    result = run_cli("config", "show", env=env)
    assert result.returncode == 0, result.stderr
    assert "TOPSECRETTOKEN" not in result.stdout
    assert 'token = "<redacted>"' in result.stdout
    assert "[thresholds]" in result.stdout


def test_a_unit_name_with_a_trailing_newline_is_refused() -> None:
    # regression: `$` in a regex matches before a trailing newline
    with pytest.raises(ConfigError, match="not a valid systemd unit"):
        build_config({"services": {"systemd": ["x.service\n"]}}, "f", {})


def test_the_parsed_config_is_cached_and_a_change_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "argus.toml"
    path.write_text("interval = 60\n")
    cache = tmp_path / "state"
    assert load_config(str(path), env={}, cache_dir=str(cache)).interval == 60
    assert (cache / "config-cache.json").exists()
    assert load_config(str(path), env={}, cache_dir=str(cache)).interval == 60
    path.write_text("interval = 120\n")  # a new size and mtime: parsed again
    assert load_config(str(path), env={}, cache_dir=str(cache)).interval == 120
    path.write_text("interval = -1\n")  # validation runs on cached data too
    with pytest.raises(ConfigError, match="greater than 0"):
        load_config(str(path), env={}, cache_dir=str(cache))
    (cache / "config-cache.json").write_text("{garbage")
    path.write_text("interval = 90\n")
    assert load_config(str(path), env={}, cache_dir=str(cache)).interval == 90
