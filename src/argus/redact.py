"""Masking secrets in anything Argus logs, records or raises.

The Telegram bot token is part of the request URL (``/bot<token>/sendMessage``), and
HTTP libraries put that URL into their exception messages and log lines. So every
path that might carry text from an HTTP call goes through :func:`redact`: first the
known secrets are replaced (as given, and URL-encoded, since a URL may carry them
either way), then a pattern fallback masks anything shaped like a bot token, which
catches a token Argus was not told about (an old one, or one from another tool).
``argus.logs.RedactSecrets`` applies it to log records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "<redacted>"

# A bot token is "<bot id>:<secret>": the id is the bot's numeric user id and the
# secret is 35 characters of [A-Za-z0-9_-] (Bot API docs, "Authorizing your bot").
# The bounds are loose on purpose, so a token of a slightly different shape is
# still caught; the ":" may arrive URL-encoded as %3A.
_TOKEN_RE = re.compile(r"\d{6,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")
# The path segment that carries the token, whatever the token looks like (a wrong
# token is still a secret someone typed). Stops at "/", whitespace and quotes so it
# never eats the rest of a log line.
_BOT_PATH_RE = re.compile(r"/bot[^/\s\"'<>]+/")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with every non-empty secret and token-shaped string masked."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms.add(secret)
        forms.add(quote(secret, safe=""))  # ":" -> "%3A", as in a URL path
    # Longest first: a secret that contains another must not be left half-masked.
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    text = _TOKEN_RE.sub(MASK, text)
    return _BOT_PATH_RE.sub(f"/bot{MASK}/", text)
