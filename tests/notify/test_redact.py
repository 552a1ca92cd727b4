"""redact(): secrets and token-shaped strings never survive into text Argus writes."""

from __future__ import annotations

from argus.redact import MASK, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_known_secret_and_its_url_encoded_form_are_masked() -> None:
    text = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage; also 123456789%3A{TOKEN[10:]}"
    out = redact(text, [TOKEN])
    assert TOKEN not in out
    assert TOKEN[10:] not in out
    assert out.count(MASK) == 2


def test_empty_secrets_are_ignored() -> None:
    assert redact("nothing secret here", ["", ""]) == "nothing secret here"


def test_an_unknown_token_is_masked_by_its_shape() -> None:
    other = "987654321:ZZZdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"
    out = redact(f"token={other} end", [])
    assert other not in out
    assert out == f"token={MASK} end"


def test_a_bot_path_segment_is_masked_whatever_the_token_looks_like() -> None:
    out = redact("GET http://127.0.0.1:8081/botnot-a-real-shape/sendMessage failed", [])
    assert "not-a-real-shape" not in out
    assert f"/bot{MASK}/sendMessage" in out


def test_a_secret_containing_another_is_masked_whole() -> None:
    assert redact("abcdef", ["abc", "abcdef"]) == MASK

