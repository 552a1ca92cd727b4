"""``argus stats`` numbers on a planted registry whose every count is known."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from registry_gen import generate
from stats_helpers import DAY, EXPECTED, H, clock_at, days, hours, iso, planted, seed_llm

from argus.analyze import stats, tally
from argus.analyze.stats import compute
from argus.analyze.tally import Tally, scan_records, tally_file
from argus.analyze.tally_follow import Follower
from argus.record import registry

NOW = clock_at(1_772_000_000.0)  # a fixed clock: 2026-02-25, half past an hour
UPSTREAM = ["generated_at", "window_days", "total_problems", "by_type", "by_severity",
            "action_results", "action_success_rate", "hourly", "daily"]


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    planted(state / "problems.jsonl", NOW)
    return state


def week(state: Path) -> dict[str, Any]:
    return compute(str(state / "problems.jsonl"), since_s=7 * DAY, now=NOW,
                   state_dir=str(state))


def test_upstream_fields_come_first_with_the_planted_counts(state: Path) -> None:
    doc = week(state)
    assert list(doc)[:len(UPSTREAM)] == UPSTREAM
    assert doc["generated_at"] == iso(NOW) and doc["window_days"] == 7
    assert doc["since"] == iso(NOW - 7 * DAY)
    for field in ("total_problems", "action_success_rate", "beads_created", "skipped_lines"):
        assert doc[field] == EXPECTED[field], field
    assert doc["by_type"] == EXPECTED["by_type"]
    assert doc["by_severity"] == EXPECTED["by_severity"]
    assert doc["action_results"] == EXPECTED["action_results"]
    assert doc["hourly"] == hours(NOW)
    assert doc["daily"] == days(NOW)
    assert sum(h["count"] for h in doc["hourly"]) == doc["total_problems"]


def test_actions_alerts_resolution_times_and_success_rate(state: Path) -> None:
    doc = week(state)
    assert doc["actions"] == EXPECTED["actions"]
    assert doc["alerts"] == EXPECTED["alerts"]
    assert {k: doc["action_success"][k] for k in ("success", "failure")} == \
        EXPECTED["action_success"]
    assert doc["mean_time_to_resolve_s"] == EXPECTED["mean_time_to_resolve_s"]
    assert doc["time_to_resolve"]["disk"] == {"resolved": 1, "timed": 1, "sum_s": 3000.0,
                                              "mean_s": 3000.0}
    assert doc["by_type_severity"]["service"] == {"critical": 3, "warning": 0, "info": 1}


def test_llm_calls_tokens_and_proposed_actions(state: Path) -> None:
    seed_llm(state, NOW)
    llm = week(state)["llm"]
    assert llm["calls"] == 3 and llm["tokens"] == 2999
    # NOW is 2026-02-25T06:30Z: one call the day before, two on the day
    assert iso(NOW) == "2026-02-25T06:30:00Z"
    assert llm["by_day"] == [{"bucket": "2026-02-24", "calls": 1, "tokens": 999},
                             {"bucket": "2026-02-25", "calls": 2, "tokens": 2000}]
    assert llm["complete_since"] == iso(NOW - DAY)
    assert llm["last_call"] == {"ts": iso(NOW - H), "mode": "llm", "provider": "anthropic",
                                "model": "claude-haiku-4-5", "tokens_in": 900,
                                "tokens_out": 300, "error": None}
    assert llm["actions"] == {"success": 1}
    assert llm["actions_by_day"] == [{"bucket": iso(NOW - 3 * DAY)[:10], "count": 1}]
    # a one-day window holds the two calls of the last 24 h only
    day = compute(str(state / "problems.jsonl"), since_s=DAY, now=NOW, state_dir=str(state))
    assert (day["llm"]["calls"], day["llm"]["tokens"]) == (2, 2000)


def test_other_windows(state: Path) -> None:
    path = str(state / "problems.jsonl")
    whole = compute(path, since_s=None, now=NOW)
    assert whole["window_days"] is None and whole["since"] is None
    assert whole["total_problems"] == 17  # the two before the week too
    assert whole["beads_created"] == 3  # ops-old, ops-early, ops-new1
    six = compute(path, since_s=6 * DAY, now=NOW)
    assert six["total_problems"] == 13
    assert six["beads_created"] == 0  # ops-new1 was first on W2, before these six days
    day = compute(path, since_s=DAY, now=NOW)
    # the +01:00 record and the last line; the torn line is before the day: not judged
    assert day["total_problems"] == 2 and day["skipped_lines"] == 1
    assert nonzero(day["by_type"]) == {"memory": 1, "self": 1}


@pytest.mark.parametrize("chunk", [64, 333, 4096])
def test_chunk_boundaries_do_not_change_a_count(state: Path, chunk: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines cut across reads, lines longer than a read: the same document."""
    expected = week(state)
    monkeypatch.setattr(tally, "CHUNK", chunk)
    assert week(state) == expected


def test_a_missing_or_empty_registry_is_all_zeros(tmp_path: Path) -> None:
    doc = compute(str(tmp_path / "none.jsonl"), since_s=7 * DAY, now=NOW)
    assert doc["total_problems"] == 0 and doc["hourly"] == [] and doc["daily"] == []
    assert doc["action_success_rate"] is None and doc["mean_time_to_resolve_s"] == {}
    assert set(doc["by_type"].values()) == {0} and doc["llm"]["calls"] == 0


def odd_registry(path: Path, now: float, n: int, *, odd: bool = True) -> None:
    """Generated records; with ``odd``, shuffled out of time order (two hosts sharing
    a file) with odd lines mixed in: escapes and unicode, nulls, other writers, torn
    lines. Without, in time order as one host writes them (the fast path's case)."""
    rng = random.Random(11)
    lines = generate(n, end=now, days=10, seed=5)
    if not odd:
        path.write_bytes(b"".join(lines))
        return
    rng.shuffle(lines)
    odd_lines: list[bytes] = []
    for i in range(60):
        record = registry.make_record(
            ts=iso(now - rng.uniform(0, 10 * DAY)), severity=rng.choice(["critical", None]),
            type=rng.choice(["disk", "service", "Weird"]),
            description=rng.choice(['quote " and \\ backslash', "caf\u00e9 \u2014 \U0001f525",
                                    "plain"]),
            action_taken=rng.choice([None, "alert", 'restart_service:a"b.service']),
            action_result=rng.choice(["success", "failure", "resolved", None]),
            bead_id=rng.choice([None, f"ops-{i}", 'ops-"x"']), host=rng.choice(["h", "h,2"]),
            key=None, subject=None, source=rng.choice(["rules", "llm", None]), cycle=None,
            details=rng.choice([{}, {"duration_s": rng.randint(1, 900)},
                                {"x": 1, "duration_s": 5}]))
        odd_lines.append(registry.encode(record))
    torn = registry.encode(registry.make_record(ts=iso(now - H), type="disk"))[:50] + b"\n"
    odd_lines.append(torn)
    for line in odd_lines:
        lines.insert(rng.randrange(len(lines)), line)
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize("odd", [False, True], ids=["ordered", "odd"])
@pytest.mark.parametrize("since", [None, 7 * DAY, 2 * DAY, 12 * H])
def test_the_fast_path_counts_what_json_parsing_counts(tmp_path: Path, since: float | None,
                                                       odd: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The regular expression against json.loads on every line (scan_records), for
    windows cutting anywhere: on a registry in time order (whole chunks counted by the
    pattern, chunks before the window skipped, the straddling one line by line), and
    on an unordered one full of odd lines (the pattern on the lines it fits, json for
    the rest)."""
    path = tmp_path / "problems.jsonl"
    odd_registry(path, NOW, 6000, odd=odd)
    monkeypatch.setattr(tally, "CHUNK", 64 * 1024)  # many chunks, some straddling the cut
    exact_chunks: list[int] = []
    line_by_line = Tally._exact

    def spy(self: Tally, chunk: bytes, cut: bytes, cutoff: int | None) -> None:
        exact_chunks.append(len(chunk))
        line_by_line(self, chunk, cut, cutoff)

    monkeypatch.setattr(Tally, "_exact", spy)
    cutoff = int(NOW - since) if since is not None else None
    fast = tally_file(str(path), cutoff)
    chunks = path.stat().st_size // (64 * 1024) + 1
    if odd:  # every chunk with an odd line in the window
        assert 10 <= len(exact_chunks) <= chunks + 1
    else:  # at most the chunk straddling the cut goes line by line
        assert len(exact_chunks) <= 1 and chunks > 20
    exact = scan_records(str(path), cutoff, lambda record: None)
    assert fast.hourly == exact.hourly and fast.kinds == exact.kinds
    assert fast.ttr_n == exact.ttr_n and fast.ttr_sum == exact.ttr_sum
    assert fast.llm_hourly == exact.llm_hourly
    assert fast.created_beads() == exact.created_beads()
    assert fast.skipped == exact.skipped == (1 if odd else 0)  # the torn line
    assert sum(fast.hourly.values()) > 0


def test_an_independent_reference_agrees(tmp_path: Path) -> None:
    """The upstream fields recomputed the obvious way, record by record."""
    path = tmp_path / "problems.jsonl"
    odd_registry(path, NOW, 3000)
    doc = compute(str(path), since_s=5 * DAY, now=NOW)
    cut = NOW - 5 * DAY
    from argus.timefmt import parse_iso

    rows = [r for r in registry.iter_records(str(path), warn=False)
            if (parse_iso(str(r.get("ts"))) or 0) >= int(cut)]
    assert doc["total_problems"] == len(rows)

    def count(field: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in rows:
            name = r.get(field) or "none"
            out[name] = out.get(name, 0) + 1
        return out

    assert nonzero(doc["by_type"]) == count("type")
    assert nonzero(doc["by_severity"]) == count("severity")
    assert nonzero(doc["action_results"]) == count("action_result")
    counted = [r for r in rows if str(r.get("action_taken") or "").split(":")[0]
               in stats.COUNTED]
    ok = sum(r["action_result"] == "success" for r in counted)
    bad = sum(r["action_result"] == "failure" for r in counted)
    assert doc["action_success_rate"] == round(ok / (ok + bad), 4)


def test_the_follower_reads_only_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "problems.jsonl"
    first = [registry.make_record(ts=iso(NOW - 60 * i), severity="warning", type="disk",
                                  action_taken="alert", action_result="success")
             for i in range(5)]
    registry.append(str(path), first)
    follower = Follower(str(path))
    before = follower.update()
    assert sum(before.hourly.values()) == 5
    size = path.stat().st_size
    registry.append(str(path), first[:3])
    with open(path, "ab") as fh:  # a writer killed mid-line: no newline yet
        fh.write(registry.encode(first[0])[:40])
    t: Tally = follower.update()
    assert sum(t.hourly.values()) == 8 and t.skipped == 0  # the torn tail waits
    assert follower.offset > size
    registry.append(str(path), first[:1])  # heals the torn line with a newline first
    t = follower.update()
    assert sum(t.hourly.values()) == 9 and t.skipped == 1
    assert sum(before.hourly.values()) == 5  # each update hands out its own copy
    registry_path = str(path)
    path.unlink()  # replaced (rotated): read from the start
    registry.append(registry_path, first[:2])
    t = follower.update()
    assert sum(t.hourly.values()) == 2 and t.skipped == 0


def test_since_parsing() -> None:
    assert stats.parse_since(None, 7 * DAY) == 7 * DAY
    assert stats.parse_since("all", 7 * DAY) is None
    assert stats.parse_since("24h", None) == DAY
    for bad in ("7x", "0d", "-1d"):
        with pytest.raises(ValueError):
            stats.parse_since(bad, None)


@pytest.mark.parametrize("workers", [2, 3, 4])
@pytest.mark.parametrize("since", [None, 2 * DAY])
def test_parts_read_by_forked_processes_add_up_to_the_whole(
        tmp_path: Path, workers: int, since: float | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "problems.jsonl"
    odd_registry(path, NOW, 4000)
    monkeypatch.setattr(tally, "CHUNK", 32 * 1024)
    alone = compute(str(path), since_s=since, now=NOW)
    monkeypatch.setattr(tally, "PARALLEL_MIN_BYTES", 0)
    assert compute(str(path), since_s=since, now=NOW, workers=workers) == alone
    assert alone["total_problems"] > 500 and alone["skipped_lines"] == 1


def test_a_failed_part_is_read_again_by_the_parent(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    path = tmp_path / "problems.jsonl"
    odd_registry(path, NOW, 3000, odd=False)
    alone = compute(str(path), since_s=None, now=NOW)
    parent = os.getpid()
    scan = Tally.scan

    def dies_in_the_child(self: Tally, *args: Any, **kwargs: Any) -> int:
        if os.getpid() != parent:
            raise MemoryError("the child could not finish")
        return scan(self, *args, **kwargs)

    monkeypatch.setattr(Tally, "scan", dies_in_the_child)
    monkeypatch.setattr(tally, "PARALLEL_MIN_BYTES", 0)
    assert compute(str(path), since_s=None, now=NOW, workers=2) == alone
