"""``<state_dir>/beads.json``: what escalation remembers between cycles.

- ``beads``: problem key -> its open bead: ``id``, ``created_at``, ``noted_at``
  (last creation or comment), ``episode`` (dedup ``first_seen`` of the episode
  last noted), ``severity`` (highest noted) and ``resolved_at`` (epoch seconds, or
  None while the problem is there). With it, ``bd list`` is only needed before a
  creation.
- ``published``: problem key -> start of the episode last published to Relay as
  ``argus.problem``, so a critical problem is published once per episode.

Written atomically (record/state.py) only when changed, and removed when empty:
cycle.py looks for the file to decide whether a quiet cycle has a bead to close.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator

from argus.context import Context
from argus.record import state
from argus.tickets.beads import valid_id
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

STATE_NAME = "beads.json"


def state_path(ctx: Context) -> str:
    return os.path.join(ctx.paths.state_dir, STATE_NAME)


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` (a sidecar whose inode never
    changes, unlike the state file that ``os.replace`` swaps; see notify/outbox.py)."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class EscalationState:
    """``beads.json``: ``beads`` (key -> open bead) and ``published`` (key -> start of
    the episode last published to Relay as a problem)."""

    def __init__(self, path: str) -> None:
        self.path = path
        data, self.problem = state.read_json(path, {"version": 1, "beads": {}, "published": {}})
        beads, published = data.get("beads"), data.get("published")
        self.beads: dict[str, dict[str, Any]] = {
            k: v for k, v in (beads if isinstance(beads, dict) else {}).items()
            if isinstance(v, dict) and valid_id(v.get("id"))}
        self.published: dict[str, float] = {
            k: v for k, v in (published if isinstance(published, dict) else {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
        self._loaded = self._dump() if self.problem is None else None

    def _dump(self) -> tuple[str, str]:
        return (json.dumps(self.beads, sort_keys=True), json.dumps(self.published, sort_keys=True))

    def save(self) -> None:
        """Write when changed; remove the file when it holds nothing."""
        if self._dump() == self._loaded:
            return
        if not self.beads and not self.published:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return
        state.write_json(self.path, {"version": 1, "beads": self.beads,
                                     "published": self.published})
