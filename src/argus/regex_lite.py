"""``re.search`` for the process patterns, without importing ``re`` when it can.

Why: importing ``re`` (with the enum, functools and collections modules it pulls
in) costs about 6 ms of CPU, a fifth of what a one-shot cycle may cost, and the
cycle needs a regex only for the orphan and kill patterns. Those are nearly always
literal words joined by ``.*`` (the default orphan rule is ``node.*--test``), and
such a pattern matches a text exactly when one line of it holds the words in
order: ``.`` matches anything but a newline, so the words must share a line, and
taking each word's first occurrence after the previous one is the best choice.
``str.find`` does that. Any other pattern goes to ``re``, compiled once.
"""

from __future__ import annotations

from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

# Metacharacters, and the newline that the line-by-line search below cannot hold.
_SPECIAL = frozenset(".^$*+?{}[]\\|()\n")


def _words(pattern: str) -> list[str] | None:
    """The literal words of ``w1.*w2.*...``, or None if ``pattern`` is anything else."""
    words = pattern.split(".*")
    if any(ch in _SPECIAL for word in words for ch in word):
        return None
    return words


def _in_order(words: list[str], text: str) -> bool:
    for line in text.split("\n"):
        at = 0
        for word in words:
            at = line.find(word, at)
            if at < 0:
                break
            at += len(word)
        else:
            return True
    return False


def compile_search(pattern: str) -> Callable[[str], bool]:
    """A predicate: does ``re.search(pattern, text)`` find a match in ``text``?

    Raises ``re.error`` (from ``re`` itself) for a pattern ``re`` refuses; config
    validation has already compiled every configured pattern once.
    """
    words = _words(pattern)
    if words is not None:
        return lambda text: _in_order(words, text)
    import re

    compiled = re.compile(pattern)
    return lambda text: compiled.search(text) is not None
