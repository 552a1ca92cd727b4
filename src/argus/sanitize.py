"""Make text from the outside world safe to show in a terminal, a log or a chat message.

Process command lines, ``comm`` names and tmux session names are chosen by whoever
started the process; they may hold ANSI escape sequences (which can rewrite a
terminal, hide text, or set the window title), newlines (which forge log lines),
bidi overrides (which reorder what a reader sees, CVE-2021-42574 "Trojan Source")
and bytes that are not UTF-8. ``safe_text`` keeps the printable part and marks the
rest, so a reader still sees that something odd was there.
"""

from __future__ import annotations

from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    import re

# ECMA-48: CSI = ESC '[' params (0x30-0x3F)* intermediates (0x20-0x2F)* final (0x40-0x7E);
# OSC/DCS/SOS/PM/APC = ESC ']' | 'P' | 'X' | '^' | '_' ... up to BEL or ST (ESC '\');
# any other ESC is followed by one character (e.g. ESC 'c', a full terminal reset).
# The 8-bit C1 forms (0x9B CSI, 0x9D OSC) are decoded by some terminals too.
_ANSI_PATTERN = (
    r"""
    (?: \x1b\[ | \x9b ) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?     # CSI
  | (?: \x1b[\]PX^_] | [\x9d\x90\x98\x9e\x9f] ) .*? (?: \x07 | \x1b\\ | \x9c | \Z )  # OSC etc.
  | \x1b [\x20-\x7e]?                                             # two-char escapes
    """
)
# C0 controls, DEL, C1 controls, and the Unicode bidi controls (LRM/RLM,
# embeddings/overrides U+202A-U+202E, isolates U+2066-U+2069).
_CONTROL_PATTERN = "[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
_CONTROL_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0x200E, 0x200F), (0x202A, 0x202E),
                   (0x2066, 0x2069))
# Every escape sequence _ANSI_PATTERN matches starts with one of these.
_ESCAPE_STARTS = frozenset("\x1b\x9b\x9d\x90\x98\x9e\x9f")
_compiled: list[re.Pattern[str]] = []
_control_table: dict[int, str] = {}


def _patterns() -> list[re.Pattern[str]]:
    """Compiled on first need: most text is plain, and ``re`` costs ~6 ms to import."""
    if not _compiled:
        import re

        _compiled.append(re.compile(_ANSI_PATTERN, re.VERBOSE | re.DOTALL))
        _compiled.append(re.compile(_CONTROL_PATTERN))
    return _compiled


def _controls_marked(text: str) -> str:
    """``_CONTROL_PATTERN`` replaced by ``?``, through str.translate.

    Text with a newline or a tab but no escape sequence is common (a ``bash -c``
    script in a command line); it needs no regex, and so no ``re`` import.
    """
    if not _control_table:
        _control_table.update({c: "?" for lo, hi in _CONTROL_RANGES
                               for c in range(lo, hi + 1)})
    return text.translate(_control_table)


ELLIPSIS = "…"


def safe_text(s: str | bytes, limit: int) -> str:
    """Return ``s`` without ANSI escapes, other controls as ``?``, at most ``limit`` characters.

    Bytes are decoded as UTF-8 with U+FFFD for invalid sequences. Text longer than
    ``limit`` characters is cut and ends with ``…`` (the result, ellipsis included,
    is never longer than ``limit``).
    """
    if limit <= 0:
        return ""
    # Cut generously before the regexes, so a 100 MB command line costs nothing;
    # escape removal only shortens text, so 4x the limit (plus slack) is plenty.
    budget = 4 * limit + 64
    cut = len(s) > budget
    if cut:
        s = s[:budget]
    text = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
    if text.isprintable():  # the common case: plain text
        pass
    elif _ESCAPE_STARTS.isdisjoint(text):  # controls, but no escape sequence to cut out
        text = _controls_marked(text)
    else:
        ansi, control = _patterns()
        text = control.sub("?", ansi.sub("", text))
    if cut or len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    return text
