"""The shape of Argus's configuration: one immutable record per [section].

Every field has its default here, so Argus runs with no config file at all; how
values are read and checked is in argus.config.
"""

from __future__ import annotations

from argus.typing_lite import NamedTuple


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
