"""argus.jsonfast gives exactly json's results, and falls back to json without _json."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus import jsonfast

assert jsonfast._fast, "these tests are meant to exercise the _json path"

# JSON-able values: text with any code point but lone surrogates (control characters
# included), ints well past 64 bits, floats with nan and the infinities.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=30,
)

# Text that looks like JSON often enough to reach every error the scanner has.
FRAGMENTS = ["{", "}", "[", "]", ",", ":", '"', "\\", "\\u", "\\ud800", "00", "a", "1", "-",
             ".", "e", "E+", "null", "nul", "true", "false", "NaN", "Infinity", "-Infinity",
             " ", "\t", "\n", "\r", "\x0b", "\xa0", "\x00", "\x1f", "\ufeff", "é", "😀"]
jsonish = st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join)

HAND_PICKED_INVALID = ["", "  ", " \n\t\r ", "{", "[1,]", "1 2", "nul", '"\\x"', "[", '{"a"}',
                       '{"a":}', "[1 2]", '"abc', '"\x01"', "01", "1.", "-", "nan", "inf",
                       "\ufeff1", "\x0c1", "1\x0c", "\xa01", "[] []", "{}x"]


def same(a: Any, b: Any) -> bool:
    """Equal, type for type and order for order; NaN equals NaN, -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """("ok", result) or (exception type name, its message and JSONDecodeError pos)."""
    try:
        return "ok", fn(*args, **kwargs)
    except json.JSONDecodeError as err:
        return "JSONDecodeError", (err.msg, err.pos, str(err))
    except (ValueError, TypeError) as err:
        return type(err).__name__, str(err)


def assert_same_outcome(text: str | bytes) -> None:
    expected, got = outcome(json.loads, text), outcome(jsonfast.loads, text)
    assert expected[0] == got[0], (text, expected, got)
    if expected[0] == "ok":
        assert same(expected[1], got[1]), (text, expected, got)
    else:
        assert expected[1] == got[1], (text, expected, got)


# -- dumps ---------------------------------------------------------------------


@given(values)
def test_dumps_is_json_dumps(v: Any) -> None:
    assert jsonfast.dumps(v) == json.dumps(v)


@given(values)
def test_dumps_compact_and_sorted_are_json_dumps(v: Any) -> None:
    assert jsonfast.dumps(v, separators=(",", ":")) == json.dumps(v, separators=(",", ":"))
    assert (jsonfast.dumps(v, separators=(", ", ": "))
            == json.dumps(v, ensure_ascii=True, separators=(", ", ": ")))
    assert jsonfast.dumps(v, sort_keys=True) == json.dumps(v, sort_keys=True)
    assert (jsonfast.dumps(v, separators=(",", ":"), sort_keys=True)
            == json.dumps(v, separators=(",", ":"), sort_keys=True))


@given(st.dictionaries(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                       values, max_size=6))
def test_dumps_non_text_keys_like_json(v: dict[Any, Any]) -> None:
    assert jsonfast.dumps(v) == json.dumps(v)


@given(st.text(st.characters(exclude_categories=())))
def test_dumps_lone_surrogates_like_json(s: str) -> None:
    assert jsonfast.dumps([s, {s: s}]) == json.dumps([s, {s: s}])
    assert_same_outcome(json.dumps(s))


@pytest.mark.parametrize("bad", [object(), {1, 2}, b"bytes", 1j, [1, object()],
                                 {"a": {"b": Ellipsis}}, {(1, 2): 3}, {"a": {b"k": 1}}])
def test_dumps_rejects_what_json_rejects(bad: Any) -> None:
    expected = outcome(json.dumps, bad)
    assert expected[0] == "TypeError"
    assert outcome(jsonfast.dumps, bad) == expected
    assert outcome(jsonfast.dumps, bad, sort_keys=True) == outcome(json.dumps, bad,
                                                                   sort_keys=True)


def test_dumps_circular_is_a_value_error_and_leaves_no_stale_marker() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert outcome(jsonfast.dumps, loop) == outcome(json.dumps, loop) == (
        "ValueError", "Circular reference detected")
    shared = [1]
    assert jsonfast.dumps([shared, shared, {"x": shared}]) == '[[1], [1], {"x": [1]}]'
    # A failure half-way through must not poison the next call.
    half: dict[str, Any] = {"a": shared, "b": object()}
    with pytest.raises(TypeError):
        jsonfast.dumps(half)
    assert jsonfast.dumps({"a": shared}) == '{"a": [1]}'


def test_dumps_mixed_keys_with_sort_keys_is_a_type_error_like_json() -> None:
    bad = {"a": 1, 2: 3}
    assert outcome(jsonfast.dumps, bad, sort_keys=True) == outcome(json.dumps, bad,
                                                                   sort_keys=True)
    assert outcome(jsonfast.dumps, bad, sort_keys=True)[0] == "TypeError"


# -- loads ---------------------------------------------------------------------


@given(values)
def test_loads_of_json_dumps_is_json_loads(v: Any) -> None:
    for text in (json.dumps(v), json.dumps(v, separators=(",", ":")),
                 json.dumps(v, ensure_ascii=False), json.dumps(v, indent=2),
                 f" \t\r\n{json.dumps(v)}\n\r\t "):
        got = jsonfast.loads(text)
        assert same(got, json.loads(text))
        assert same(jsonfast.loads(text.encode()), got)
        assert same(jsonfast.loads(bytearray(text.encode())), got)


@given(values, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                "utf-32", "utf-32-le", "utf-32-be"]))
def test_loads_bytes_in_every_encoding_json_detects(v: Any, encoding: str) -> None:
    data = json.dumps(v, ensure_ascii=False).encode(encoding)
    assert same(jsonfast.loads(data), json.loads(data))


@given(st.binary(max_size=12))
def test_loads_arbitrary_bytes_like_json(data: bytes) -> None:
    try:
        expected = json.loads(data)
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            jsonfast.loads(data)
        return
    except json.JSONDecodeError:
        pass
    else:
        assert same(jsonfast.loads(data), expected)
        return
    assert_same_outcome(data)


@settings(max_examples=300)
@given(jsonish | st.text())
def test_loads_agrees_with_json_on_any_text(text: str) -> None:
    """Valid or not: the same value, or the same JSONDecodeError (message, position)."""
    assert_same_outcome(text)


@pytest.mark.parametrize("text", HAND_PICKED_INVALID)
def test_loads_rejects_invalid_documents_like_json(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as err:
        jsonfast.loads(text)
    assert isinstance(err.value, ValueError)
    assert_same_outcome(text)
    assert_same_outcome(text.encode("utf-8", "surrogatepass"))


def test_loads_constants_and_whitespace() -> None:
    got = jsonfast.loads(' \n[NaN, Infinity, -Infinity, -0.0, 1e400, 12345678901234567890123]\r\t')
    assert math.isnan(got[0]) and got[1:4] == [math.inf, -math.inf, 0.0]
    assert math.copysign(1, got[3]) == -1 and got[4] == math.inf
    assert got[5] == 12345678901234567890123
    assert jsonfast.loads(b'{"a": [1, 2.5, null, true, false, "\\u00e9\\ud83d\\ude00"]}\n') == {
        "a": [1, 2.5, None, True, False, "é😀"]}


def test_loads_rejects_non_text_like_json() -> None:
    for bad in (None, 1, ["[]"], memoryview(b"[]")):
        assert outcome(jsonfast.loads, bad) == outcome(json.loads, bad)
        assert outcome(jsonfast.loads, bad)[0] == "TypeError"


# -- import cost and fallback ----------------------------------------------------


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_fast_path_imports_neither_json_nor_re() -> None:
    out = run_python("""
        import sys
        from argus import jsonfast
        assert jsonfast._fast
        assert jsonfast.loads(jsonfast.dumps({"a": [1.5, None]}) + "\\n") == {"a": [1.5, None]}
        assert jsonfast.loads(b'{"a": 1}') == {"a": 1}
        print(sorted(m for m in ("json", "json.decoder", "re", "enum") if m in sys.modules))
    """)
    assert out.strip() == "[]"


CHECK_FALLBACK = """
    import json, math
    from argus import jsonfast
    assert not jsonfast._fast, "the fallback was not taken"
    samples = [None, True, 1, 2**100, 1.5, -0.0, "é\\n\\x00😀", [1, [2, {"a": {}}]],
               {"b": 1, "a": [None, "x"]}, {1: 2, 0.5: 3, 7: 4}]
    for v in samples:
        assert jsonfast.dumps(v) == json.dumps(v)
        assert jsonfast.dumps(v, separators=(",", ":")) == json.dumps(v, separators=(",", ":"))
        assert jsonfast.dumps(v, sort_keys=True) == json.dumps(v, sort_keys=True)
        assert jsonfast.loads(json.dumps(v)) == json.loads(json.dumps(v))
        assert jsonfast.loads(json.dumps(v).encode()) == json.loads(json.dumps(v))
    assert jsonfast.dumps(float("nan")) == "NaN"
    assert math.isnan(jsonfast.loads(" NaN\\n"))
    for bad in ["", "  ", "{", "[1,]", "1 2", "nul", '"\\\\x"']:
        try:
            jsonfast.loads(bad)
        except json.JSONDecodeError as err:
            try:
                json.loads(bad)
            except json.JSONDecodeError as expected:
                assert str(err) == str(expected), (bad, err, expected)
        else:
            raise AssertionError(f"{bad!r} was accepted")
    try:
        jsonfast.dumps(object())
    except TypeError:
        pass
    else:
        raise AssertionError("object() was serialised")
    print("fallback ok")
"""


def test_fallback_without_the_c_accelerator() -> None:
    out = run_python("import sys\nsys.modules['_json'] = None\n"
                     + textwrap.dedent(CHECK_FALLBACK))
    assert out.strip() == "fallback ok"


def test_fallback_when_the_c_functions_take_other_arguments() -> None:
    # json keeps the real _json (imported first); jsonfast meets one whose
    # make_encoder and make_scanner take other arguments, as a future Python might.
    out = run_python(textwrap.dedent("""
        import sys, types, json, _json
        fake = types.ModuleType("_json")
        fake.encode_basestring_ascii = _json.encode_basestring_ascii
        def make_encoder(*args):
            raise TypeError("make_encoder() takes 10 arguments")
        def make_scanner(context):
            return context.no_such_attribute
        fake.make_encoder = make_encoder
        fake.make_scanner = make_scanner
        sys.modules["_json"] = fake
    """) + textwrap.dedent(CHECK_FALLBACK))
    assert out.strip() == "fallback ok"
