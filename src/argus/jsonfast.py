"""``dumps`` and ``loads`` for the one-shot cycle, without importing ``json``.

Why: a one-shot cycle started by a timer every 5 minutes must cost no more CPU than
the bash collectors it replaces (about 30 ms for the whole process on the reference
machine, of which Python's own start is about 11 ms). ``import json`` alone costs
about 8 ms there (``farm-bench -n 21``, median cpu: 18-20 ms for
``-c 'import json'`` against 11 ms for ``-c pass``), because ``json`` imports ``re``
(and with it ``enum``, ``functools``, ``collections``) and compiles regexes at
import. The C accelerator that ``json`` itself encodes and decodes with, ``_json``,
costs about 0.2 ms to import, and this whole module under 1 ms (``-X importtime``:
0.7 ms; ``farm-bench``: 11-12 ms for ``-c 'import argus.jsonfast'``, 0.59 of
``-c 'import json'`` run pair by pair).

So this module drives the very same C functions the way ``json.encoder`` and
``json.decoder`` do (``_json.make_encoder`` with ``json.dumps``'s default
arguments, ``_json.make_scanner`` with ``JSONDecoder``'s defaults), and does in
plain Python the little that ``json`` does around them with regexes (skipping
whitespace, "Extra data"). The results are identical:

- ``dumps(obj)`` is byte for byte ``json.dumps(obj)`` (ensure_ascii, allow_nan,
  circular check, separators ``(", ", ": ")``); ``separators`` and ``sort_keys``
  are the only options. No ``indent``: code that pretty-prints uses ``json``.
  A value that JSON cannot hold raises ``TypeError``, a cycle ``ValueError``.
- ``loads(text)`` equals ``json.loads(text)`` for str, bytes and bytearray
  (bytes decoded as ``json`` does: UTF-8 unless a BOM or NUL bytes say
  UTF-16/32), and raises ``json.JSONDecodeError`` wherever ``json.loads`` does.
  Only then is ``json.decoder`` imported (the C scanner does the same for the
  errors it finds itself).

Per call both are faster than ``json``'s (they skip its argument checks and regex
matches): on a 13-field registry record, dumps 0.72-0.80 and loads about 0.82 of
json's time.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy treats any name TYPE_CHECKING as always true
if TYPE_CHECKING:
    from typing import Any

__all__ = ["dumps", "loads"]

_WHITESPACE = " \t\n\r"  # JSON's whitespace, and nothing else (not str.strip's)


def _default(o: object) -> Any:
    # json.JSONEncoder.default, word for word.
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _decode_error(msg: str, doc: str, pos: int) -> ValueError:
    from json.decoder import JSONDecodeError  # the error path only: it imports re

    return JSONDecodeError(msg, doc, pos)


def _detect_encoding(b: bytes | bytearray) -> str:
    # json.detect_encoding, word for word (it lives in json/__init__, which imports re).
    if b.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        return "utf-32"
    if b.startswith((b"\xfe\xff", b"\xff\xfe")):
        return "utf-16"
    if b.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if len(b) >= 4:
        if not b[0]:
            return "utf-16-be" if b[1] else "utf-32-be"
        if not b[1]:
            return "utf-16-le" if b[2] or b[3] else "utf-32-le"
    elif len(b) == 2:
        if not b[0]:
            return "utf-16-be"
        if not b[1]:
            return "utf-16-le"
    return "utf-8"


_NAN = float("nan")
_INF = float("inf")


class _DecoderContext:
    """What ``_json.make_scanner`` reads off a ``json.JSONDecoder()``: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    array_hook = None  # read by newer Pythons' scanner; None is its default there too
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": -_INF, "Infinity": _INF, "NaN": _NAN}.__getitem__


# The C functions, checked once with the arguments used below. Where ``_json`` is
# missing (another Python implementation, a stripped build) or its functions take
# other arguments or give other results than these (a future CPython), dumps and
# loads below are simply json's own, imported on first use: same results, only the
# import cost this module exists to avoid comes back.
try:
    from _json import encode_basestring_ascii as _encode_ascii
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner

    # typeshed types the context as a make_scanner; the C code only reads attributes.
    _scan_once = _make_scanner(_DecoderContext())  # type: ignore[arg-type]
    _fast = (
        "".join(_make_encoder({}, _default, _encode_ascii, None, ": ", ", ", False, False,
                              True)({"\xe9": [1.5, None, True, -_INF]}, 0))
        == '{"\\u00e9": [1.5, null, true, -Infinity]}'
        and _scan_once('{"a": [1.5, NaN, null]} ', 0)[1] == 23
    )
except (ImportError, TypeError, AttributeError, ValueError):
    _fast = False


if _fast:

    def dumps(obj: Any, *, separators: tuple[str, str] | None = None,
              sort_keys: bool = False) -> str:
        """``json.dumps(obj, separators=separators, sort_keys=sort_keys)``."""
        if separators is None:
            item_separator, key_separator = ", ", ": "
        else:
            item_separator, key_separator = separators
        # As json.JSONEncoder.iterencode(_one_shot=True): a fresh encoder, and with
        # it fresh circular-reference markers, per call (the C encoder leaves stale
        # markers behind when a call fails half-way).
        return "".join(_make_encoder({}, _default, _encode_ascii, None, key_separator,
                                     item_separator, sort_keys, False, True)(obj, 0))

    def loads(text: str | bytes | bytearray) -> Any:
        """``json.loads(text)``."""
        if isinstance(text, str):
            if text.startswith("\ufeff"):
                raise _decode_error("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
            doc = text
        elif isinstance(text, (bytes, bytearray)):
            doc = text.decode(_detect_encoding(text), "surrogatepass")
        else:
            raise TypeError(f"the JSON object must be str, bytes or bytearray, "
                            f"not {text.__class__.__name__}")
        # json.JSONDecoder.decode, with str.lstrip for its whitespace regex.
        idx = 0
        if doc and doc[0] in _WHITESPACE:
            idx = len(doc) - len(doc.lstrip(_WHITESPACE))
        try:
            obj, end = _scan_once(doc, idx)
        except StopIteration as err:
            raise _decode_error("Expecting value", doc, err.value) from None
        size = len(doc)
        if end != size:
            end = size - len(doc[end:].lstrip(_WHITESPACE))
            if end != size:
                raise _decode_error("Extra data", doc, end)
        return obj

else:

    def dumps(obj: Any, *, separators: tuple[str, str] | None = None,
              sort_keys: bool = False) -> str:
        """``json.dumps(obj, separators=separators, sort_keys=sort_keys)``."""
        import json

        return json.dumps(obj, separators=separators, sort_keys=sort_keys)

    def loads(text: str | bytes | bytearray) -> Any:
        """``json.loads(text)``."""
        import json

        return json.loads(text)
