"""Delivering the daily summary: Relay, else Telegram, else the fallback file.

See argus.analyze.summary for why this order and why Telegram is called directly.
A channel being down is never an error; ``send_summary`` never raises.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from argus.context import Context

EVENT = "argus.daily_summary"
FALLBACK_NAME = "summary-fallback.jsonl"
BODY_MAX = 60 * 1024  # Relay refuses bodies over 64 KiB


def relay_body(summary: dict[str, Any]) -> dict[str, Any]:
    """The Relay event: ``event``, ``host``, ``ts``, ``health``, ``text`` and the data."""
    data = {k: v for k, v in summary.items() if k not in ("text", "delivery")}
    body = {"event": EVENT, "host": summary["host"], "ts": summary["generated_at"],
            "health": summary["health"]["status"], "text": summary["text"], "summary": data}
    if len(json.dumps(body)) > BODY_MAX:  # only with pathological lists: keep the text
        body["summary"] = {"truncated": True}
    return body


def send_summary(ctx: Context, summary: dict[str, Any]) -> dict[str, Any]:
    """Deliver to Relay, else Telegram, else the fallback file; never raises.

    Returns ``{"channel": "relay"|"telegram"|"file"|None, "tried": [...], ...}``:
    ``tried`` lists the channels that did not take it, each with the reason."""
    body = relay_body(summary)
    tried: list[dict[str, str]] = []
    error = _relay(ctx, body)
    if error is None:
        return {"channel": "relay", "to": ctx.config.relay.to, "tried": tried}
    tried.append({"channel": "relay", "error": error})
    error = _telegram(ctx, summary["text"])
    if error is None:
        return {"channel": "telegram", "tried": tried}
    tried.append({"channel": "telegram", "error": error})
    path = os.path.join(ctx.paths.state_dir, FALLBACK_NAME)
    line = {**body, "relay_error": tried[0]["error"], "telegram_error": error}
    try:
        from argus.record import registry

        registry.append(path, [line])
    except OSError as err:
        tried.append({"channel": "file", "error": f"{path}: {err.strerror or err}"})
        return {"channel": None, "tried": tried}
    return {"channel": "file", "path": path, "tried": tried}


def _relay(ctx: Context, body: dict[str, Any]) -> str | None:
    """None when Relay took the event, else why not."""
    from argus.notify.relay import NAME_RE
    from argus.sanitize import safe_text

    cfg = ctx.config.relay
    if not cfg.enabled:
        return "relay disabled (relay.enabled = false)"
    for what, name in (("relay.to", cfg.to), ("relay.from", cfg.sender)):
        if not NAME_RE.fullmatch(name):
            return f"{what} is not a valid agent name: {safe_text(name, 40)!r}"
    if not cfg.bin:
        return "relay.bin is empty"
    argv = [cfg.bin, "send", cfg.to, json.dumps(body, ensure_ascii=True, separators=(",", ":")),
            "--agent", cfg.sender, "--priority", "medium", "--tag", "argus,summary,daily",
            "--type", "status", f"--subject=Argus daily summary: {ctx.host}"]
    result = ctx.run(argv, cfg.timeout)
    return None if result.ok else safe_text(result.describe(), 300)


def _telegram(ctx: Context, text: str) -> str | None:
    """None when Telegram took the message, else why not (never the token)."""
    cfg = ctx.config.telegram
    if not (cfg.token and cfg.chat_id):
        return "Telegram is not configured (TELEGRAM_BOT_TOKEN and telegram.chat_id)"
    from argus.notify.telegram import send_message

    result = send_message(cfg.api_base, cfg.token, cfg.chat_id, text, timeout=cfg.timeout,
                          retries=cfg.retries)
    return None if result.ok else str(result.error)


def delivery_line(delivery: dict[str, Any]) -> str:
    why = "; ".join(f"{t['channel']}: {t['error']}" for t in delivery["tried"])
    channel = delivery["channel"]
    if channel == "relay":
        head = f"summary sent via Relay to {delivery['to']}"
    elif channel == "telegram":
        head = "summary sent via Telegram"
    elif channel == "file":
        head = f"summary written to {delivery['path']}"
    else:
        head = "summary NOT delivered"
    return head + (f" ({why})" if why else "")
