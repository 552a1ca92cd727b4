"""The deterministic policy: what Argus does about each problem with no LLM at all.

- a failed or stopped watched unit in ``services.restart_allowed`` is restarted
  (the guard applies the backoff); one that is not allowlisted is alerted;
- a confirmed orphan (see detect/orphans.py) is killed;
- a memory hog is killed only when ``memory.kill_hog_at`` is set (off by default),
  memory is at or above it and the top hog matches ``processes.kill_allowed``; it is
  always alerted with the kill's result;
- a disk above ``disk_crit`` whose mount holds the cleaner's safe list is cleaned,
  then alerted with its usage before and after;
- other critical problems are alerted;
- warnings are logged as observations, and the same observation three cycles in a
  row is no passing spike: it escalates to an alert.

What a remediation could not fix is alerted by the cycle afterwards (see
``follow_up``). The guard checks every action again, so this module only says what
it wants, never how it is done.
"""

from __future__ import annotations

from argus.config import Config
from argus.model import Action, ActionOutcome, Problem, Snapshot
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

ESCALATE_AFTER = 3  # consecutive cycles before a logged observation becomes an alert
RESTARTABLE_STATES = ("failed", "inactive")
# Where the disk cleaner works (act/disk.py); a full disk elsewhere cannot be helped
# by it, so it is only alerted.
CLEANED_PATHS = ("/tmp", "/var/tmp", "/var/log", "/root", "/home")


def decide(problems: list[Problem], entries: dict[str, dict[str, Any]], snapshot: Snapshot,
           config: Config) -> list[Action]:
    actions: list[Action] = []
    cleanable = _cleanable_mounts(snapshot)
    for problem in problems:
        remedy = _remedy(problem, snapshot, config, cleanable)
        if remedy is not None:
            actions.append(remedy)
            if _is_hog_kill(problem, remedy):
                # A person is always told what was killed for memory (the alert text
                # carries the kill's result, which runs first).
                actions.append(Action("alert", None, "memory hog kill", "rules",
                                      problem.key, problem.description))
                continue
            if remedy.type != "clean_disk":
                continue  # alerted afterwards only if the remedy fails (follow_up)
        actions.append(_notify(problem, entries))
    return actions


def follow_up(problem: Problem, outcome: ActionOutcome) -> Action | None:
    """An alert for what a remediation could not fix (or a restart loop), or for a
    critical problem a dry run left as it was."""
    if outcome.action.type == "clean_disk" or _is_hog_kill(problem, outcome.action):
        return None  # decide() alerts these itself: one message, not two
    if outcome.details.get("restart_loop"):
        reason = "restart loop: backoff exhausted, cooling down"
    elif outcome.result == "failure":
        reason = f"{outcome.action.type} failed"
    elif outcome.result == "skipped" and outcome.details.get("refused"):
        # The guard or a rate limit stopped the remedy: nobody fixed it, say so.
        reason = f"{outcome.action.type} refused: {outcome.details['refused']}"
    elif outcome.result == "dry_run" and problem.severity == "critical":
        # Nothing was fixed: without this, a dry run would tell nobody about a failed
        # allowlisted unit, the very problem it decided needed acting on.
        reason = f"{outcome.action.type} not done: dry run"
    else:
        return None
    return Action("alert", None, reason, "rules", problem.key, problem.description)


def _remedy(problem: Problem, snapshot: Snapshot, config: Config,
            cleanable: set[str]) -> Action | None:
    subject = problem.subject
    if subject.startswith("service:"):
        unit = subject.split(":", 1)[1]
        if (unit in config.services.restart_allowed
                and problem.details.get("active_state") in RESTARTABLE_STATES):
            return Action("restart_service", unit, f"{unit} is "
                          f"{problem.details.get('active_state')}", "rules", problem.key)
    elif subject.startswith("orphan:"):
        return Action("kill_pid", str(problem.details["pid"]),
                      f"orphaned process seen {problem.details.get('sightings')} cycles in a "
                      "row", "deterministic", problem.key)
    elif (problem.type == "disk" and problem.severity == "critical"
          and problem.details.get("mount") in cleanable):
        return Action("clean_disk", None, f"{problem.details.get('mount')} is above disk_crit",
                      "rules", problem.key)
    elif problem.type == "memory" and config.memory.kill_hog_at > 0:
        return _hog_kill(problem, config.memory.kill_hog_at)
    return None


def _hog_kill(problem: Problem, kill_hog_at: float) -> Action | None:
    """earlyoom's rule, off by default: kill the top hog once memory reaches
    ``memory.kill_hog_at`` %, if it matches ``processes.kill_allowed`` (detect/hogs.py
    offers it as ``kill_candidate``). The guard re-reads memory just before the kill
    and skips it if memory has dropped below the mark meanwhile (act/hogs.py)."""
    hog = problem.details.get("kill_candidate")
    pct = float(problem.details.get("pct", 0.0))
    if not hog or pct < kill_hog_at:
        return None
    return Action("kill_pid", str(hog["pid"]),
                  f"memory at {pct:.0f}% reached memory.kill_hog_at ({kill_hog_at:g}%); "
                  f"{hog['name']} (pid {hog['pid']}) holds the most", "deterministic",
                  problem.key)


def _is_hog_kill(problem: Problem, action: Action) -> bool:
    return (problem.type == "memory" and action.type == "kill_pid"
            and action.source == "deterministic")


def _notify(problem: Problem, entries: dict[str, dict[str, Any]]) -> Action:
    streak = int(entries.get(problem.key, {}).get("streak", 1))
    if problem.severity == "critical":
        return Action("alert", None, f"critical {problem.type} problem", "rules",
                      problem.key, problem.description)
    if streak >= ESCALATE_AFTER:
        return Action("alert", None, f"seen {streak} cycles in a row", "rules",
                      problem.key, problem.description)
    return Action("log", None, f"observation ({streak}/{ESCALATE_AFTER})", "rules",
                  problem.key, problem.description)


def _cleanable_mounts(snapshot: Snapshot) -> set[str]:
    """The mounts that hold a path of the cleaner's safe list (longest prefix wins)."""
    mounts = [d.mount for d in snapshot.disks]
    found = set()
    for path in CLEANED_PATHS:
        best = max((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")),
                   key=len, default=None)
        if best is not None:
            found.add(best)
    return found
