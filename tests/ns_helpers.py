"""Shell snippets for tests that cover host paths with tmpfs in a private namespace."""

from __future__ import annotations

import shlex


def keep_reachable(paths: list[str]) -> tuple[str, str]:
    """Bash (before, after) that keeps ``paths`` (the interpreter, a checkout under
    /tmp) visible, read-only, once their covering directory is a tmpfs: ``before``
    opens each, ``after`` binds it back from /proc/self/fd, read-only."""
    before, after = [], []
    for i, path in enumerate(paths):
        q = shlex.quote(path)
        before.append(f"exec {{keep{i}}}<{q}")
        after += [f"mkdir -p {q}",
                  f"mount --no-canonicalize --rbind /proc/self/fd/$keep{i} {q}",
                  f"mount -o remount,bind,ro {q}", f"exec {{keep{i}}}<&-"]
    return "\n".join(before), "\n".join(after)
