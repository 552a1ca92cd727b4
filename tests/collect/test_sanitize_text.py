"""safe_text: hostile text in, one printable line out."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from argus.sanitize import safe_text

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_ansi_sequences_are_removed() -> None:
    assert safe_text("\x1b[1;31mred\x1b[0m", 100) == "red"
    assert safe_text("a\x1b]0;owned title\x07b", 100) == "ab"  # OSC with BEL
    assert safe_text("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", 100) == "alinkb"  # OSC 8
    assert safe_text("\x1bcreset", 100) == "reset"  # RIS, a full terminal reset
    assert safe_text("x\x9b2Jy", 100) == "xy"  # 8-bit CSI


def test_controls_become_question_marks() -> None:
    assert safe_text("one\ntwo\rthree\tfour\x00\x7f", 100) == "one?two?three?four??"
    assert safe_text("evil\u202etxt.exe", 100) == "evil?txt.exe"  # Trojan Source


def test_bytes_are_decoded_with_replacement() -> None:
    assert safe_text(b"caf\xc3\xa9 \xff\xfe", 100) == "café \ufffd\ufffd"


def test_truncation_marks_the_cut() -> None:
    assert safe_text("x" * 10, 10) == "x" * 10
    out = safe_text("x" * 11, 10)
    assert out == "x" * 9 + "…" and len(out) == 10
    assert safe_text("x" * 10_000_000, 300).endswith("…")
    assert safe_text("abc", 0) == ""


@given(st.one_of(st.text(), st.binary()), st.integers(min_value=1, max_value=400))
def test_output_is_always_safe_and_bounded(s: str | bytes, limit: int) -> None:
    out = safe_text(s, limit)
    assert len(out) <= limit
    assert not UNSAFE.search(out)
    assert "\x1b" not in out
