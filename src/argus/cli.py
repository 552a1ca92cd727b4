"""The ``argus`` command: argument parsing, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys

from argus import __version__
from argus.errors import ArgusError, ConfigError, ExitStatus, UsageError
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

# `argus run`'s options by exact spelling, for the fast path below: a systemd timer
# starts `argus run --once` 288 times a day, and argparse (with the gettext, locale
# and re modules it imports, and a gettext lookup per help string) costs about 8 ms
# of CPU a start, a quarter of what a one-shot cycle may cost. Anything else (help,
# an abbreviation, a mistake, every other command) goes to argparse, so the two
# cannot disagree: tests/core/test_cli_fast.py checks the fast path against argparse.
_GLOBAL_VALUES = {"--config": "config", "--state-dir": "state_dir"}
_GLOBAL_FLAGS = {"-v": "verbose", "--verbose": "verbose"}
_RUN_FLAGS = {"--once": "once", "--dry-run": "dry_run", "--json": "json"}


class RunArgs:
    """What argparse returns for an ``argus run`` command line (the attributes used)."""

    def __init__(self) -> None:
        self.command = "run"
        self.config: str | None = None
        self.state_dir: str | None = None
        self.verbose = False
        self.once = False
        self.dry_run = False
        self.json = False


def parse_run_fast(argv: Sequence[str]) -> RunArgs | None:
    """``argv`` parsed without argparse when it is a plain ``run`` command line, else None.

    Accepted: the global ``--config FILE``/``--config=FILE``, ``--state-dir``
    likewise, ``-v``/``--verbose``, then ``run`` and any of ``--once``,
    ``--dry-run``, ``--json``. A value that is empty or starts with ``-`` is left
    to argparse, which has its own rules for those.
    """
    args = RunArgs()
    items = list(argv)
    i = 0
    while i < len(items) and items[i] != "run":
        item = items[i]
        name, eq, value = item.partition("=")
        if name in _GLOBAL_VALUES:
            if not eq:
                if i + 1 >= len(items):
                    return None
                i += 1
                value = items[i]
            if not value or value.startswith("-"):
                return None
            setattr(args, _GLOBAL_VALUES[name], value)
        elif item in _GLOBAL_FLAGS:
            args.verbose = True
        else:
            return None
        i += 1
    if i >= len(items):
        return None
    for item in items[i + 1:]:
        if item not in _RUN_FLAGS:
            return None
        setattr(args, _RUN_FLAGS[item], True)
    return args


def _formatter_class() -> type[argparse.HelpFormatter]:
    import argparse

    class _Formatter(argparse.HelpFormatter):
        """argparse's formatter with the width found without ``shutil``.

        argparse builds a formatter for every ``add_argument`` (to check metavars),
        and without a width the formatter imports shutil, which imports bz2 and
        lzma: about 2 ms per start, for nothing.
        """

        def __init__(self, prog: str) -> None:
            try:
                width = os.get_terminal_size(sys.stderr.fileno()).columns
            except OSError:
                width = 80
            super().__init__(prog, width=max(width - 2, 40))

    return _Formatter


def build_parser() -> argparse.ArgumentParser:
    import argparse

    _Formatter = _formatter_class()
    parser = argparse.ArgumentParser(
        prog="argus", description="Argus: a self-healing ops watchdog for a Linux host.",
        formatter_class=_Formatter)
    parser.add_argument("--config", metavar="FILE", help="config file (TOML)")
    parser.add_argument("--state-dir", metavar="DIR", help="where Argus keeps its state")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("--version", action="version", version=f"argus {__version__}")
    # An explicit prog spares argparse building a help formatter (which imports
    # shutil, bz2 and lzma) on every run.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="argus")
    sub.required = True

    run = sub.add_parser("run", formatter_class=_Formatter,
                         help="run one cycle (--once) or the daemon loop")
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    run.add_argument("--dry-run", action="store_true",
                     help="decide everything, act on nothing (records dry_run)")
    run.add_argument("--json", action="store_true", help="print the cycle report as JSON")

    problems = sub.add_parser("problems", formatter_class=_Formatter,
                              help="query the problem registry")
    problems.add_argument("--since", default="24h", metavar="DUR",
                          help="how far back, e.g. 30m, 24h, 7d (default 24h)")
    problems.add_argument("--type", dest="ptype", metavar="T", help="only this type")
    problems.add_argument("--severity", metavar="S", help="only this severity")
    problems.add_argument("--limit", type=int, default=0, metavar="N",
                          help="at most N records, newest last (default all)")
    problems.add_argument("--json", action="store_true", help="JSON lines, as stored")

    patterns = sub.add_parser("patterns", formatter_class=_Formatter,
                              help="patterns in the registry and the metrics history")
    patterns.add_argument("--window", default="7d", metavar="DUR",
                          help="how far back, e.g. 7d, 30d (default 7d)")
    patterns.add_argument("--json", action="store_true", help="print the patterns as JSON")
    patterns.add_argument("--create-beads", action="store_true",
                          help="file the day's summary bead (once per pattern per day)")

    stats = sub.add_parser("stats", formatter_class=_Formatter,
                           help="problem and action statistics, as JSON or Prometheus metrics")
    stats.add_argument("--since", metavar="DUR",
                       help="how far back: 24h, 7d, 30d or all "
                            "(default 7d for json, all for prometheus)")
    stats.add_argument("--format", choices=("json", "prometheus"), default="json",
                       help="json (upstream's fields, default) or prometheus (text format)")
    stats.add_argument("--output", metavar="FILE",
                       help="write FILE atomically instead of printing (for node_exporter's "
                            "textfile collector)")

    summary = sub.add_parser("summary", formatter_class=_Formatter,
                             help="the daily health summary")
    summary.add_argument("--send", action="store_true",
                         help="send it: Relay, else Telegram, else the summary fallback file")
    summary.add_argument("--json", action="store_true", help="print it as JSON")

    config = sub.add_parser("config", formatter_class=_Formatter,
                            help="validate or print the effective config")
    config_sub = config.add_subparsers(dest="config_command", metavar="check|show",
                                       prog="argus config")
    config_sub.required = True
    config_sub.add_parser("check", formatter_class=_Formatter,
                          help="validate the config and exit 0 or 2")
    show = config_sub.add_parser("show", formatter_class=_Formatter,
                                 help="print the effective config, secrets redacted")
    show.add_argument("--json", action="store_true")

    doctor = sub.add_parser("doctor", formatter_class=_Formatter,
                            help="check what Argus can use on this host")
    doctor.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", formatter_class=_Formatter,
                           help="the dashboard, /metrics, /api/... and /healthz over HTTP")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="where to listen (default web.listen, 127.0.0.1:9847); "
                            "anything but loopback needs web.token")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = parse_run_fast(sys.argv[1:] if argv is None else argv)
    if args is None:
        args = build_parser().parse_args(argv)
    try:
        return int(dispatch(args))
    except ConfigError as err:
        print(f"argus: config error: {err}", file=sys.stderr)
        return ExitStatus.USAGE
    except UsageError as err:
        print(f"argus: {err}", file=sys.stderr)
        return ExitStatus.USAGE
    except ArgusError as err:
        print(f"argus: {err}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `argus problems | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK
    except Exception as err:  # never a traceback for the user; the log has it
        from argus.logs import get_logger

        get_logger("argus").debug("internal error", exc_info=True)
        print(f"argus: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return ExitStatus.FAILED


def dispatch(args: Any) -> int:
    from argus.config import load_config

    # The state directory is known early when given on the command line or in the
    # environment (the systemd units set it): the parsed config is cached there.
    config = load_config(args.config,
                         cache_dir=args.state_dir or os.environ.get("ARGUS_STATE_DIR"))
    if args.command == "config":
        return config_command(args, config)
    from argus.context import make_context, resolve_state_dir
    from argus.logs import setup_logging

    state_dir = resolve_state_dir(args.state_dir, config, os.environ)
    try:
        ctx = make_context(config, state_dir, dry_run=getattr(args, "dry_run", False))
    except OSError as err:
        raise ArgusError(f"cannot use state directory {state_dir}: {err.strerror}") from None
    secrets = (config.telegram.token, config.llm.api_key, config.web.token)
    logs_dir = ctx.paths.logs_dir if args.command == "run" else None
    setup_logging(logs_dir, verbose=args.verbose, secrets=secrets)
    if args.command == "run":
        if args.once:
            return run_once_command(ctx, args)
        from argus.daemon import run_daemon

        return run_daemon(ctx)
    if args.command == "problems":
        return problems_command(ctx, args)
    if args.command == "patterns":
        from argus.analyze.patterns_emit import patterns_command

        return patterns_command(ctx, args)
    if args.command == "stats":
        from argus.analyze.stats import stats_command

        return stats_command(ctx, args)
    if args.command == "summary":
        from argus.analyze.summary import summary_command

        return summary_command(ctx, args)
    if args.command == "doctor":
        from argus.doctor import doctor_command

        return doctor_command(ctx, as_json=args.json)
    if args.command == "serve":
        from argus.web.server import serve

        return serve(ctx, args.listen)
    raise UsageError(f"unknown command {args.command}")


def run_once_command(ctx: Any, args: Any) -> int:
    from argus.cycle import run_cycle
    from argus.model import report_to_json

    report = run_cycle(ctx)
    if report is None:
        print("argus: the cycle failed; see the log in " + ctx.paths.logs_dir, file=sys.stderr)
        return ExitStatus.FAILED
    if args.json:
        import json

        json.dump(report_to_json(report), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        from argus.render import render_report

        sys.stdout.write(render_report(report, ctx.paths))
    return ExitStatus.OK if report.status == "ok" else ExitStatus.FAILED


def problems_command(ctx: Any, args: argparse.Namespace) -> int:
    from argus.model import PROBLEM_TYPES, SEVERITIES
    from argus.record.query import query
    from argus.timefmt import parse_duration

    try:
        since = parse_duration(args.since)
    except ValueError as err:
        raise UsageError(f"--since: {err}") from None
    if args.ptype and args.ptype not in PROBLEM_TYPES:
        raise UsageError(f"--type: must be one of {', '.join(PROBLEM_TYPES)}")
    if args.severity and args.severity not in SEVERITIES:
        raise UsageError(f"--severity: must be one of {', '.join(SEVERITIES)}")
    records = query(ctx.paths.problems, since_s=since, now=ctx.clock(), ptype=args.ptype,
                    severity=args.severity, limit=args.limit)
    if args.json:
        import json

        for record in records:
            sys.stdout.write(json.dumps(record) + "\n")
    else:
        from argus.render import render_problems

        sys.stdout.write(render_problems(records, ctx.paths.problems, args.since))
    return ExitStatus.OK


def config_command(args: argparse.Namespace, config: Any) -> int:
    from argus.config import redacted

    if args.config_command == "check":
        print(f"argus: config ok ({config.source})")
        return ExitStatus.OK
    data = redacted(config)
    if args.json:
        import json

        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        from argus.render import render_toml

        sys.stdout.write(f"# effective config from {config.source}; secrets redacted\n")
        sys.stdout.write(render_toml(data))
    return ExitStatus.OK
