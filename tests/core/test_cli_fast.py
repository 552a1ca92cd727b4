"""The `argus run` fast path parses exactly as argparse does, or hands over to it."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.cli import build_parser, parse_run_fast

FIELDS = ("command", "config", "state_dir", "verbose", "once", "dry_run", "json")

# The words a command line is made of: every form the fast path accepts, and
# neighbours it must leave to argparse (abbreviations, help, other commands, '--').
VOCABULARY = [
    "run", "--once", "--dry-run", "--json", "-v", "--verbose", "--config", "--state-dir",
    "--config=/etc/argus.toml", "--state-dir=/var/lib/argus", "/etc/argus.toml", "x.toml",
    "--config=", "-", "--", "-h", "--help", "--dry", "--on", "--conf", "-vv", "problems",
    "config", "check", "--version", "--verbose=1", "--once=1", "RUN", "",
]


def argparse_result(argv: list[str]) -> dict[str, object] | None:
    try:
        ns = build_parser().parse_args(argv)
    except SystemExit:
        return None
    return {f: getattr(ns, f, None) for f in FIELDS}


def fast_result(argv: list[str]) -> dict[str, object] | None:
    args = parse_run_fast(argv)
    return None if args is None else {f: getattr(args, f) for f in FIELDS}


@pytest.mark.parametrize("argv", [
    ["run", "--once"],
    ["run"],
    ["run", "--once", "--dry-run", "--json"],
    ["--config", "/etc/argus/argus.toml", "run", "--once"],
    ["--config=/etc/argus/argus.toml", "--state-dir", "/var/lib/argus", "-v", "run"],
    ["--verbose", "run", "--json", "--once", "--once"],
    ["--config", "a.toml", "--config", "b.toml", "run", "--once"],  # last one wins
    ["--config", "run", "run", "--once"],  # a file that happens to be called "run"
])
def test_fast_path_takes_plain_run_lines_and_agrees_with_argparse(argv: list[str]) -> None:
    fast = fast_result(argv)
    assert fast is not None, "the fast path should have taken this command line"
    assert fast == argparse_result(argv)


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["run", "--help"], ["run", "-h"], ["run", "--dry"], ["run", "--", "--once"],
    ["problems"], ["run", "--config", "x"], ["--config"], ["--config", "-x", "run"],
    ["--config=", "run"], ["-vv", "run"], ["--verbose=1", "run"], ["run", "--once=1"],
    ["--conf", "x", "run"], ["--version"],
])
def test_anything_else_goes_to_argparse(argv: list[str]) -> None:
    assert parse_run_fast(argv) is None


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=7))
def test_fast_path_never_disagrees_with_argparse(argv: list[str]) -> None:
    fast = fast_result(argv)
    if fast is not None:
        assert fast == argparse_result(argv)


def test_run_args_has_every_attribute_dispatch_reads() -> None:
    # dispatch() and run_once_command() read these; argparse's Namespace has them all.
    args = parse_run_fast(["run", "--once"])
    assert args is not None
    ns = build_parser().parse_args(["run", "--once"])
    assert isinstance(ns, argparse.Namespace)
    assert set(vars(args)) == set(vars(ns))
