"""TOML plus environment overrides -> one frozen Config.

Every key has a default, so Argus runs with no file at all. Each key is read by a
small named converter that raises ``ConfigError(file, key, why)``; unknown keys are
errors too, because a typo in a threshold must not silently fall back to a default.
"""

from __future__ import annotations

import os

from argus.config_convert import (
    boolean,
    choice,
    integer,
    listen,
    nonneg_int,
    percent,
    positive,
    positive_int,
    regex_list,
    show,
    string,
    string_list,
    unit_list,
)
from argus.config_types import (
    Beads,
    Config,
    Dedup,
    DiskCleanup,
    History,
    HttpProbe,
    Llm,
    Memory,
    OrphanRule,
    Processes,
    Relay,
    Restart,
    Services,
    TcpProbe,
    Telegram,
    Thresholds,
    Tmux,
    Web,
)
from argus.errors import ConfigError
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeAlias

# The records live in config_types; they are part of this module's interface.
__all__ = [
    "Beads",
    "Config",
    "ConfigError",
    "Dedup",
    "DiskCleanup",
    "History",
    "HttpProbe",
    "Llm",
    "Memory",
    "OrphanRule",
    "Processes",
    "Relay",
    "Restart",
    "Services",
    "TcpProbe",
    "Telegram",
    "Thresholds",
    "Tmux",
    "Web",
    "build_config",
    "find_config_file",
    "load_config",
    "redacted",
]

SEARCH_PATHS = ("/etc/argus/argus.toml",)


SECRET_KEYS = {("telegram", "token"), ("llm", "api_key"), ("web", "token")}

Converter: TypeAlias = "Callable[[Any], Any]"

# The schema: section -> key -> converter. Tables of tables are handled below.
TOP: dict[str, Converter] = {
    "state_dir": string,
    "interval": positive_int,
    "dry_run": boolean,
    "collector_timeout": positive,
}
SECTIONS: dict[str, tuple[type, dict[str, Converter]]] = {
    "thresholds": (Thresholds, {
        "memory_warn": percent, "memory_crit": percent,
        "disk_warn": percent, "disk_crit": percent,
        "swap_warn": percent, "load_per_core_warn": positive,
        "swap_io_thrash_mb_s": positive, "zombies_warn": positive_int,
        "psi_memory_full_warn": percent, "psi_cpu_warn": percent, "psi_io_warn": percent,
    }),
    "services": (Services, {
        "scope": choice("system", "user"), "systemd": unit_list,
        "restart_allowed": unit_list, "timeout": positive,
    }),
    "processes": (Processes, {"kill_allowed": regex_list, "top_n": positive_int}),
    "memory": (Memory, {"kill_hog_at": percent}),
    "tmux": (Tmux, {"sockets": string_list, "kill_allowed": regex_list, "timeout": positive}),
    "dedup": (Dedup, {"window": nonneg_int}),
    "restart": (Restart, {
        "second_delay": nonneg_int, "third_delay": nonneg_int, "cooldown": nonneg_int,
    }),
    "disk_cleanup": (DiskCleanup, {"max_age_days": positive}),
    "history": (History, {"retention_days": positive_int}),
    "telegram": (Telegram, {
        "chat_id": string, "api_base": string, "timeout": positive, "retries": nonneg_int,
    }),
    "llm": (Llm, {
        "provider": choice("none", "anthropic", "claude-cli", "openai"),
        "model": string, "base_url": string, "mode": choice("off", "shadow", "act"),
        "timeout": positive, "review_every": nonneg_int,
        "max_calls_per_hour": nonneg_int, "max_tokens_per_day": nonneg_int,
        "alert_after": nonneg_int, "prompt_file": string,
    }),
    "beads": (Beads, {
        "enabled": boolean, "workdir": string, "timeout": positive,
        "auto_close": boolean, "close_after": nonneg_int,
    }),
    "relay": (Relay, {
        "enabled": boolean, "bin": string, "to": string, "from": string,
        "timeout": positive, "fallback_file": string,
    }),
    "web": (Web, {"listen": listen, "token": string}),
}

# Environment overrides keep upstream Argus's names, so its argus.env keeps working.
ENV: dict[str, tuple[str | None, str, Converter]] = {
    "TELEGRAM_BOT_TOKEN": ("telegram", "token", string),
    "TELEGRAM_CHAT_ID": ("telegram", "chat_id", string),
    "ARGUS_TELEGRAM_API_BASE": ("telegram", "api_base", string),
    "ANTHROPIC_API_KEY": ("llm", "api_key", string),
    "ARGUS_INTERVAL": (None, "interval", positive_int),
    "ARGUS_DEDUP_WINDOW": ("dedup", "window", nonneg_int),
    "ARGUS_DISK_CLEAN_MAX_AGE_DAYS": ("disk_cleanup", "max_age_days", positive),
    "ARGUS_RESTART_BACKOFF_SECOND_DELAY": ("restart", "second_delay", nonneg_int),
    "ARGUS_RESTART_BACKOFF_THIRD_DELAY": ("restart", "third_delay", nonneg_int),
    "ARGUS_RESTART_COOLDOWN_SECONDS": ("restart", "cooldown", nonneg_int),
    "ARGUS_RELAY_ENABLED": ("relay", "enabled", boolean),
    "ARGUS_RELAY_BIN": ("relay", "bin", string),
    "ARGUS_RELAY_TO": ("relay", "to", string),
    "ARGUS_RELAY_FROM": ("relay", "from", string),
    "ARGUS_RELAY_TIMEOUT": ("relay", "timeout", positive),
    "ARGUS_RELAY_FALLBACK_FILE": ("relay", "fallback_file", string),
    "ARGUS_BEADS_WORKDIR": ("beads", "workdir", string),
    "ARGUS_WEB_TOKEN": ("web", "token", string),  # added by Argus: a secret, from the env
}
_FIELD_ALIASES = {("relay", "from"): "sender"}


def _env_value(raw: str, convert: Converter) -> Any:
    """Environment values are strings: read them as the converter expects."""
    text = raw.strip()
    if convert is boolean:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if convert in (string,):
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
                raise ConfigError(file, key, f"expected a table [{key}], got {show(value)}")
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
        raise ConfigError(file, dotted, f"expected a list of tables, got {show(value)}")
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
                "name": string, "url": string, "timeout": positive, "expect_status": nonneg_int,
            }, ("name", "url"))
            if not fields["url"].startswith(("http://", "https://")):
                raise ConfigError(file, f"{where}.url", "must start with http:// or https://")
            probes.append(HttpProbe(**fields))
        else:
            fields = _fields(file, where, table, {
                "name": string, "host": string, "port": integer, "timeout": positive,
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
        fields = _fields(file, where, table, {"pattern": string, "after": positive_int},
                         ("pattern",))
        _convert(file, f"{where}.pattern", regex_list, [fields["pattern"]])
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
