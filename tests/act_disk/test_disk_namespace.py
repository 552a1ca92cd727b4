"""clean_disk against real mounts, each run in a private mount + PID namespace.

The end-to-end test runs the public clean_disk with the hard-coded safe list, so
everything it can reach (/tmp, /var/tmp, /var/log, /root, /home) is a fresh tmpfs
of the namespace, / is remounted read-only there, and the child refuses to start
the cleaner unless all of that is verifiably in place.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from disk_helpers import RunNs, Victim, digest, make_file
from ns_helpers import keep_reachable

MOUNT_CHILD = r"""
import json, os, time
from argus.act.disk import CleanRoot, clean_disk
root = %(root)r
inner = root + "/tmpfs-mnt"
old = time.time() - 30 * 86400
os.makedirs(inner + "/d")
for p in (inner + "/f", inner + "/d/g"):
    with open(p, "w") as fh:
        fh.write("on another filesystem")
for p in (inner + "/f", inner + "/d/g", inner + "/d", inner, root + "/bind-victim"):
    os.utime(p, (old, old))
result = clean_disk(7, time.time(), roots=(CleanRoot(root),))
print(json.dumps({"result": result._asdict(),
                  "inner": sorted(os.listdir(inner)), "inner_d": os.listdir(inner + "/d")}))
"""


@pytest.mark.root
def test_other_mounts_inside_the_root_are_not_crossed(
        run_in_namespace: RunNs, root_dir: Path, victim: Victim) -> None:
    make_file(root_dir / "outside-old")
    (root_dir / "tmpfs-mnt").mkdir()
    (root_dir / "bind-victim").mkdir()
    r, v = shlex.quote(str(root_dir)), shlex.quote(str(victim.dir))
    setup = (f"mount -t tmpfs -o size=4m tmpfs {r}/tmpfs-mnt\n"
             # A bind mount is the same filesystem (same st_dev): only the mount id differs.
             f"mount --bind {v} {r}/bind-victim\n")
    proc = run_in_namespace(setup, MOUNT_CHILD % {"root": str(root_dir)})
    out = json.loads(proc.stdout)
    assert out["inner"] == ["d", "f"] and out["inner_d"] == ["g"]
    assert out["result"]["files_removed"] == 1 and out["result"]["errors"] == []
    assert out["result"]["skipped"] == 2  # the tmpfs mount point and the bind mount
    assert not (root_dir / "outside-old").exists()
    victim.assert_intact()


# The cleaner can reach these, and nothing else; each gets a tmpfs in the namespace.
COVERED = ("/tmp", "/var/tmp", "/var/log", "/root", "/home")

E2E_CHILD = r"""
import hashlib, json, os, socket, stat, time
from argus.act import disk

COVERED = %(covered)r
# 1. Refuse to run unless every root the cleaner will walk is on a tmpfs of this
#    namespace and / is read-only here.
mounts = {}
with open("/proc/self/mountinfo") as fh:
    for line in fh:  # later lines mount over earlier ones: the last one wins
        left, right = line.split(" - ")
        fields = left.split()
        mounts[fields[4]] = (right.split()[0], fields[5].split(","))
assert "ro" in mounts["/"][1], mounts["/"]
assert all(mounts[m][0] == "tmpfs" for m in COVERED), mounts
for r in disk.safe_roots():
    assert any(r.path == m or r.path.startswith(m + "/") for m in COVERED), r.path

NOW = time.time()
OLD = NOW - 30 * 86400

def put(path, size=100, mtime=OLD, data=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data if data is not None else b"o" * size)
    os.utime(path, (mtime, mtime))

def link(target, path, mtime):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)
    os.utime(path, (mtime, mtime), follow_symlinks=False)

def pct(mount):
    st = os.statvfs(mount)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return 100.0 * used / (used + st.f_bavail * st.f_frsize)

def sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()

# 2. Victims outside the cleaned places: old, so a cleaner that followed a link would
#    delete them. /root/victim is a tmpfs here; /etc/passwd is the real, read-only one.
put("/root/victim/secret.txt", data=b"secret" * 100)
put("/root/victim/dir/inner.txt", data=b"inner" * 100)
put("/root/victim/pip/cached.whl", data=b"wheel" * 100)
put("/var/tmp/victim/keep.txt", data=b"keep" * 100, mtime=NOW)
targets = ["/root/victim/secret.txt", "/root/victim/dir/inner.txt",
           "/root/victim/pip/cached.whl", "/var/tmp/victim/keep.txt", "/etc/passwd"]
before = {t: sha(t) for t in targets}
for d in ("/root/victim/dir", "/root/victim/pip", "/root/victim"):
    os.utime(d, (OLD, OLD))

# 3. Fresh files, planted symlinks (old and fresh, files and directories), live things.
fresh = ["/tmp/session/notes.txt", "/tmp/new.bin", "/var/tmp/fresh.txt"]
for f in fresh:
    put(f, size=256 * 1024, mtime=NOW)
links = []
for i, target in enumerate(["/root/victim/secret.txt", "/root/victim", "/root/victim/dir",
                            "/etc/passwd", "/etc", "/var/tmp/victim/keep.txt",
                            "/var/tmp/victim"]):
    for where in ("/tmp", "/tmp/old-build/links", "/var/tmp"):
        for when, mtime in (("old", OLD), ("fresh", NOW)):
            links.append(f"{where}/link-{i}-{when}")
            link(target, links[-1], mtime)
link("/root/victim/secret.txt", "/var/log/evil.log.1.gz", OLD)  # looks rotated: a link
os.makedirs("/home/cloudsdk")
link("/root/victim", "/home/cloudsdk/.cache", OLD)  # a user's ~/.cache pointing away
os.mkfifo("/tmp/old-fifo")
os.makedirs("/tmp/tmux-0")
sock = socket.socket(socket.AF_UNIX)
sock.bind("/tmp/tmux-0/default")
put("/tmp/.X11-unix/X0")
put("/var/tmp/systemd-private-abc-chronyd.service-x/tmp/state")
for p in ("/tmp/old-fifo", "/tmp/tmux-0/default", "/tmp/tmux-0"):
    os.utime(p, (OLD, OLD))

# 4. What should go: old files filling /tmp past 90 percent, old rotated logs, old junk.
logs_gone = ["/var/log/app.log.1.gz", "/var/log/nginx/access.log.12.gz"]
logs_kept = ["/var/log/app.log", "/var/log/app.log.1", "/var/log/syslog",
             "/var/log/syslog.2.gz"]
for f in logs_gone + logs_kept + ["/var/tmp/old.tar"]:
    put(f, size=4096)
n = 0
try:
    while pct("/tmp") < 95:
        put(f"/tmp/old-build/d{n // 20}/f{n}.o", size=256 * 1024)
        n += 1
except OSError:
    pass  # the tmpfs is full: fuller than it needs to be
for d in sorted({f"/tmp/old-build/d{i // 20}" for i in range(n)}) + [
        "/tmp/old-build/links", "/tmp/old-build"]:
    os.utime(d, (OLD, OLD))
before_pct = pct("/tmp")

# 5. One run of the public entry point, with the hard-coded safe list.
result = disk.clean_disk(7, time.time())
print(json.dumps({
    "before_pct": before_pct, "after_pct": pct("/tmp"), "old_files": n,
    "result": result._asdict(),
    "targets_intact": {t: os.path.exists(t) and sha(t) == before[t] for t in targets},
    "fresh": {f: os.path.exists(f) for f in fresh},
    "links": {p: os.path.lexists(p) for p in links},
    "logs_gone": {f: os.path.exists(f) for f in logs_gone},
    "logs_kept": {f: os.path.exists(f) for f in logs_kept + ["/var/log/evil.log.1.gz"]},
    "live": {p: os.path.lexists(p) for p in (
        "/tmp/old-fifo", "/tmp/tmux-0/default", "/tmp/.X11-unix/X0",
        "/var/tmp/systemd-private-abc-chronyd.service-x/tmp/state",
        "/home/cloudsdk/.cache")},
    "old_build": os.path.lexists("/tmp/old-build/d0"),
    "var_tmp_old": os.path.exists("/var/tmp/old.tar"),
}))
"""


@pytest.mark.root
def test_end_to_end_full_tmp_is_cleaned_and_nothing_else(run_in_namespace: RunNs) -> None:
    def covered(path: str) -> str | None:
        return next((m for m in COVERED if path == m or path.startswith(m + "/")), None)

    # The interpreter and the argus sources must stay reachable.
    needed = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix,
                                            str(Path(__file__).parents[2] / "src"))}
    keep = sorted(p for p in needed if covered(p))
    # A checkout under /tmp (CI may clone there) is bound back read-only over the new
    # tmpfs: a separate mount, which the cleaner never enters, and read-only anyway.
    open_fds, rebind = keep_reachable(keep)
    setup = "\n".join([
        open_fds,
        "mount -t tmpfs -o size=20m,mode=1777 tmpfs /tmp",
        *(f"mount -t tmpfs -o size=8m tmpfs {m}" for m in COVERED[1:]),
        rebind,
        # Per-mount flag only (MS_REMOUNT|MS_BIND): the host's / stays read-write.
        "mount -o remount,bind,ro /",
    ])
    passwd = digest(Path("/etc/passwd"))
    proc = run_in_namespace(setup, E2E_CHILD % {"covered": COVERED})
    out = json.loads(proc.stdout)
    result = out["result"]

    assert out["before_pct"] >= 90 and out["old_files"] > 50
    assert out["after_pct"] < 90, out
    assert result["errors"] == [] and not result["timed_out"]
    assert result["bytes_reclaimed"] >= out["old_files"] * 256 * 1024
    assert all(out["targets_intact"].values()), out["targets_intact"]
    assert all(out["fresh"].values()), out["fresh"]
    assert all(out["logs_kept"].values()) and not any(out["logs_gone"].values())
    assert all(out["live"].values()), out["live"]
    assert not out["old_build"] and not out["var_tmp_old"]
    # Old links went (the link itself, never its target); fresh ones stayed.
    assert {p: e for p, e in out["links"].items() if e != p.endswith("-fresh")} == {}
    assert digest(Path("/etc/passwd")) == passwd
