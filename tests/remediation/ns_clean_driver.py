"""A full /tmp cleaned by one real ``argus run --once`` cycle, in private namespaces.

Not a test module: test_clean_cycle.py runs it inside ``unshare --mount --pid --fork``
after mounting a small tmpfs on /tmp, tmpfs over every other path the cleaner walks
(/var/tmp, /var/log, /root, /home), a tmpfs for Argus's state on /run, and remounting
/ read-only (the interpreter is bound back, read-only, where a tmpfs hid it).

It refuses to run unless all of that is verifiably in place, then fills /tmp past
``disk_crit`` with old files, adds fresh files and planted symlinks (old ones, to
/etc/passwd and to victim files in another tmpfs), runs one cycle with
``argus --config ... --state-dir /run/argus-state run --once --json`` and prints one
JSON object: what the cycle reported, the registry records, and the state of every
file the test cares about. ``ARGUS_NS_COVERED`` is a JSON list of the covered paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from typing import Any

from argus.act import disk
from argus.record.registry import iter_records

COVERED = tuple(json.loads(os.environ["ARGUS_NS_COVERED"]))
STATE = "/run/argus-state"
NOW = time.time()
OLD = NOW - 30 * 86400  # well past the default max_age_days (7)
BLOCK = 256 * 1024


def mounts() -> dict[str, tuple[str, list[str]]]:
    """mount point -> (fstype, mount options); a later mount over a path wins."""
    table = {}
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, right = line.split(" - ")
            fields = left.split()
            table[fields[4]] = (right.split()[0], fields[5].split(","))
    return table


def check_isolation() -> None:
    table = mounts()
    assert "ro" in table["/"][1], table["/"]
    assert all(table[m][0] == "tmpfs" for m in (*COVERED, "/run")), table
    for root in disk.safe_roots():
        assert any(root.path == m or root.path.startswith(m + "/") for m in COVERED), root


def pct(mount: str) -> float:
    st = os.statvfs(mount)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return 100.0 * used / (used + st.f_bavail * st.f_frsize)


def put(path: str, size: int = 100, mtime: float = OLD, data: bytes | None = None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data if data is not None else b"o" * size)
    os.utime(path, (mtime, mtime))


def link(target: str, path: str, mtime: float) -> None:
    os.symlink(target, path)
    os.utime(path, (mtime, mtime), follow_symlinks=False)


def sha(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def main() -> None:
    check_isolation()
    out: dict[str, Any] = {"tmp_size": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize}

    # Victims outside the cleaned places, old, so a cleaner that followed a link would
    # delete them: one in another tmpfs (/root here), and the real, read-only passwd.
    put("/root/victim/secret.txt", data=b"secret" * 100)
    put("/root/victim/dir/inner.txt", data=b"inner" * 100)
    for d in ("/root/victim/dir", "/root/victim"):
        os.utime(d, (OLD, OLD))
    targets = ["/root/victim/secret.txt", "/root/victim/dir/inner.txt", "/etc/passwd"]
    before = {t: sha(t) for t in targets}

    # Fresh files, and planted symlinks, old (the links themselves) and fresh.
    fresh = ["/tmp/fresh/notes.txt", "/tmp/new.bin"]
    for f in fresh:
        put(f, size=BLOCK, mtime=NOW)
    links = {"/tmp/old-link-passwd": "/etc/passwd",
             "/tmp/old-link-victim": "/root/victim/secret.txt",
             "/tmp/old-link-victim-dir": "/root/victim/dir",
             "/tmp/fresh-link-victim": "/root/victim/secret.txt"}
    for path, target in links.items():
        link(target, path, NOW if "fresh" in path else OLD)

    # Old files until /tmp is past disk_crit (90 %).
    n = 0
    try:
        while pct("/tmp") < 95:
            put(f"/tmp/old-build/d{n // 10}/f{n}.o", size=BLOCK)
            n += 1
    except OSError:
        pass  # full: fuller than it needs to be
    for d in [*sorted({f"/tmp/old-build/d{i // 10}" for i in range(n)}), "/tmp/old-build"]:
        os.utime(d, (OLD, OLD))
    out.update(old_files=n, before_pct=pct("/tmp"))

    # One cycle of the real command, as a timer would start it.
    os.makedirs(STATE)
    config = os.path.join(STATE, "argus.toml")
    with open(config, "w") as fh:
        fh.write(os.environ["ARGUS_NS_CONFIG"])
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "argus", "--config", config, "--state-dir", STATE,
         "run", "--once", "--json"],
        capture_output=True, text=True, timeout=60, check=False)
    out.update(rc=proc.returncode, stderr=proc.stderr[-3000:],
               seconds=time.monotonic() - started)
    try:
        out["report"] = json.loads(proc.stdout)
    except ValueError:
        out["report"] = None
        out["stdout"] = proc.stdout[-3000:]
    out.update(
        after_pct=pct("/tmp"),
        records=list(iter_records(os.path.join(STATE, "problems.jsonl"))),
        fresh={f: os.path.exists(f) for f in fresh},
        links={p: os.path.lexists(p) for p in links},
        targets_intact={t: os.path.exists(t) and sha(t) == before[t] for t in targets},
        old_build=os.path.lexists("/tmp/old-build"),
    )
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
