"""Escalation to humans: beads for the problems that need a person, Relay events.

``escalate`` runs once per cycle, after the actions and before the records are
appended to the registry (cycle.py). For each problem key of this cycle:

- **A bead is created** (after a lookup, never a second open one per key) when
  - a host action (restart, kill, clean) was attempted and failed; an alert that
    Telegram did not take is not such a failure: the outbox retries it;
  - a restart loop hit its cooldown (``details.restart_loop``);
  - the key was seen in ``RECUR_AFTER`` (3) or more episodes in 24 h, counted
    from the dedup state's ``episodes``, never by rescanning the registry;
  - the problem has no automatic remedy and a person was alerted about it: an
    alert without any host action this cycle, i.e. a critical problem, or a
    warning the policy escalated after three cycles. Plain logged observations
    get no bead.
- **A comment** is added to an open bead when something new happened: a new
  episode ("seen again at ..., 5th time in 24 h"), a failed action, a restart
  loop, an escalation to critical. At most one per ``dedup.window`` per bead (a
  restart loop always, it is rate-limited by the restart cooldown itself), so a
  problem that flaps every cycle does not write a comment every 5 minutes.
- **The bead is closed** once the problem has stayed resolved for
  ``beads.close_after`` seconds, when ``beads.auto_close``.
- ``bead_id`` is set on every record whose key has an open bead, the record that
  caused its creation and the ``resolved`` record included.
- **Relay** gets ``argus.problem`` for each new critical problem (once per episode)
  and each restart loop, and ``argus.resolved`` when a problem Relay was told
  about, or that has a bead, resolves (notify/relay.py).

State: ``<state_dir>/beads.json`` (atomic JSON) maps each key to its open bead, so
a ``bd list`` lookup is only needed before a creation; the file is removed when
empty, so a quiet cycle does not even import this module. Nothing here raises:
a bd failure is logged and written to the affected records' ``details.bead_error``.
"""

from __future__ import annotations

import os

from argus.act.guard import HOST_ACTIONS
from argus.context import Context
from argus.logs import get_logger
from argus.model import Problem
from argus.record.dedup import RANK, DedupState, Resolution
from argus.tickets.ledger import EscalationState, locked, state_path
from argus.timefmt import iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.tickets.beads import BdClient, BeadsError

log = get_logger("argus.tickets")

DAY_S = 24 * 3600
RECUR_AFTER = 3  # episodes in 24 h that make a problem "recurring" (the roadmap's 3)
MAX_CREATES = 10  # new beads per cycle: a host in flames must not flood the tracker
LABEL = "argus"
# bd priorities run 0 (drop everything) to 4 (backlog). A watchdog does not claim
# P0 for itself: critical is P1, so a person can still put something above it.
PRIORITY = {"critical": 1, "warning": 2, "info": 3}


def marker(key: str) -> str:
    """The last line of every bead Argus writes: what finds it again."""
    return f"Problem key: {key}"


def escalate(ctx: Context, records: list[dict[str, Any]], problems: dict[str, Problem],
             dedup: DedupState, resolutions: list[Resolution], now: float) -> None:
    """Create, comment on and close beads; set ``bead_id``; publish Relay events.

    ``records``: this cycle's registry records (mutated: ``bead_id``,
    ``details.bead_error``); ``problems``: this cycle's problems by key; ``dedup``:
    the state after this cycle's observations and resolutions; ``now``: epoch s.
    """
    try:
        Escalation(ctx, records, problems, dedup, resolutions, now).run()
    except Exception:  # escalation is a service to people, never a reason to fail
        log.exception("escalation failed; the cycle goes on")


class Escalation:
    """One cycle's escalation work; ``run`` does it all."""

    def __init__(self, ctx: Context, records: list[dict[str, Any]],
                 problems: dict[str, Problem], dedup: DedupState,
                 resolutions: list[Resolution], now: float) -> None:
        self.ctx = ctx
        self.records = records
        self.problems = problems
        self.dedup = dedup
        self.resolutions = resolutions
        self.now = now
        self.by_key: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            if record.get("key"):
                if not isinstance(record.get("details"), dict):
                    record["details"] = {}
                self.by_key.setdefault(str(record["key"]), []).append(record)
        self._client: BdClient | None = None
        self._checked = False
        self.skip_reason: str | None = None  # bd not usable at all this cycle
        self.skipped = 0  # bead actions not done because of skip_reason
        self.down: str | None = None  # bd went missing or hung mid-cycle
        self.created = 0

    def run(self) -> None:
        # One escalation at a time per state dir (the daemon and a one-shot run may
        # overlap): the lookup-then-create below must not race with another's.
        with locked(state_path(self.ctx)):
            self._run()

    def _run(self) -> None:
        st = EscalationState(state_path(self.ctx))
        if st.problem:
            log.warning("%s", st.problem)
        self._track_resolution(st)
        for key, recs in self.by_key.items():
            problem = self.problems.get(key)
            if problem is not None:
                self._bead_for(st, key, problem, recs)
        for key, recs in self.by_key.items():
            entry = st.beads.get(key)
            if entry is not None:
                for record in recs:
                    record["bead_id"] = entry["id"]
        self._close_due(st)
        self._relay(st)
        if self.skipped:
            log.info("beads: %s; %d bead action(s) skipped this cycle", self.skip_reason,
                     self.skipped)
        try:
            st.save()
        except OSError as err:
            log.error("cannot write %s: %s", st.path, err.strerror or err)

    # --- bd -----------------------------------------------------------------------

    def client(self) -> BdClient | None:
        """The bd client, or None (with ``skip_reason``) when beads are off or bd is absent."""
        if not self._checked:
            self._checked = True
            cfg = self.ctx.config.beads
            if not cfg.enabled:
                self.skip_reason = "beads.enabled = false"
            else:
                import shutil

                path = shutil.which("bd")
                if path is None:
                    self.skip_reason = "bd is not on PATH"
                else:
                    from argus.tickets.beads import BdClient

                    workdir = os.path.expanduser(cfg.workdir) if cfg.workdir else ""
                    self._client = BdClient(path, self.ctx.run, cfg.timeout, workdir)
        if self._client is None:
            self.skipped += 1
        return self._client

    def _usable(self, recs: list[dict[str, Any]]) -> BdClient | None:
        """The client if bd may be called now; else note why on ``recs``."""
        client = self.client()
        if client is not None and self.down:
            self._note_error(recs, f"bd not called: {self.down} earlier this cycle")
            return None
        return client

    def _fail(self, key: str, recs: list[dict[str, Any]], what: str, err: BeadsError) -> None:
        message = f"{what}: {err}"
        log.warning("beads: %s: %s", key, message)
        self._note_error(recs, message)
        if err.unavailable:
            self.down = str(err)

    @staticmethod
    def _note_error(recs: list[dict[str, Any]], message: str) -> None:
        for record in recs:
            record["details"]["bead_error"] = message

    # --- policy -------------------------------------------------------------------

    def episodes(self, key: str) -> int:
        """Episodes of ``key`` that started in the last 24 h (dedup.json's ``episodes``)."""
        times = self.dedup.entries.get(key, {}).get("episodes") or []
        return max(1, sum(1 for t in times if isinstance(t, (int, float))
                          and self.now - t < DAY_S))

    def reasons(self, key: str, recs: list[dict[str, Any]]) -> list[str]:
        """Why this cycle's problem ``key`` needs a bead; [] when it does not."""
        why: list[str] = []
        kinds = [str(r.get("action_taken") or "").split(":")[0] for r in recs]
        for kind, record in zip(kinds, recs, strict=True):
            if kind in HOST_ACTIONS and record.get("action_result") == "failure":
                why.append(f"{record['action_taken']} failed")
            if record["details"].get("restart_loop"):
                why.append("restart loop: backoff exhausted, cooling down")
        n = self.episodes(key)
        if n >= RECUR_AFTER:
            why.append(f"seen {n} times in 24 h")
        if "alert" in kinds and not any(k in HOST_ACTIONS for k in kinds):
            why.append("no automatic remediation: a person was alerted")
        return why

    def _bead_for(self, st: EscalationState, key: str, problem: Problem,
                  recs: list[dict[str, Any]]) -> None:
        entry = st.beads.get(key)
        if entry is not None:
            lines = self._news(key, problem, recs, entry)
            loop = any(r["details"].get("restart_loop") for r in recs)
            noted = float(entry.get("noted_at") or 0)
            if lines and (loop or self.now - noted >= self.ctx.config.dedup.window):
                self._comment(st, key, entry, recs, lines)
            return
        reasons = self.reasons(key, recs)
        if reasons:
            self._open(st, key, problem, recs, reasons)

    def _news(self, key: str, problem: Problem, recs: list[dict[str, Any]],
              entry: dict[str, Any]) -> list[str]:
        """What a comment on ``key``'s open bead would say; [] when nothing is new."""
        from argus.tickets.report import action_lines, ordinal

        n = self.episodes(key)
        started = self.dedup.entries.get(key, {}).get("first_seen")
        lines = action_lines(recs)
        if RANK.get(problem.severity, 0) > RANK.get(str(entry.get("severity")), 0):
            lines.insert(0, f"now {problem.severity}: {problem.description}")
        if started is not None and started != entry.get("episode"):
            return [f"seen again at {iso(float(started))}, {ordinal(n)} time in 24 h: "
                    f"{problem.description}", *lines]
        if lines:
            since = f" since {iso(float(started))}" if started is not None else ""
            return [f"at {iso(self.now)}, still present{since}:", *lines]
        return []

    def _comment(self, st: EscalationState, key: str, entry: dict[str, Any],
                 recs: list[dict[str, Any]], lines: list[str]) -> None:
        client = self._usable(recs)
        if client is None:
            return
        try:
            client.comment(entry["id"], "\n".join(lines))
        except Exception as err:
            self._fail(key, recs, f"comment on {entry['id']}", _as_beads_error(err))
            return
        problem = self.problems[key]
        entry.update(noted_at=self.now, episode=self.dedup.entries.get(key, {}).get("first_seen"))
        if RANK.get(problem.severity, 0) > RANK.get(str(entry.get("severity")), 0):
            entry["severity"] = problem.severity

    def _open(self, st: EscalationState, key: str, problem: Problem,
              recs: list[dict[str, Any]], reasons: list[str]) -> None:
        """Find this key's open bead (adopt it, with a comment) or create one."""
        from argus.tickets.beads import valid_id
        from argus.tickets.report import bead_body, bead_title

        client = self._usable(recs)
        if client is None:
            return
        try:
            found = client.find_open(marker(key), LABEL)
        except Exception as err:
            self._fail(key, recs, "lookup", _as_beads_error(err))
            return  # never create blind: that is how duplicates happen
        entry = {"id": "", "created_at": self.now, "noted_at": None, "episode": None,
                 "severity": problem.severity, "resolved_at": None}
        usable = [b for b in found if valid_id(b.id)]
        if usable:
            entry["id"] = usable[0].id
            st.beads[key] = entry
            log.info("beads: %s already has open bead %s; adopted", key, entry["id"])
            self._comment(st, key, entry, recs, [*self._news(key, problem, recs, entry),
                                                 *(f"- {r}" for r in reasons)])
            return
        if found:
            self._note_error(recs, "an open bead for this key has an invalid id "
                                   f"({found[0].id[:40]!r}); not creating another")
            return
        if self.created >= MAX_CREATES:
            self._note_error(recs, f"not created: at most {MAX_CREATES} new beads per cycle")
            return
        started = self.dedup.entries.get(key, {}).get("first_seen")
        try:
            self.created += 1
            entry["id"] = client.create(
                bead_title(problem),
                bead_body(self.ctx, problem, recs, reasons, self.episodes(key), started),
                PRIORITY.get(problem.severity, 2), [LABEL, problem.type])
        except Exception as err:
            self._fail(key, recs, "create", _as_beads_error(err))
            return
        entry.update(noted_at=self.now, episode=started)
        st.beads[key] = entry
        log.info("beads: created %s for %s (%s)", entry["id"], key, "; ".join(reasons))

    # --- resolution and closing ---------------------------------------------------

    def _track_resolution(self, st: EscalationState) -> None:
        """``resolved_at`` of each bead's problem: when dedup resolved it (this cycle's
        resolutions included), None while it is active, even if unseen this cycle
        because its collector failed (absence proves nothing then)."""
        for key, entry in st.beads.items():
            known = self.dedup.entries.get(key) or {}
            if key in self.problems or known.get("active"):
                entry["resolved_at"] = None
            elif entry.get("resolved_at") is None:
                # dedup forgets a key 24 h after it was last seen: long gone, then
                entry["resolved_at"] = float(known.get("resolved_at") or self.now)

    def _close_due(self, st: EscalationState) -> None:
        cfg = self.ctx.config.beads
        for key, entry in list(st.beads.items()):
            resolved_at = entry.get("resolved_at")
            if resolved_at is None:
                continue
            held = self.now - float(resolved_at)
            if not cfg.auto_close:
                if held >= DAY_S:
                    del st.beads[key]  # a person closes it; a recurrence looks it up again
                continue
            if held < cfg.close_after:
                continue
            client = self._usable([])
            if client is None:
                continue
            reason = (f"Resolved: not seen since {iso(float(resolved_at))}, {int(held)} s ago "
                      f"(beads.close_after {cfg.close_after} s). Closed by Argus.")
            try:
                client.close(entry["id"], reason)
            except Exception as err:
                self._close_failed(st, key, entry, _as_beads_error(err))
                continue
            del st.beads[key]
            log.info("beads: closed %s for %s (resolved %d s ago)", entry["id"], key, held)

    def _close_failed(self, st: EscalationState, key: str, entry: dict[str, Any],
                      err: BeadsError) -> None:
        """A close that failed: if the bead is no longer open (a person closed it),
        forget it; otherwise keep it and try again next cycle."""
        log.warning("beads: closing %s for %s: %s", entry["id"], key, err)
        if err.unavailable:
            self.down = str(err)
            return
        client = self._usable([])
        if client is None:
            return
        try:
            still_open = any(b.id == entry["id"] for b in client.find_open(marker(key), LABEL))
        except Exception as lookup_err:
            log.warning("beads: lookup after a failed close: %s", lookup_err)
            return
        if not still_open:
            log.info("beads: %s is no longer open; forgotten", entry["id"])
            del st.beads[key]

    # --- relay --------------------------------------------------------------------

    def _relay(self, st: EscalationState) -> None:
        from argus.notify.relay import publish, select_events

        events = select_events(self.records, self.problems, self.dedup.entries, st.published)
        if events:
            publish(self.ctx.config.relay, self.ctx.run, self.ctx.paths.state_dir, events)


def _as_beads_error(err: Exception) -> BeadsError:
    """bd failures are BeadsError; anything else (a bug, an OSError) is wrapped."""
    from argus.tickets.beads import BeadsError

    if isinstance(err, BeadsError):
        return err
    return BeadsError(f"{type(err).__name__}: {err}")
