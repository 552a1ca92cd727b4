"""The registry's all-time tally for a long-running ``/metrics``, kept up to date by
reading only what was appended since the last scrape (analyze/tally.py counts)."""

from __future__ import annotations

import os
import threading

from argus.analyze.tally import Tally


class Follower:
    """The registry's all-time tally, reading only what was appended since the last
    :meth:`update` (for a long-running ``/metrics``: a scrape costs the new lines,
    not the whole file). A replaced or truncated file is read again from the start;
    a last line without its newline waits for the next update."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, ident: tuple[int, int] | None) -> None:
        self.tally, self.offset, self.ident = Tally(), 0, ident

    def update(self) -> Tally:
        """Read what was appended; returns a copy of the tally, so a caller building a
        document never sees it change under it (a threaded server's concurrent scrapes)."""
        with self._lock:
            try:
                fh = open(self.path, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                self._reset(None)
                return self.tally.copy()
            with fh:
                st = os.fstat(fh.fileno())
                if (st.st_dev, st.st_ino) != self.ident or st.st_size < self.offset:
                    self._reset((st.st_dev, st.st_ino))
                fh.seek(self.offset)
                self.offset += self.tally.scan(fh, None, final=False)
            return self.tally.copy()
