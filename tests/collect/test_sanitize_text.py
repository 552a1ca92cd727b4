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


ANSI_FOR_ORACLE = re.compile(
    r"""
    (?: \x1b\[ | \x9b ) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?
  | (?: \x1b[\]PX^_] | [\x9d\x90\x98\x9e\x9f] ) .*? (?: \x07 | \x1b\\ | \x9c | \Z )
  | \x1b [\x20-\x7e]?
    """, re.VERBOSE | re.DOTALL)


@given(st.text(alphabet=st.one_of(
    st.sampled_from("\x1b\x9b\x9d\x90\x98\x9e\x9f\x9c\x07[]\\PX^_;0m\n\t\r\x00\x7f\u202e\u2066 "),
    st.characters())), st.integers(min_value=1, max_value=200))
def test_the_translate_shortcut_agrees_with_the_regexes(text: str, limit: int) -> None:
    # safe_text marks controls with str.translate when no escape sequence can start
    # (so that re is not imported for a newline); the result must be the regexes'.
    expected = UNSAFE.sub("?", ANSI_FOR_ORACLE.sub("", text))
    if len(expected) > limit:
        expected = expected[: limit - 1] + "…"
    if len(text) <= 4 * limit + 64:
        assert safe_text(text, limit) == expected


def test_a_newline_alone_does_not_import_re() -> None:
    import subprocess
    import sys

    code = ("import sys; from argus.sanitize import safe_text; "
            "assert safe_text('bash -c \\nset -u\\tx', 80) == 'bash -c ?set -u?x'; "
            "print('re' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
