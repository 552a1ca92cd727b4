"""The outbox file: order, torn lines, the cap, and concurrent writers."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from argus.notify.outbox import Outbox, make_item


def item(n: int) -> dict[str, object]:
    return make_item(f"message {n}", f"disk:{n:016x}", "alert", f"2026-02-19T23:{n:02d}:00Z")


def file_texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines()]


def test_add_appends_in_order_one_json_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(str(path))
    assert box.pending() == []
    box.add([item(1), item(2)])
    box.add([item(3)])
    assert file_texts(path) == ["message 1", "message 2", "message 3"]
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"ts": "2026-02-19T23:01:00Z", "text": "message 1",
                     "key": "disk:0000000000000001", "kind": "alert", "attempts": 0,
                     "last_error": None}
    assert [i["text"] for i in box.pending()] == ["message 1", "message 2", "message 3"]


def test_a_torn_last_line_is_skipped_with_a_warning_and_the_next_add_survives(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(str(path))
    box.add([item(1), item(2)])
    with open(path, "ab") as fh:  # a writer killed mid-write
        fh.write(b'{"ts": "2026-02-19T23:03:00Z", "text": "mess')
    with caplog.at_level(logging.WARNING, logger="argus.outbox"):
        assert [i["text"] for i in box.pending()] == ["message 1", "message 2"]
    assert "line 3 is not a valid outbox item" in caplog.text
    box.add([item(4)])  # must not be glued to the torn fragment
    assert [i["text"] for i in box.pending()] == ["message 1", "message 2", "message 4"]


def test_replace_rewrites_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(str(path))
    box.add([item(1), item(2), item(3)])
    with box.locked():
        waiting = box.pending()
        assert box.replace(waiting[1:]) == []
    assert file_texts(path) == ["message 2", "message 3"]
    box.replace([])
    assert path.read_text() == ""
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


def test_replace_with_nothing_does_not_create_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    Outbox(str(path)).replace([])
    assert not path.exists()


def test_the_cap_drops_the_oldest_with_a_warning(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(str(path), cap=3)
    box.add([item(1), item(2)])
    with caplog.at_level(logging.WARNING, logger="argus.outbox"):
        dropped = box.add([item(3), item(4), item(5)])
    assert [i["text"] for i in dropped] == ["message 1", "message 2"]
    assert file_texts(path) == ["message 3", "message 4", "message 5"]
    assert "over its cap of 3 messages; dropped the 2 oldest" in caplog.text
    assert [i["text"] for i in box.replace([item(6), item(7), item(8), item(9)])] == ["message 6"]
    assert file_texts(path) == ["message 7", "message 8", "message 9"]


def test_an_add_during_a_delivery_run_waits_and_is_not_lost(tmp_path: Path) -> None:
    path = str(tmp_path / "outbox.jsonl")
    Outbox(path).add([item(1)])
    runner = Outbox(path)
    with runner.locked():
        waiting = runner.pending()
        adder = threading.Thread(target=Outbox(path).add, args=([item(2)],))
        adder.start()
        time.sleep(0.2)
        assert adder.is_alive()  # blocked on the lock while the run "sends"
        runner.replace(waiting[1:])  # message 1 was delivered
    adder.join(timeout=5)
    assert [i["text"] for i in Outbox(path).pending()] == ["message 2"]


def test_concurrent_writers_in_separate_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "outbox.jsonl")
    script = (
        "import sys\n"
        "from argus.notify.outbox import Outbox, make_item\n"
        "box = Outbox(sys.argv[1])\n"
        "for n in range(50):\n"
        "    box.add([make_item(f'{sys.argv[2]}-{n}', None, 'alert', 'ts')])\n"
        "    if n % 10 == 0:\n"
        "        with box.locked():\n"
        "            box.replace(box.pending())\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, path, f"w{w}"]) for w in range(4)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    texts = [i["text"] for i in Outbox(path).pending()]
    assert len(texts) == 200
    for w in range(4):  # each writer's own messages stay in its order
        assert [t for t in texts if t.startswith(f"w{w}-")] == [f"w{w}-{n}" for n in range(50)]
