"""Telling a human: the one entry point the cycle calls to deliver its messages.

:func:`deliver` sends the outbox first, then this cycle's messages, all in order,
so a human reads alerts in the order they happened even after an outage. It stops
at the first retryable failure (Telegram down, hanging, rate limiting beyond what is
worth waiting for): everything after it waits in the outbox, in order, for the next
cycle. That stop is also the circuit breaker that bounds the time a delivery run
can take: a hanging Telegram costs one ``timeout``, not one per message. A run also
stops starting new sends once ``budget_s`` seconds have passed (a large backlog
meeting a rate limit would otherwise hold the cycle for minutes).

A message Telegram refuses for good (400 chat not found, 403 bot blocked) is
dropped, logged with its text at ERROR, and reported, so the caller records the
failure; keeping it would retry it every cycle forever. A 401 or 404 (a bad token
or API URL) keeps the messages instead: see KEEP_ON_STATUS.

Without a token or a chat id, Telegram is not configured: every message goes to the
log as ``ALERT <text>``, nothing is queued and nothing fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from argus.config import Telegram
from argus.logs import get_logger
from argus.notify.outbox import Item, Outbox, make_item
from argus.notify.telegram import Delivery, format_alert, send_message
from argus.redact import redact

if TYPE_CHECKING:
    import httpx

log = get_logger("argus.alerts")

BUDGET_S = 120.0  # at most this long sending per run: well inside the 300 s default interval


class Outcome(NamedTuple):
    """What happened to one of this run's messages."""

    status: str  # "sent", "queued" (in the outbox), "dropped" or "logged"
    error: str | None  # why it was not sent; never contains the token
    attempts: int  # HTTP attempts spent on it in this run

    @property
    def ok(self) -> bool:
        """Delivered now."""
        return self.status == "sent"

    @property
    def retryable(self) -> bool:
        """Not delivered yet, but waiting in the outbox for the next cycle."""
        return self.status == "queued"


class DeliveryReport(NamedTuple):
    """The result of one :func:`deliver` run."""

    channel: str  # "telegram" or "log"
    sent: list[int]  # indexes into ``messages`` of those delivered now
    queued: int  # messages waiting in the outbox after this run, old and new
    dropped: list[Item]  # outbox items given up on (refused for good, or over the cap)
    per_message: list[Outcome]  # aligned with ``messages``
    flushed: int  # outbox messages from earlier runs delivered now
    error: str | None = None  # the failure that stopped this run, if any


def deliver(
    telegram_cfg: Telegram,
    host: str,
    outbox_path: str,
    messages: list[dict[str, Any]],
    *,
    now_iso: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    budget_s: float = BUDGET_S,
) -> DeliveryReport:
    """Deliver the outbox, then ``messages`` (``{"text", "key", "kind"}``), in order.

    ``now_iso`` stamps messages that end up queued; ``sleep`` and ``clock`` are
    passed in so tests run fast and deterministic.
    """
    texts = [format_alert(host, str(m["text"])) for m in messages]
    if not (telegram_cfg.token and telegram_cfg.chat_id):
        for text in texts:
            log.warning("ALERT %s", redact(text, [telegram_cfg.token]))
        logged = [Outcome("logged", None, 0) for _ in texts]
        return DeliveryReport("log", [], 0, [], logged, 0)

    # Masked on the way in too: an alert quoting a command line or an environment
    # could carry the token, and the outbox file must never hold it.
    new = [make_item(redact(text, [telegram_cfg.token]), m.get("key"),
                     str(m.get("kind") or "alert"), now_iso)
           for m, text in zip(messages, texts, strict=True)]
    outbox = Outbox(outbox_path)
    with outbox.locked():  # held through the sends: see the outbox's docstring
        pending = outbox.pending()
        if not pending and not new:
            return DeliveryReport("telegram", [], 0, [], [], 0)  # quiet: httpx not imported
        run = _Run(telegram_cfg, sleep, deadline=clock() + budget_s, clock=clock)
        work: list[tuple[Item, int | None]] = [(item, None) for item in pending]
        work += [(item, index) for index, item in enumerate(new)]
        try:
            run.send_all(work)
        finally:
            # Whatever was not tried (after a stop, or an exception mid-run) stays, in
            # order: a message is only ever removed once Telegram took it or refused it.
            run.keep.extend(item for item, _ in work[run.done:])
            cap_dropped = outbox.replace(run.keep)
    for item in cap_dropped:
        item["last_error"] = "outbox full: dropped unsent"
    per_message = run.outcomes(new, cap_dropped)
    return DeliveryReport(
        channel="telegram",
        sent=[i for i, o in enumerate(per_message) if o.status == "sent"],
        queued=len(run.keep) - len(cap_dropped),
        dropped=run.dropped + cap_dropped,
        per_message=per_message,
        flushed=run.flushed,
        error=run.stop_error,
    )


class _Run:
    """The state of one delivery run: what was sent, kept and dropped so far."""

    def __init__(self, cfg: Telegram, sleep: Callable[[float], None], *,
                 deadline: float, clock: Callable[[], float]) -> None:
        self.cfg, self.sleep, self.deadline, self.clock = cfg, sleep, deadline, clock
        self.keep: list[Item] = []
        self.dropped: list[Item] = []
        self.flushed = 0
        self.done = 0  # work items fully handled, so a crash keeps the rest
        self.stop_error: str | None = None
        self._results: dict[int, Outcome] = {}  # new-message index -> outcome

    def send_all(self, work: list[tuple[Item, int | None]]) -> None:
        """Send each item in order until the first retryable failure; queue the rest."""
        import httpx  # lazily: only a run with something to send pays for it

        with httpx.Client(timeout=self.cfg.timeout) as client:
            for item, index in work:
                if self.stop_error is None and self.clock() > self.deadline:
                    self.stop_error = "time budget spent; the rest waits for the next cycle"
                if self.stop_error is not None:
                    self._queue(item, index, None, 0)
                else:
                    self._send(client, item, index)
                self.done += 1

    def _send(self, client: httpx.Client, item: Item, index: int | None) -> None:
        text = item["text"] if index is not None else _delayed(item)
        cfg = self.cfg
        result: Delivery = send_message(
            cfg.api_base, cfg.token, cfg.chat_id, text, timeout=cfg.timeout,
            retries=cfg.retries, sleep=self.sleep, client=client,
        )
        if result.ok:
            if index is None:
                self.flushed += 1
                log.info("delivered a queued message from %s", item.get("ts"))
            else:
                self._results[index] = Outcome("sent", None, result.attempts)
            return
        if result.retryable or result.status in KEEP_ON_STATUS:
            self.stop_error = result.error
            if result.retryable:
                log.warning("telegram unavailable (%s); keeping messages in the outbox",
                            result.error)
            else:
                log.error("telegram rejects the bot token or API URL (%s): check "
                          "TELEGRAM_BOT_TOKEN and telegram.api_base; keeping messages in "
                          "the outbox until it works", result.error)
            self._queue(item, index, result.error, result.attempts)
            return
        item["attempts"] = int(item.get("attempts") or 0) + result.attempts
        item["last_error"] = result.error
        self.dropped.append(item)
        if index is not None:
            self._results[index] = Outcome("dropped", result.error, result.attempts)
        log.error("telegram refused a message for good (%s); dropped: %s",
                  result.error, redact(str(item["text"]), [cfg.token]))

    def _queue(self, item: Item, index: int | None, error: str | None, attempts: int) -> None:
        if attempts:
            item["attempts"] = int(item.get("attempts") or 0) + attempts
            item["last_error"] = error
        elif index is not None:
            item["last_error"] = f"not tried: {self.stop_error}"
        self.keep.append(item)
        if index is not None:
            self._results[index] = Outcome("queued", item["last_error"], attempts)

    def outcomes(self, new: list[Item], cap_dropped: list[Item]) -> list[Outcome]:
        """Per new message, in order. The cap drops the oldest first, so it reaches this
        run's messages only when a single run brings more than the cap."""
        gone = {id(item) for item in cap_dropped}
        result = []
        for index, item in enumerate(new):
            outcome = self._results[index]
            if id(item) in gone:
                outcome = outcome._replace(status="dropped", error=item["last_error"])
            result.append(outcome)
        return result


# 401 (bad or revoked token) and 404 (wrong api_base) are configuration problems
# that hit every message alike: dropping would wipe the backlog an operator needs
# once the token is fixed, so those messages wait in the outbox (one request a
# cycle) instead. A 400 or 403 is about this message or chat and is dropped.
KEEP_ON_STATUS = (401, 404)


def _delayed(item: Item) -> str:
    """A queued message says when it was first queued: a late alert must look late."""
    return f"{item['text']}\n(delayed: queued at {item.get('ts', '?')})"
