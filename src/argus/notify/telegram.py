"""Telegram Bot API ``sendMessage``, with the retry policy and the token kept secret.

Contract (CONTRACTS.md, "Telegram Bot API"): ``POST {api_base}/bot{token}/sendMessage``
with a JSON body; success is ``{"ok": true, ...}``; 429 carries
``parameters.retry_after``; 5xx and network errors are retryable; 400/401/403 are not.

The token is part of the URL, and httpx puts the URL into its exception messages and
its INFO log line for every request. So no exception message is ever copied into an
error string here: errors are built from the exception type, the HTTP status and
Telegram's own ``description``, and everything goes through :func:`argus.redact.redact`.
httpx's logger gets a redacting filter for the duration of a call.

httpx is imported inside :func:`send_message`: a quiet cycle with nothing to send
does not pay for importing it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from argus.logs import get_logger
from argus.logsetup import RedactSecrets
from argus.redact import redact

if TYPE_CHECKING:
    import httpx

log = get_logger("argus.telegram")

MAX_CHARS = 4096  # Bot API: "Text of the message to be sent, 1-4096 characters"
TRUNCATED = "\n… [truncated]"
BACKOFF_BASE_S = 1.0  # first retry after 1 s, then 2 s, 4 s ...
BACKOFF_CAP_S = 30.0  # ... never more than this between two attempts
# The longest 429 retry_after Argus waits out inside one call. Beyond it, waiting
# would stall the cycle; the message goes to the outbox and the next cycle tries.
RETRY_AFTER_CAP_S = 60.0
# Loggers of the HTTP stack that print the request URL, token included: httpx logs
# "HTTP Request: POST <url>" at INFO. httpcore's DEBUG trace (httpcore.connection,
# httpcore.http11) names only host and port; the tests check both at DEBUG.
_HTTP_LOGGERS = ("httpx",)


class Delivery(NamedTuple):
    """How one ``sendMessage`` ended.

    ``retryable`` is meaningful when ``ok`` is false: true means "Telegram or the
    network is having a bad time, keep the message and try later"; false means "this
    message will never go through as it is" (bad chat id, bad token). ``status`` is
    the last HTTP status, or None when no HTTP answer came (network error, timeout).
    ``error`` never contains the token.
    """

    ok: bool
    retryable: bool
    error: str | None
    attempts: int
    status: int | None


class _Attempt(NamedTuple):
    ok: bool
    retryable: bool
    error: str | None
    status: int | None
    retry_after: float | None = None  # seconds, from a 429's parameters
    try_again_now: bool = True  # false: do not spend another attempt in this call


def format_alert(host: str, text: str) -> str:
    """Prefix the host name as ``[host] text``, unless the text already starts with it.

    Upstream rule: "hostname prepended (not when already present)". "Present" means
    at the start, as ``host`` or ``[host]``, followed by a non-name character: host
    ``web`` does not count as present in ``web-10 is down``.
    """
    if not host:
        return text
    pattern = rf"\[?{re.escape(host)}(?![\w.-])"
    if re.match(pattern, text.lstrip()):
        return text
    return f"[{host}] {text}"


def truncate(text: str, limit: int = MAX_CHARS) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut.

    Counted in UTF-16 code units, not bytes and not code points: Telegram counts
    lengths in UTF-16 (entity offsets are documented that way), so an emoji costs 2.
    For text without emoji this is the same as counting characters, and for text with
    them it errs on the short side rather than risk a 400 "message is too long",
    which would drop the alert.
    """
    if _utf16_len(text) <= limit:
        return text
    room = limit - _utf16_len(TRUNCATED)
    used = 0
    for i, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            return text[:i] + TRUNCATED
    return text  # not reached: the length check above says the text is too long


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def send_message(
    api_base: str,
    token: str,
    chat_id: str,
    text: str,
    *,
    timeout: float,
    retries: int,
    sleep: Callable[[float], None] = time.sleep,
    client: httpx.Client | None = None,
) -> Delivery:
    """Send ``text`` to ``chat_id``; retry per the contract; never raise for HTTP trouble.

    ``timeout`` is seconds per HTTP phase (connect, read, ...); ``retries`` is how many
    attempts may follow the first one. A timeout ends the call at once (retryable):
    a server that hung for ``timeout`` seconds will likely hang again, and each
    further try would cost another ``timeout``; the outbox tries again next cycle.
    ``client`` lets a caller reuse one connection for several messages.
    """
    if not text.strip():
        # Telegram answers 400 "message text is empty": say so without a request.
        return Delivery(False, False, "empty message text: nothing to send", 0, None)
    import httpx  # lazily, see the module docstring

    url = f"{api_base.rstrip('/')}/bot{token}/sendMessage"
    payload = {"chat_id": chat_id, "text": truncate(text), "disable_web_page_preview": True}
    secrets = (token,)
    log_filter = RedactSecrets(secrets)
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).addFilter(log_filter)
    own = client is None
    http = httpx.Client(timeout=timeout) if client is None else client
    attempts = 0
    try:
        while True:
            attempts += 1
            result = _attempt(http, url, payload, timeout)
            error = redact(result.error, secrets) if result.error else None
            if result.ok:
                return Delivery(True, False, None, attempts, result.status)
            if not result.retryable or not result.try_again_now or attempts > retries:
                return Delivery(False, result.retryable, error, attempts, result.status)
            if result.retry_after is not None:
                delay = result.retry_after
                if delay > RETRY_AFTER_CAP_S:
                    error = f"{error} (retry_after {delay:g}s is over {RETRY_AFTER_CAP_S:g}s)"
                    return Delivery(False, True, error, attempts, result.status)
            else:
                delay = min(BACKOFF_BASE_S * 2 ** (attempts - 1), BACKOFF_CAP_S)
            log.info("telegram attempt %d failed (%s); retrying in %gs", attempts, error, delay)
            sleep(delay)
    finally:
        if own:
            http.close()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(log_filter)


def _attempt(http: httpx.Client, url: str, payload: dict[str, Any], timeout: float) -> _Attempt:
    """One POST, classified. Exception messages are never used: they carry the URL."""
    import httpx

    try:
        response = http.post(url, json=payload, timeout=timeout)
    except httpx.TimeoutException as err:
        return _Attempt(False, True, f"timed out after {timeout:g}s ({type(err).__name__})",
                        None, try_again_now=False)
    except httpx.UnsupportedProtocol as err:
        # api_base without http:// or https://: a config error, no point retrying.
        return _Attempt(False, False, f"bad api_base ({type(err).__name__})", None)
    except httpx.TransportError as err:
        return _Attempt(False, True, f"network error: {type(err).__name__}{_os_reason(err)}",
                        None)
    except httpx.InvalidURL as err:
        return _Attempt(False, False, f"bad api_base or token ({type(err).__name__})", None)
    return _classify(response.status_code, response.content)


def _classify(status: int, body: bytes) -> _Attempt:
    """Turn an HTTP answer into an attempt outcome, per the contract."""
    data: Any
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        data = None
    if status == 200 and data is not None and data.get("ok") is True:
        return _Attempt(True, False, None, status)
    description = ""
    if data is not None and isinstance(data.get("description"), str):
        description = data["description"][:200]
    error = f"HTTP {status}" + (f": {description}" if description else "")
    if status == 200:
        # A 200 that is not the Bot API's {"ok": true}: a proxy or captive portal in
        # the way. Treated like a 5xx (retryable): most likely nothing was delivered.
        why = "answer is not ok" if data is not None else "answer is not Bot API JSON"
        return _Attempt(False, True, f"{error}: {why}", status)
    if status == 429:
        return _Attempt(False, True, error, status, retry_after=_retry_after(data))
    if status >= 500 or status == 408:
        return _Attempt(False, True, error, status)
    # 400 (bad request, e.g. chat not found), 401 (bad token), 403 (bot blocked or
    # kicked), 404 (wrong api_base) and anything else (a redirect, 413 ...): this
    # request will never work as sent, so retrying would only repeat the answer.
    return _Attempt(False, False, error, status)


def _retry_after(data: dict[str, Any] | None) -> float | None:
    params = data.get("parameters") if data else None
    value = params.get("retry_after") if isinstance(params, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None  # no usable hint: fall back to the exponential backoff
    return float(value)


def _os_reason(err: BaseException) -> str:
    """The OS reason behind a network error ("Connection refused"), never its URL.

    httpx wraps httpcore which wraps the OSError; only the OSError's ``strerror`` is
    used, because it comes from the C library and cannot contain the URL.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return f" ({current.strerror})"
        current = current.__cause__ or current.__context__
    return ""
