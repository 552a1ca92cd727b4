"""The deterministic policy: what Argus does about each problem with no LLM at all.

- a failed or stopped watched unit in ``services.restart_allowed`` is restarted
  (the guard applies the backoff); one that is not allowlisted is alerted;
- a confirmed orphan (see detect/orphans.py) is killed;
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
            if remedy.type != "clean_disk":
                continue  # alerted afterwards only if the remedy fails (follow_up)
        actions.append(_notify(problem, entries))
    return actions


def follow_up(problem: Problem, outcome: ActionOutcome) -> Action | None:
    """An alert for what a remediation could not fix (or a restart loop)."""
    if outcome.details.get("restart_loop"):
        reason = "restart loop: backoff exhausted, cooling down"
    elif outcome.result == "failure":
        reason = f"{outcome.action.type} failed"
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
    return None


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
