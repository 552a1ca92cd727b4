"""The deterministic policy: what Argus does about each problem with no LLM at all.

- critical problems are alerted;
- warnings and info are logged as observations; the same observation three cycles
  in a row is no passing spike, so it escalates to an alert.

Remediation (restart, kill, clean) is added by the act/ layer's guard; the policy
never needs a model to keep the host safe.
"""

from __future__ import annotations

from typing import Any

from argus.model import Action, Problem

ESCALATE_AFTER = 3  # consecutive cycles before a logged observation becomes an alert


def decide(problems: list[Problem], entries: dict[str, dict[str, Any]]) -> list[Action]:
    actions: list[Action] = []
    for problem in problems:
        streak = int(entries.get(problem.key, {}).get("streak", 1))
        if problem.severity == "critical":
            actions.append(Action("alert", None, f"critical {problem.type} problem", "rules",
                                  problem.key, problem.description))
        elif streak >= ESCALATE_AFTER:
            actions.append(Action("alert", None, f"seen {streak} cycles in a row", "rules",
                                  problem.key, problem.description))
        else:
            actions.append(Action("log", None, f"observation ({streak}/{ESCALATE_AFTER})",
                                  "rules", problem.key, problem.description))
    return actions
