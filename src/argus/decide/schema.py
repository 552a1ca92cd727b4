"""The decision schema, and what Argus makes of a model's answer.

The answer is validated at the door (pydantic) before anything reads it:

- an answer that is not an object with an ``assessment`` string and an ``actions``
  list is invalid as a whole (:class:`InvalidAnswer`): the policy alone decides;
- inside a valid answer each proposal stands or falls on its own: a wrong shape, an
  unknown type, a missing reason, a target that is not among this cycle's
  candidates, a duplicate, or one beyond ``MAX_PROPOSALS`` is refused with the
  reason, and the rest of the decision stands.

Accepted proposals become :class:`argus.model.Action` with ``source="llm"``; the
guard still reviews every one of them before anything happens. Refusing here first
is defence in depth, and gives the model's mistakes a precise record.
"""

from __future__ import annotations

# typing at run time is fine here: pydantic needs the annotations, and this module is
# imported only when the model is asked (never on a quiet cycle).
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from argus.model import ACTION_TYPES, Action
from argus.sanitize import safe_text

# The six action types of DESIGN.md (argus.model.ACTION_TYPES; a test keeps them equal).
ActionType = Literal["restart_service", "kill_pid", "kill_tmux", "clean_disk", "alert", "log"]

MAX_PROPOSALS = 20  # one answer's proposals looked at one by one; the rest refused at once
TARGETED = ("restart_service", "kill_pid", "kill_tmux")
TEXT_LIMITS = {"assessment": 600, "reason": 300, "message": 600, "observation": 200}

# The tool's input_schema (Anthropic) / function parameters (OpenAI): what the model
# is asked for. Hand-written rather than generated, so that it stays short (it is
# sent with every call) and reads as documentation.
DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "assessment": {"type": "string", "description": "what is happening, with figures"},
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": list(ACTION_TYPES)},
                    "target": {"type": ["string", "null"]},
                    "reason": {"type": "string"},
                    "message": {"type": ["string", "null"]},
                },
                "required": ["type", "target", "reason"],
            },
        },
        "observations": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["assessment", "actions"],
}


class InvalidAnswer(Exception):
    """The answer as a whole cannot be used."""


class Proposal(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    type: ActionType
    target: str | None = None
    reason: str = Field(min_length=1)
    message: str | None = None

    @field_validator("target", mode="before")
    @classmethod
    def _pid_as_number(cls, value: Any) -> Any:
        # Models often write a pid as a number; that is still the same pid.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


class Decision(BaseModel):
    model_config = ConfigDict(extra="ignore")

    assessment: str
    actions: list[Any]  # each item is validated on its own (Proposal), see review()
    observations: list[Any] = []


class Candidates(NamedTuple):
    """What each action type may target this cycle, each target with its problem key.

    ``targets[type][target] = problem key or None``; ``clean_disk``'s only target is
    None; ``alert`` and ``log`` take the key of a current problem (``log`` also None).
    """

    targets: dict[str, dict[str | None, str | None]]


class Refusal(NamedTuple):
    action: Action  # what was proposed, made printable
    why: str
    n: int = 1  # > 1 for the proposals beyond MAX_PROPOSALS, refused as one


class Review(NamedTuple):
    assessment: str
    observations: list[str]
    accepted: list[Action]
    refused: list[Refusal]


def parse(payload: Any) -> Decision:
    """The answer as a Decision, or InvalidAnswer naming what is wrong."""
    try:
        return Decision.model_validate(payload)
    except ValidationError as err:
        raise InvalidAnswer(_first_error(err)) from None


def review(payload: Any, candidates: Candidates) -> Review:
    """Validate ``payload`` and sort its proposals into accepted and refused."""
    decision = parse(payload)
    accepted: list[Action] = []
    refused: list[Refusal] = []
    seen: set[tuple[str, str | None]] = set()
    for raw in decision.actions[:MAX_PROPOSALS]:
        try:
            proposal = Proposal.model_validate(raw)
        except ValidationError as err:
            refused.append(Refusal(_shown(raw, candidates),
                                   f"invalid proposal: {_first_error(err)}"))
            continue
        action = _action(proposal, candidates)
        why = _refusal(proposal, candidates)
        if why is None and (proposal.type, proposal.target) in seen:
            why = "duplicate of an earlier proposal in the same answer"
        if why is not None:
            refused.append(Refusal(action, why))
            continue
        seen.add((proposal.type, proposal.target))
        accepted.append(action)
    extra = len(decision.actions) - MAX_PROPOSALS
    if extra > 0:
        refused.append(Refusal(
            Action("log", None, f"{extra} proposals beyond the first {MAX_PROPOSALS}",
                   "llm"),
            f"too many proposals: at most {MAX_PROPOSALS} per answer", extra))
    observations = [safe_text(o, TEXT_LIMITS["observation"])
                    for o in decision.observations[:5] if isinstance(o, str)]
    return Review(safe_text(decision.assessment, TEXT_LIMITS["assessment"]), observations,
                  accepted, refused)


def _refusal(proposal: Proposal, candidates: Candidates) -> str | None:
    kind, target = proposal.type, proposal.target or None
    allowed = candidates.targets.get(kind, {})
    if kind in TARGETED:
        if target is None:
            return f"{kind} needs a target"
        if target not in allowed:
            return f"target {safe_text(target, 60)!r} is not a candidate for {kind}"
    elif kind == "clean_disk":
        if target is not None:
            return f"clean_disk takes no target (got {safe_text(target, 60)!r})"
        if None not in allowed:
            return "clean_disk is not a candidate: no disk problem on a mount it can clean"
    elif kind == "alert" and target not in allowed:
        return ("alert needs the key of a current problem as target "
                f"(got {safe_text(str(target), 60)!r})")
    elif kind == "log" and target is not None and target not in allowed:
        return f"log target {safe_text(target, 60)!r} is not a current problem key"
    return None


def _action(proposal: Proposal, candidates: Candidates) -> Action:
    target = proposal.target or None
    key = candidates.targets.get(proposal.type, {}).get(target)
    message = proposal.message or (proposal.reason if proposal.type == "alert" else None)
    if proposal.type in ("alert", "log") and key is not None:
        target = None  # about a problem, like the policy's own: the key says which
    return Action(proposal.type, safe_text(target, 120) if target else None,
                  safe_text(proposal.reason, TEXT_LIMITS["reason"]), "llm", key,
                  safe_text(message, TEXT_LIMITS["message"]) if message else None)


def _shown(raw: Any, candidates: Candidates) -> Action:
    """A malformed proposal as a printable Action, for its refusal record."""
    item = raw if isinstance(raw, dict) else {}
    kind, target, reason = item.get("type"), item.get("target"), item.get("reason")
    key = None
    if isinstance(kind, str) and isinstance(target, str):
        key = candidates.targets.get(kind, {}).get(target)
    return Action(safe_text(str(kind), 40) if kind is not None else "invalid",
                  safe_text(str(target), 120) if target is not None else None,
                  safe_text(reason, TEXT_LIMITS["reason"]) if isinstance(reason, str) else "",
                  "llm", key)


def _first_error(err: ValidationError) -> str:
    errors = err.errors()
    if not errors:
        return "invalid"
    where = ".".join(str(p) for p in errors[0]["loc"]) or "answer"
    return safe_text(f"{where}: {errors[0]['msg']}", 200)
