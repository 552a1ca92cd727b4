"""argus.typing_lite's records behave as ``collections.namedtuple``'s, side by side.

The run-time ``NamedTuple`` builds each record class without ``eval`` (see the module's
docstring); everything Argus does with a record must work as it did with namedtuple:
construction (and the TypeError of a bad call, word for word: the reference is the
namedtuple of the running Python), ``_make``, ``_replace``, ``_asdict``, ``_fields``,
``_field_defaults``, repr, tuple-ness, copy, pickle, ``match``, and the class body's
own methods. And importing it loads neither ``collections`` nor ``typing``.
"""

from __future__ import annotations

import builtins
import collections
import copy
import inspect
import json
import pickle
import subprocess
import sys
import types
import typing
from keyword import iskeyword
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.typing_lite import NamedTuple

# -- records built by class statements, at module level so that pickle finds them --


class Empty(NamedTuple):
    pass


class One(NamedTuple):
    a: int


class OneDefault(NamedTuple):
    a: int = 1


class Five(NamedTuple):
    a: int
    b: str
    c: float
    d: int = 0
    e: str | None = None


class Point(NamedTuple):
    """A point on the grid."""

    x: int
    y: int = 0
    ORIGIN_NAME = "origin"  # not annotated: a class attribute, not a field

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)

    @classmethod
    def origin(cls) -> Point:
        return cls(0)

    @staticmethod
    def unit() -> Point:
        return Point(1, 1)

    def __str__(self) -> str:
        return f"<{self.x},{self.y}>"


# The same field lists, from collections.namedtuple.
REFERENCE = {
    Empty: collections.namedtuple("Empty", []),
    One: collections.namedtuple("One", ["a"]),
    OneDefault: collections.namedtuple("OneDefault", ["a"], defaults=[1]),
    Five: collections.namedtuple("Five", ["a", "b", "c", "d", "e"], defaults=[0, None]),
    Point: collections.namedtuple("Point", ["x", "y"], defaults=[0]),
}


def outcome(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """What a call gives: its value as plain data, or its exception's type and words."""
    try:
        result = call(*args, **kwargs)
    except Exception as err:  # any exception, to compare
        return type(err), str(err)
    if isinstance(result, tuple):
        return "ok", type(result).__name__, tuple(result), repr(result)
    return "ok", result


def lite_class(name: str, fields: list[str], defaults: tuple[Any, ...]) -> Any:
    """A record as a class statement would build it, from a field list."""
    body = {"__module__": __name__, "__qualname__": name,
            "__annotations__": dict.fromkeys(fields, "int")}
    body.update(zip(fields[len(fields) - len(defaults):], defaults, strict=True))
    return types.new_class(name, (NamedTuple,), exec_body=lambda ns: ns.update(body))


# -- side by side on fixed calls -----------------------------------------------------

CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}), ((1,), {}), ((1, "x"), {}), ((1, "x", 2.0), {}), ((1, "x", 2.0, 3), {}),
    ((1, "x", 2.0, 3, "y"), {}), ((1, "x", 2.0, 3, "y", 9), {}), ((1,) * 7, {}),
    ((), {"a": 1}), ((), {"a": 1, "b": "x", "c": 2.0}),
    ((), {"e": "y", "d": 3, "c": 2.0, "b": "x", "a": 1}),
    ((), {"a": 1, "b": "x"}), ((), {"b": "x"}), ((), {"c": 1}),
    ((1,), {"a": 2}), ((1, "x"), {"c": 2.0}), ((1, "x"), {"c": 2.0, "e": "y"}),
    ((1,), {"b": "x", "zz": 1}), ((1,), {"zz": 1, "b": "x"}), ((), {"zz": 1}),
    ((), {"a": 1, "b": "x", "c": 2.0, "zz": 0}), ((), {"a": 1, "b": "x", "zz": 0}),
    ((), {"a": 1, "b": "x", "c": 2.0, "d": 4, "zz": 0}),
    ((1, "x", 2.0, 3, "y"), {"a": 1}), ((1, "x", 2.0, 3, "y", 6), {"c": 1}),
    ((1, "x", 2.0, 3, "y", 6), {"zz": 1}), ((1, "x"), {"a": 0, "zz": 1}),
    ((1, "x"), {"zz": 1, "a": 0}), ((), {"cls": 1}), ((), {"_cls": 1, "a": 1}),
    ((), {"x": 1}), ((), {"y": 2}), ((5,), {"y": 2}), ((5,), {"x": 2}),
]


@pytest.mark.parametrize("lite", list(REFERENCE), ids=lambda c: c.__name__)
def test_construction_and_its_errors_are_namedtuples(lite: Any) -> None:
    ref = REFERENCE[lite]
    for args, kwargs in CALLS:
        if kwargs.keys() & {"_cls"}:
            # The one difference: namedtuple's __new__ names its class argument
            # ``_cls`` (TypeError: multiple values), ours takes it by position only
            # (TypeError: unexpected keyword). A TypeError either way.
            assert outcome(lite, *args, **kwargs)[0] is TypeError
            continue
        assert outcome(lite, *args, **kwargs) == outcome(ref, *args, **kwargs), (args, kwargs)


@pytest.mark.parametrize("lite", list(REFERENCE), ids=lambda c: c.__name__)
def test_class_attributes_are_namedtuples(lite: Any) -> None:
    ref = REFERENCE[lite]
    assert lite._fields == ref._fields
    assert lite.__match_args__ == ref.__match_args__
    assert lite._field_defaults == ref._field_defaults
    assert lite.__slots__ == ()
    assert lite.__mro__[1:] == (tuple, object)
    assert lite.__new__.__doc__ == ref.__new__.__doc__
    assert lite.__new__.__qualname__ == ref.__new__.__qualname__
    assert str(inspect.signature(lite)) == str(inspect.signature(ref))
    for name in ref._fields:
        assert getattr(lite, name).__doc__ == getattr(ref, name).__doc__
    if lite is not Point:
        assert lite.__doc__ == ref.__doc__
    for name in ("_make", "_replace", "_asdict", "__getnewargs__", "__repr__"):
        assert getattr(lite, name).__doc__ == getattr(ref, name).__doc__, name


def test_field_defaults_is_a_copy_as_with_namedtuple() -> None:
    lite, ref = lite_class("R", ["a", "b"], (2,)), collections.namedtuple("R", "a b", defaults=[2])
    lite._field_defaults["b"] = ref._field_defaults["b"] = 3
    assert lite(1) == ref(1) == (1, 2)
    assert lite(a=1) == ref(a=1) == (1, 2)


def test_methods_are_namedtuples() -> None:
    five, ref = Five(1, "x", 2.0), REFERENCE[Five](1, "x", 2.0)
    assert repr(five) == repr(ref) == "Five(a=1, b='x', c=2.0, d=0, e=None)"
    assert five._asdict() == ref._asdict()
    assert type(five._asdict()) is dict
    assert five.__getnewargs__() == (1, "x", 2.0, 0, None)
    assert type(five.__getnewargs__()) is tuple
    for changes in ({}, {"b": "z"}, {"e": "q", "a": 7}, {"zz": 1}, {"zz": 1, "a": 2, "yy": 3}):
        assert outcome(five._replace, **changes) == outcome(ref._replace, **changes), changes
    for values in ([1, "x", 2.0, 0, None], (v for v in (1, "x", 2.0, 0, None)), [1], [],
                   [1] * 6, "abcde", 5):
        if not isinstance(values, (list, str, int)):
            values = list(values)
        assert outcome(Five._make, values) == outcome(REFERENCE[Five]._make, values), values
    assert Five._make(iter([1, "x", 2.0, 0, None])) == five
    assert type(Five._make([1, "x", 2.0, 0, None])) is Five


def test_instances_are_tuples() -> None:
    five = Five(1, "x", 2.0, 3, "y")
    assert isinstance(five, tuple)
    assert five == (1, "x", 2.0, 3, "y") == REFERENCE[Five](1, "x", 2.0, 3, "y")
    assert hash(five) == hash((1, "x", 2.0, 3, "y"))
    assert five[1] == five.b == "x" and five[-1] == "y" and five[1:3] == ("x", 2.0)
    a, b, *rest = five
    assert (a, b, rest) == (1, "x", [2.0, 3, "y"])
    assert Point(1, 2) < Point(2, 0) < (2, 1)
    assert sorted([Point(3), Point(1, 5), Point(1, 2)]) == [(1, 2), (1, 5), (3, 0)]
    assert len({Point(1), Point(1, 0), (1, 0)}) == 1
    assert five.count("x") == 1 and five.index(2.0) == 2
    assert not hasattr(five, "__dict__")
    assert sys.getsizeof(five) == sys.getsizeof((1, "x", 2.0, 3, "y"))
    with pytest.raises(AttributeError):
        five.a = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        five.other = 2  # type: ignore[attr-defined]
    assert json.dumps(five) == "[1, \"x\", 2.0, 3, \"y\"]"


def test_copy_pickle_and_match() -> None:
    point = Point(3, 4)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(point, protocol))
        assert back == point and type(back) is Point
    assert copy.copy(point) == point and type(copy.copy(point)) is Point
    nested = Five(1, "x", 2.0, 3, [Point(1)])  # type: ignore[arg-type]
    deep = copy.deepcopy(nested)
    assert deep == nested and type(deep) is Five and deep.e is not nested.e
    match point:
        case Point(x, y=4):
            assert x == 3
        case _:
            pytest.fail("no match")


def test_the_class_body_is_kept() -> None:
    point = Point(3, -4)
    assert point.norm1 == 7
    assert point.moved(2) == Point(5, -4) and type(point.moved(2)) is Point
    assert Point.origin() == (0, 0) and type(Point.origin()) is Point
    assert Point.unit() == (1, 1)
    assert str(point) == "<3,-4>" and repr(point) == "Point(x=3, y=-4)"
    assert Point.ORIGIN_NAME == "origin" and "ORIGIN_NAME" not in Point._fields
    assert Point.__doc__ == "A point on the grid."
    assert Point.__module__ == __name__ and Point.__qualname__ == "Point"


def test_a_record_without_eval_or_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refused)
    monkeypatch.setattr(builtins, "exec", refused)
    record = lite_class("R", ["a", "b"], (2,))
    assert record(1) == (1, 2) and record(b=3, a=1) == (1, 3)


# -- typing.NamedTuple's rules for the class statement, in typing's words -------------


def build(base: Any, body: dict[str, Any]) -> Any:
    body = {"__module__": __name__, **body}
    return types.new_class("R", (base,), exec_body=lambda ns: ns.update(body))


@pytest.mark.parametrize("body", [
    {"__annotations__": {"a": "int", "b": "int"}, "a": 1},  # no default after a default
    {"__annotations__": {"a": "int", "b": "int", "c": "int"}, "a": 1, "b": 2},
    {"__annotations__": {"_a": "int"}},  # underscore field
    {"__annotations__": {"a": "int"}, "_replace": lambda self: None},  # reserved name
    {"__annotations__": {"a": "int"}, "__new__": lambda cls: None},
    {"__annotations__": {"a": "int"}, "_fields": ()},
])
def test_bad_class_statements_fail_as_with_typing(body: dict[str, Any]) -> None:
    assert outcome(build, NamedTuple, body) == outcome(build, typing.NamedTuple, body)
    assert outcome(build, NamedTuple, body)[0] != "ok"


def test_a_record_has_only_namedtuple_as_base() -> None:
    with pytest.raises(TypeError, match="only inherit from NamedTuple"):
        types.new_class("R", (NamedTuple, object))


# -- the differential property: any field list, any call --------------------------------

NAMES = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(lambda s: not iskeyword(s)),
    st.sampled_from(["count", "index", "cls", "self", "args", "kwargs", "kwds", "fields"]))


@st.composite
def field_lists(draw: st.DrawFn) -> tuple[list[str], tuple[Any, ...]]:
    fields = draw(st.lists(NAMES, unique=True, max_size=8))
    ndefaults = draw(st.integers(0, len(fields)))
    return fields, tuple(draw(st.lists(st.integers(), min_size=ndefaults, max_size=ndefaults)))


@settings(max_examples=300, deadline=None)
@given(spec=field_lists(), data=st.data())
def test_any_call_behaves_as_with_namedtuple(spec: tuple[list[str], tuple[Any, ...]],
                                             data: st.DataObject) -> None:
    fields, defaults = spec
    lite = lite_class("R", fields, defaults)
    ref = collections.namedtuple("R", fields, defaults=defaults)
    assert (lite._fields, lite._field_defaults) == (ref._fields, ref._field_defaults)
    assert str(inspect.signature(lite)) == str(inspect.signature(ref))
    names = st.sampled_from([*fields, "zz", "cls"])
    for _ in range(5):
        args = data.draw(st.lists(st.integers(), max_size=len(fields) + 2), label="args")
        kwargs = data.draw(st.dictionaries(names, st.integers(), max_size=len(fields) + 2),
                           label="kwargs")
        assert outcome(lite, *args, **kwargs) == outcome(ref, *args, **kwargs)
    values = data.draw(st.lists(st.integers(), min_size=len(fields), max_size=len(fields)))
    record, plain = lite(*values), ref(*values)
    changes = data.draw(st.dictionaries(names, st.integers()), label="changes")
    assert outcome(record._replace, **changes) == outcome(plain._replace, **changes)
    assert outcome(lite._make, values[1:]) == outcome(ref._make, values[1:])


@settings(max_examples=300, deadline=None)
@given(spec=field_lists(), data=st.data())
def test_round_trips(spec: tuple[list[str], tuple[Any, ...]], data: st.DataObject) -> None:
    fields, defaults = spec
    lite = lite_class("R", fields, defaults)
    values = data.draw(st.lists(st.integers() | st.text(max_size=3) | st.none(),
                                min_size=len(fields), max_size=len(fields)))
    record = lite(*values)
    assert tuple(record) == tuple(values) and type(record) is lite
    assert lite(**dict(zip(fields, values, strict=True))) == record
    assert lite(**record._asdict()) == record == lite._make(iter(values))
    assert list(record._asdict()) == fields
    assert [getattr(record, f) for f in fields] == values
    given = len(fields) - len(defaults)  # the required ones, then defaults fill the rest
    assert tuple(lite(*values[:given])) == (*values[:given], *defaults)
    split = data.draw(st.integers(0, len(fields)), label="split")
    assert lite(*values[:split], **dict(zip(fields[split:], values[split:], strict=True))) \
        == record
    changes = data.draw(st.dictionaries(st.sampled_from(fields), st.integers())
                        if fields else st.just({}), label="changes")
    replaced = record._replace(**changes)
    assert replaced._asdict() == {**record._asdict(), **changes} and type(replaced) is lite
    assert copy.deepcopy(record) == record and type(copy.copy(record)) is lite
    assert hash(record) == hash(tuple(values))


# -- Argus's own records --------------------------------------------------------------


def argus_records() -> list[Any]:
    import argus.config_types
    import argus.model
    import argus.model_diagnostics

    return [value for module in (argus.config_types, argus.model, argus.model_diagnostics)
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, tuple)
            and value.__module__ == module.__name__]


def test_argus_records_are_namedtuples() -> None:
    records = argus_records()
    assert len(records) >= 30
    for record in records:
        ref = collections.namedtuple(record.__name__, record._fields,
                                     defaults=tuple(record._field_defaults.values()))
        values = [f"v{i}" for i in range(len(record._fields))]
        assert repr(record(*values)) == repr(ref(*values))
        assert record(*values)._asdict() == ref(*values)._asdict()
        required = len(record._fields) - len(record._field_defaults)
        assert outcome(record, *values[:required]) == outcome(ref, *values[:required])
        assert record.__slots__ == () and record.__module__.startswith("argus.")
    import argus.config_types as cfg

    assert cfg.Config().thresholds == cfg.Thresholds()
    assert cfg.Processes().orphans == (cfg.OrphanRule("node.*--test", 3),)


# -- the point of it all: a cheap import -----------------------------------------------

HEAVY = ("collections", "typing", "functools", "re", "enum", "operator", "inspect")

PROBE = """
import json, sys
before = set(sys.modules)
import argus.typing_lite, argus.config_types, argus.model
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_the_records_loads_nothing_heavy() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    loaded = set(json.loads(out.stdout))
    assert {"argus.typing_lite", "argus.config_types", "argus.model"} <= loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
