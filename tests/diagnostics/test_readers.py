"""The small readers and converters under the diagnostics, case by case."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from diag_helpers import config

from argus.collect import vmstat
from argus.collect.memdiag import kib_field, majflt
from argus.collect.units_memory import cgroup_label
from argus.errors import ConfigError
from argus.record.history_schema import pack, unpack


@pytest.mark.parametrize(("path", "label"), [
    ("/system.slice/nginx.service", "nginx.service"),
    ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "foo.service"),
    ("/user.slice/user-1000.slice/session-3.scope", "session-3.scope"),
    ("/system.slice/docker-3f4e5a6b7c8d9e0f.scope", "docker-3f4e5a6b7c8d9e0f.scope"),
    ("/docker/" + "3f4e5a6b7c8d" * 5 + "abcd", "container:3f4e5a6b7c8d"),
    ("/kubepods/burstable/pod1234/" + "0a1b2c3d4e5f" * 5 + "6789", "container:0a1b2c3d4e5f"),
    ("/lxc/web01", "container:web01"),
    ("/user.slice", None),
    ("/", None),
])
def test_cgroup_paths_name_their_unit_or_container(path: str, label: str | None) -> None:
    assert cgroup_label(path) == label


def test_kib_fields_are_bytes_and_names_are_whole() -> None:
    status = b"Name:\tx\nVmRSS:\t  2048 kB\nVmSwap:\t 10 kB\nSwapPss:\t99 kB\n"
    assert kib_field(status, b"VmRSS") == 2 * 1024 * 1024
    assert kib_field(status, b"VmSwap") == 10 * 1024
    assert kib_field(b"Swap:  5 kB\nSwapPss: 7 kB\n", b"Swap") == 5 * 1024
    assert kib_field(status, b"VmHWM") is None


def test_major_faults_are_read_after_a_hostile_comm(tmp_path: Path) -> None:
    root = tmp_path
    (root / "77").mkdir()
    # comm may hold ") (" and spaces: fields are counted from the last ')' (proc(5)).
    (root / "77" / "stat").write_text(
        "77 (a) (b c) S 1 77 77 0 -1 0 10 0 4242 0 5 6 0 0 20 0 1 0 9999 100 10\n")
    assert majflt(str(root), 77) == (9999, 4242)
    assert majflt(str(root), 78) is None


def test_a_previous_sample_from_another_boot_or_the_future_is_not_used() -> None:
    counters = {"pswpin": 10, "pswpout": 10, "pgmajfault": 10}
    prev = {"t": 1000.0, "boot_id": "a", "pswpin": 5, "pswpout": 5, "pgmajfault": 5}
    assert vmstat.usable_previous(prev, counters, "a", 1300.0, 960)
    assert not vmstat.usable_previous(prev, counters, "b", 1300.0, 960)  # rebooted
    assert not vmstat.usable_previous(prev, counters, "a", 900.0, 960)  # clock went back
    assert not vmstat.usable_previous(prev, counters, "a", 3000.0, 960)  # too old
    fell = {**counters, "pswpin": 1}  # a counter went down: a reboot without boot_id
    assert not vmstat.usable_previous(prev, fell, None, 1300.0, 960)
    assert not vmstat.usable_previous({"t": "x"}, counters, "a", 1300.0, 960)


def test_rates_are_pages_per_second_in_mib() -> None:
    prev = {"t": 1000.0, "boot_id": None, "pswpin": 0, "pswpout": 0, "pgmajfault": 0,
            "swap_io_mb_s": 3.0, "pressure": {"memory": {"full_avg60": 12.0}}}
    counters = {"pswpin": 76_800, "pswpout": 25_600, "pgmajfault": 3_000}
    info, sample = vmstat.advance(counters, prev, None, now=1300.0, boot_id=None,
                                  swappiness=60, max_age_s=960, page_size=4096)
    assert (info.swap_in_mb_s, info.swap_out_mb_s, info.majfault_per_s) == (1.0, 1.0 / 3, 10.0)
    assert info.previous == {"swap_io_mb_s": 3.0, "pressure": {"memory": {"full_avg60": 12.0}},
                             "age_s": 300.0}
    assert sample["swap_io_mb_s"] == pytest.approx(4.0 / 3)
    assert sample["t"] == 1300.0 and sample["pswpin"] == 76_800


def test_history_pairs_are_little_endian_uint32_and_float32() -> None:
    pairs = [(1, 2.5), (70_000, 1e9), (3, 21.97)]
    blob = pack(pairs)
    assert blob == b"".join(struct.pack("<If", i, v) for i, v in pairs)
    assert [(i, round(v, 2)) for i, v in unpack(blob)] == [(1, 2.5), (70_000, 1e9), (3, 21.97)]
    assert pack([]) == b"" and unpack(None) == []


def test_the_new_thresholds_have_defaults_and_are_validated() -> None:
    t = config().thresholds
    assert (t.psi_memory_full_warn, t.psi_cpu_warn, t.psi_io_warn) == (10.0, 50.0, 30.0)
    assert config({"thresholds": {"psi_cpu_warn": 65.5}}).thresholds.psi_cpu_warn == 65.5
    with pytest.raises(ConfigError, match=r"thresholds\.psi_io_warn: must be a percentage"):
        config({"thresholds": {"psi_io_warn": 130}})
    with pytest.raises(ConfigError, match=r"thresholds\.psi_memory_full_warn: expected a number"):
        config({"thresholds": {"psi_memory_full_warn": "10"}})


def test_hostile_process_names_reach_the_alert_text_defused() -> None:
    from argus.detect.hogs import hog_text
    from argus.model_diagnostics import HogInfo

    evil = HogInfo(7, "\x1b]0;pwned\x07x\ny\u202e", 2**30, 12.5, 60.0, "root",
                   "a\x1b[2Jb.service")
    text = hog_text(evil)
    assert not any(c in text for c in "\x1b\x07\n\u202e")
    assert text.startswith("x?y? pid 7 1.0 GB (12% of RAM), up 1m, user root [ab.service]")


@pytest.mark.parametrize(("path", "unit_dir"), [
    ("/system.slice/nginx.service", "system.slice/nginx.service"),
    ("/system.slice/docker.service/delegated/sub", "system.slice/docker.service"),
    ("/user.slice/user-0.slice/user@0.service/app.slice/foo.service",
     "user.slice/user-0.slice/user@0.service/app.slice/foo.service"),
    ("/user.slice/user-0.slice", None),
])
def test_a_process_cgroup_maps_to_its_units_directory(path: str, unit_dir: str | None) -> None:
    from argus.collect.units_memory import _unit_dir

    assert _unit_dir("/cg", path) == (None if unit_dir is None else f"/cg/{unit_dir}")
