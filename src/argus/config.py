"""TOML plus environment overrides -> one frozen Config.

Every key has a default, so Argus runs with no file at all. Each key is read by a
small named converter that raises ``ConfigError(file, key, why)``; unknown keys are
errors too, because a typo in a threshold must not silently fall back to a default.
"""

from __future__ import annotations

import os
import re

from argus.errors import ConfigError
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeAlias

SEARCH_PATHS = ("/etc/argus/argus.toml",)


class Thresholds(NamedTuple):
    memory_warn: float = 80.0
    memory_crit: float = 90.0
    disk_warn: float = 80.0
    disk_crit: float = 90.0
    swap_warn: float = 50.0
    load_per_core_warn: float = 2.0
    swap_io_thrash_mb_s: float = 10.0
    zombies_warn: int = 20
    # PSI (Documentation/accounting/psi.rst), % of wall time over the last 60 s,
    # each sustained over 2 samples (detect/swap.py, detect/pressure.py).
    psi_memory_full_warn: float = 10.0  # all non-idle tasks stalled on memory
    psi_cpu_warn: float = 50.0  # some runnable task waited for a CPU
    psi_io_warn: float = 30.0  # some task waited for I/O


class HttpProbe(NamedTuple):
    name: str
    url: str
    timeout: float = 5.0
    expect_status: int = 0  # 0: any status below 400 is healthy


class TcpProbe(NamedTuple):
    name: str
    host: str
    port: int
    timeout: float = 5.0


class Services(NamedTuple):
    scope: str = "system"
    systemd: tuple[str, ...] = ()
    restart_allowed: tuple[str, ...] = ()
    http: tuple[HttpProbe, ...] = ()
    tcp: tuple[TcpProbe, ...] = ()
    timeout: float = 10.0  # seconds for one batched `systemctl show`


class OrphanRule(NamedTuple):
    pattern: str
    after: int


class Processes(NamedTuple):
    kill_allowed: tuple[str, ...] = ("node", "claude", "codex")
    orphans: tuple[OrphanRule, ...] = (OrphanRule("node.*--test", 3),)
    top_n: int = 10


class Memory(NamedTuple):
    kill_hog_at: float = 0.0


class Tmux(NamedTuple):
    sockets: tuple[str, ...] = ("default",)
    kill_allowed: tuple[str, ...] = ()
    timeout: float = 5.0


class Dedup(NamedTuple):
    window: int = 3600


class Restart(NamedTuple):
    second_delay: int = 60
    third_delay: int = 300
    cooldown: int = 3600


class DiskCleanup(NamedTuple):
    max_age_days: float = 7.0


class History(NamedTuple):
    retention_days: int = 30


class Telegram(NamedTuple):
    chat_id: str = ""
    api_base: str = "https://api.telegram.org"
    token: str = ""  # only from TELEGRAM_BOT_TOKEN, never from the file
    timeout: float = 10.0
    retries: int = 3


class Llm(NamedTuple):
    provider: str = "none"
    model: str = "claude-haiku-4-5"
    base_url: str = ""
    mode: str = "act"
    timeout: float = 60.0
    review_every: int = 0
    max_calls_per_hour: int = 12
    max_tokens_per_day: int = 200000
    alert_after: int = 3600
    api_key: str = ""  # only from ANTHROPIC_API_KEY
    prompt_file: str = ""  # "" = the shipped src/argus/prompts/system.md


class Beads(NamedTuple):
    enabled: bool = True
    workdir: str = ""
    timeout: float = 10.0
    auto_close: bool = True
    close_after: int = 3600


class Relay(NamedTuple):
    enabled: bool = False
    bin: str = "relay"
    to: str = "athena"
    sender: str = "argus"  # the `from` key; `from` is a Python keyword
    timeout: float = 5.0
    fallback_file: str = ""


class Web(NamedTuple):
    listen: str = "127.0.0.1:9847"
    token: str = ""


class Config(NamedTuple):
    source: str = "built-in defaults"  # the file the values came from
    state_dir: str = ""
    interval: int = 300
    dry_run: bool = False
    collector_timeout: float = 15.0
    thresholds: Thresholds = Thresholds()
    services: Services = Services()
    processes: Processes = Processes()
    memory: Memory = Memory()
    tmux: Tmux = Tmux()
    dedup: Dedup = Dedup()
    restart: Restart = Restart()
    disk_cleanup: DiskCleanup = DiskCleanup()
    history: History = History()
    telegram: Telegram = Telegram()
    llm: Llm = Llm()
    beads: Beads = Beads()
    relay: Relay = Relay()
    web: Web = Web()


SECRET_KEYS = {("telegram", "token"), ("llm", "api_key"), ("web", "token")}

# --- converters: each returns the value or raises ValueError(why) ---------------


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an integer, got {_show(v)}")
    return v


def _nonneg_int(v: Any) -> int:
    n = _int(v)
    if n < 0:
        raise ValueError(f"must not be negative, got {n}")
    return n


def _positive_int(v: Any) -> int:
    n = _int(v)
    if n <= 0:
        raise ValueError(f"must be greater than 0, got {n}")
    return n


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {_show(v)}")
    return float(v)


def _positive(v: Any) -> float:
    x = _number(v)
    if x <= 0:
        raise ValueError(f"must be greater than 0, got {v}")
    return x


def _nonneg(v: Any) -> float:
    x = _number(v)
    if x < 0:
        raise ValueError(f"must not be negative, got {v}")
    return x


def _percent(v: Any) -> float:
    x = _number(v)
    if not 0 <= x <= 100:
        raise ValueError(f"must be a percentage between 0 and 100, got {v}")
    return x


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {_show(v)}")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {_show(v)}")
    return v


def _str_list(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise ValueError(f"expected a list of strings, got {_show(v)}")
    return tuple(v)


def _regex_list(v: Any) -> tuple[str, ...]:
    items = _str_list(v)
    for pattern in items:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"invalid regular expression {pattern!r}: {err}") from None
    return items


UNIT_RE = re.compile(
    r"^[A-Za-z0-9:_.@\\-]+\.(service|socket|timer|target|mount|path|scope|slice)$")


def _unit_list(v: Any) -> tuple[str, ...]:
    items = _str_list(v)
    for unit in items:
        if not UNIT_RE.fullmatch(unit) or unit.startswith("-") or ".." in unit:
            raise ValueError(f"not a valid systemd unit name: {unit!r} (e.g. nginx.service)")
    return items


def _choice(*options: str) -> Callable[[Any], str]:
    def convert(v: Any) -> str:
        s = _str(v)
        if s not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {s!r}")
        return s

    return convert


def _listen(v: Any) -> str:
    s = _str(v)
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {s!r}")
    return s


def _show(v: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)
    text = repr(v)
    return f"{kind} ({text[:40]})"


Converter: TypeAlias = "Callable[[Any], Any]"

# The schema: section -> key -> converter. Tables of tables are handled below.
TOP: dict[str, Converter] = {
    "state_dir": _str,
    "interval": _positive_int,
    "dry_run": _bool,
    "collector_timeout": _positive,
}
SECTIONS: dict[str, tuple[type, dict[str, Converter]]] = {
    "thresholds": (Thresholds, {
        "memory_warn": _percent, "memory_crit": _percent,
        "disk_warn": _percent, "disk_crit": _percent,
        "swap_warn": _percent, "load_per_core_warn": _positive,
        "swap_io_thrash_mb_s": _positive, "zombies_warn": _positive_int,
        "psi_memory_full_warn": _percent, "psi_cpu_warn": _percent, "psi_io_warn": _percent,
    }),
    "services": (Services, {
        "scope": _choice("system", "user"), "systemd": _unit_list,
        "restart_allowed": _unit_list, "timeout": _positive,
    }),
    "processes": (Processes, {"kill_allowed": _regex_list, "top_n": _positive_int}),
    "memory": (Memory, {"kill_hog_at": _percent}),
    "tmux": (Tmux, {"sockets": _str_list, "kill_allowed": _regex_list, "timeout": _positive}),
    "dedup": (Dedup, {"window": _nonneg_int}),
    "restart": (Restart, {
        "second_delay": _nonneg_int, "third_delay": _nonneg_int, "cooldown": _nonneg_int,
    }),
    "disk_cleanup": (DiskCleanup, {"max_age_days": _positive}),
    "history": (History, {"retention_days": _positive_int}),
    "telegram": (Telegram, {
        "chat_id": _str, "api_base": _str, "timeout": _positive, "retries": _nonneg_int,
    }),
    "llm": (Llm, {
        "provider": _choice("none", "anthropic", "claude-cli", "openai"),
        "model": _str, "base_url": _str, "mode": _choice("off", "shadow", "act"),
        "timeout": _positive, "review_every": _nonneg_int,
        "max_calls_per_hour": _nonneg_int, "max_tokens_per_day": _nonneg_int,
        "alert_after": _nonneg_int, "prompt_file": _str,
    }),
    "beads": (Beads, {
        "enabled": _bool, "workdir": _str, "timeout": _positive,
        "auto_close": _bool, "close_after": _nonneg_int,
    }),
    "relay": (Relay, {
        "enabled": _bool, "bin": _str, "to": _str, "from": _str,
        "timeout": _positive, "fallback_file": _str,
    }),
    "web": (Web, {"listen": _listen, "token": _str}),
}

# Environment overrides keep upstream Argus's names, so its argus.env keeps working.
ENV: dict[str, tuple[str | None, str, Converter]] = {
    "TELEGRAM_BOT_TOKEN": ("telegram", "token", _str),
    "TELEGRAM_CHAT_ID": ("telegram", "chat_id", _str),
    "ARGUS_TELEGRAM_API_BASE": ("telegram", "api_base", _str),
    "ANTHROPIC_API_KEY": ("llm", "api_key", _str),
    "ARGUS_INTERVAL": (None, "interval", _positive_int),
    "ARGUS_DEDUP_WINDOW": ("dedup", "window", _nonneg_int),
    "ARGUS_DISK_CLEAN_MAX_AGE_DAYS": ("disk_cleanup", "max_age_days", _positive),
    "ARGUS_RESTART_BACKOFF_SECOND_DELAY": ("restart", "second_delay", _nonneg_int),
    "ARGUS_RESTART_BACKOFF_THIRD_DELAY": ("restart", "third_delay", _nonneg_int),
    "ARGUS_RESTART_COOLDOWN_SECONDS": ("restart", "cooldown", _nonneg_int),
    "ARGUS_RELAY_ENABLED": ("relay", "enabled", _bool),
    "ARGUS_RELAY_BIN": ("relay", "bin", _str),
    "ARGUS_RELAY_TO": ("relay", "to", _str),
    "ARGUS_RELAY_FROM": ("relay", "from", _str),
    "ARGUS_RELAY_TIMEOUT": ("relay", "timeout", _positive),
    "ARGUS_RELAY_FALLBACK_FILE": ("relay", "fallback_file", _str),
    "ARGUS_BEADS_WORKDIR": ("beads", "workdir", _str),
    "ARGUS_WEB_TOKEN": ("web", "token", _str),  # added by Argus: a secret, from the env
}
_FIELD_ALIASES = {("relay", "from"): "sender"}


def _env_value(raw: str, convert: Converter) -> Any:
    """Environment values are strings: read them as the converter expects."""
    text = raw.strip()
    if convert is _bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if convert in (_str,):
        return raw
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None


def find_config_file(explicit: str | None, env: Mapping[str, str]) -> str | None:
    """--config, then $ARGUS_CONFIG, then /etc/argus, then $XDG_CONFIG_HOME/argus."""
    if explicit:
        return explicit
    if env.get("ARGUS_CONFIG"):
        return env["ARGUS_CONFIG"]
    candidates = list(SEARCH_PATHS)
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", "/root"), ".config")
    candidates.append(os.path.join(xdg, "argus", "argus.toml"))
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def load_config(explicit: str | None = None, env: Mapping[str, str] | None = None,
                cache_dir: str | None = None) -> Config:
    """Read the config file (if any) and apply environment overrides.

    With ``cache_dir`` (the state directory, when known before the config is read),
    the parsed file is cached there; see argus.config_cache.
    """
    env = os.environ if env is None else env
    path = find_config_file(explicit, env)
    data: dict[str, Any] = {}
    if path is not None:
        from argus import config_cache

        cached = config_cache.load(path, cache_dir) if cache_dir else None
        if cached is not None:
            data = cached
        else:
            data = _read_toml(path)
            if cache_dir:
                config_cache.store(path, cache_dir, data)
    return build_config(data, path or "built-in defaults", env)


def _read_toml(path: str) -> dict[str, Any]:
    import tomllib  # only when there is a file: a default cycle does not pay for it

    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise ConfigError(path, "-", "file not found") from None
    except OSError as err:
        raise ConfigError(path, "-", f"cannot read: {err.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "-", "not valid UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, "-", f"not valid TOML: {err}") from None


def build_config(data: Mapping[str, Any], file: str, env: Mapping[str, str]) -> Config:
    values: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for key, value in data.items():
        if key in TOP:
            values[key] = _convert(file, key, TOP[key], value)
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(file, key, f"expected a table [{key}], got {_show(value)}")
            sections[key] = _section(file, key, value)
        else:
            raise ConfigError(file, key, f"unknown key (known: {', '.join(_known_top())})")
    for var, (section, key, convert) in ENV.items():
        if var not in env:
            continue
        try:
            value = convert(_env_value(env[var], convert))
        except ValueError as err:
            raise ConfigError("environment", var, str(err)) from None
        if section is None:
            values[key] = value
        else:
            sections[section][_FIELD_ALIASES.get((section, key), key)] = value
    for name, (cls, _) in SECTIONS.items():
        values[name] = cls(**sections[name])
    config = Config(source=file, **values)
    _check_relations(config, file)
    return config


def _known_top() -> list[str]:
    return [*TOP, *SECTIONS]


def _convert(file: str, key: str, convert: Converter, value: Any) -> Any:
    try:
        return convert(value)
    except ValueError as err:
        raise ConfigError(file, key, str(err)) from None


def _section(file: str, name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    _, schema = SECTIONS[name]
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{name}.{key}"
        if name == "services" and key in ("http", "tcp"):
            out[key] = _probes(file, dotted, key, value)
        elif name == "processes" and key == "orphans":
            out[key] = _orphans(file, dotted, value)
        elif key in schema:
            out[_FIELD_ALIASES.get((name, key), key)] = _convert(file, dotted, schema[key], value)
        else:
            known = list(schema) + (["http", "tcp"] if name == "services" else [])
            known += ["orphans"] if name == "processes" else []
            raise ConfigError(file, dotted, f"unknown key (known: {', '.join(known)})")
    return out


def _tables(file: str, dotted: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(file, dotted, f"expected a list of tables, got {_show(value)}")
    return value


def _fields(file: str, dotted: str, table: dict[str, Any],
            schema: dict[str, Converter], required: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in schema:
            raise ConfigError(file, f"{dotted}.{key}",
                              f"unknown key (known: {', '.join(schema)})")
        out[key] = _convert(file, f"{dotted}.{key}", schema[key], value)
    for key in required:
        if key not in out:
            raise ConfigError(file, f"{dotted}.{key}", "missing (required)")
    return out


def _probes(file: str, dotted: str, kind: str, value: Any) -> tuple[Any, ...]:
    probes: list[Any] = []
    names: set[str] = set()
    for i, table in enumerate(_tables(file, dotted, value)):
        where = f"{dotted}[{i}]"
        if kind == "http":
            fields = _fields(file, where, table, {
                "name": _str, "url": _str, "timeout": _positive, "expect_status": _nonneg_int,
            }, ("name", "url"))
            if not fields["url"].startswith(("http://", "https://")):
                raise ConfigError(file, f"{where}.url", "must start with http:// or https://")
            probes.append(HttpProbe(**fields))
        else:
            fields = _fields(file, where, table, {
                "name": _str, "host": _str, "port": _int, "timeout": _positive,
            }, ("name", "host", "port"))
            if not 0 < fields["port"] < 65536:
                raise ConfigError(file, f"{where}.port", f"must be 1-65535, got {fields['port']}")
            probes.append(TcpProbe(**fields))
        if fields["name"] in names:
            raise ConfigError(file, f"{where}.name", f"duplicate probe name {fields['name']!r}")
        names.add(fields["name"])
    return tuple(probes)


def _orphans(file: str, dotted: str, value: Any) -> tuple[OrphanRule, ...]:
    rules = []
    for i, table in enumerate(_tables(file, dotted, value)):
        where = f"{dotted}[{i}]"
        fields = _fields(file, where, table, {"pattern": _str, "after": _positive_int},
                         ("pattern",))
        _convert(file, f"{where}.pattern", _regex_list, [fields["pattern"]])
        rules.append(OrphanRule(fields["pattern"], fields.get("after", 3)))
    return tuple(rules)


def _check_relations(config: Config, file: str) -> None:
    t = config.thresholds
    for warn, crit in (("memory_warn", "memory_crit"), ("disk_warn", "disk_crit")):
        if getattr(t, crit) < getattr(t, warn):
            raise ConfigError(file, f"thresholds.{crit}",
                              f"{getattr(t, crit):g} is below thresholds.{warn} "
                              f"({getattr(t, warn):g}); critical must be at least warning")
    r = config.restart
    if r.third_delay < r.second_delay:
        raise ConfigError(file, "restart.third_delay",
                          f"{r.third_delay} is below restart.second_delay ({r.second_delay})")
    host = config.web.listen.rpartition(":")[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1") and not config.web.token:
        raise ConfigError(file, "web.token",
                          f"required when web.listen ({config.web.listen}) is not loopback")


def redacted(config: Config) -> dict[str, Any]:
    """The effective config as TOML-shaped data, every secret replaced."""
    from argus.model import to_jsonable

    data: dict[str, Any] = to_jsonable(config)
    for section, key in SECRET_KEYS:
        if data[section].get(key):
            data[section][key] = "<redacted>"
        else:
            data[section][key] = "<unset>"
    data["relay"]["from"] = data["relay"].pop("sender")
    del data["source"]  # where the values came from, not a key
    return data
