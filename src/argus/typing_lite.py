"""``NamedTuple`` and ``TYPE_CHECKING`` without importing ``typing`` at run time.

Why: a one-shot cycle started by a timer every 5 minutes must cost no more CPU than
the bash collectors it replaces (about 30 ms on the reference machine, 10 of them
Python's own start). Importing ``typing`` alone costs about 11 ms there. And
``collections.namedtuple`` is not cheap either: it compiles each class's ``__new__``
with ``eval``, measured at ~75 us a record (~2.5 ms for the 34 records of
``argus.config_types`` and ``argus.model``; a quiet cycle has ~42), plus ~1.5 ms to
import ``collections``. Built here, a record costs ~20 us and imports nothing: those
two modules import in ~2.4 ms instead of ~7 ms. So the modules on a quiet cycle's
path import their records' base class from here:

- for mypy (``TYPE_CHECKING`` is true), this is ``typing.NamedTuple`` itself, so
  type checking is exactly as with typing;
- at run time, ``NamedTuple`` is a small metaclass that builds each record as
  ``collections.namedtuple`` does, without ``eval`` and with only the builtin
  ``_collections`` and ``_operator`` (C field getters): one subclass of ``tuple``
  with the same ``_fields``, ``_field_defaults``, ``_make``, ``_replace``,
  ``_asdict``, ``__repr__``, ``__getnewargs__`` (copy, pickle), ``__match_args__``
  and ``__slots__ = ()``. Its ``__new__`` is one closure per class taking
  ``*args, **kwargs``: all fields by position is a plain tuple copy, keywords are
  picked in C by an ``itemgetter``, and a bad call raises namedtuple's TypeError,
  word for word. The annotated fields are never evaluated (``from __future__ import
  annotations``), and the methods defined in the class body are kept, under
  typing's rules: no field without a default after one with a default, and no
  redefining ``__new__``, ``_replace``, ``_fields``... It is one class, as typing
  builds it (no namedtuple base under it): ``super()`` in its methods is tuple's.

tests/core/test_typing_lite.py holds these records side by side with namedtuple's.
Other typing names (``Any``, ``Callable``, ...) are imported under
``if TYPE_CHECKING:`` in those modules and only ever used in annotations.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy treats any name TYPE_CHECKING as always true

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    try:  # builtin modules: nothing to read from disk
        from _collections import _tuplegetter
        from _operator import itemgetter
    except ImportError:  # not CPython: the same from the pure Python module
        from operator import itemgetter

        def _tuplegetter(index, doc):
            return property(itemgetter(index), doc=doc)

    # typing.NamedTuple's rule: the class body may not redefine these.
    _PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields",
                             "_field_defaults", "_make", "_replace", "_asdict", "_source"})
    # Taken from the class body by the builder itself, or not the record's at all.
    _OWN = frozenset({"__doc__", "__annotations__", "__dict__", "__weakref__"})

    def _plan(names, defaults):
        """For a call that gives ``names`` by keyword: their getter (a tuple) and defaults."""
        if len(names) < 2:  # itemgetter(x) gives no tuple, itemgetter() no getter
            get = (lambda kwargs: (kwargs[names[0]],)) if names else (lambda kwargs: ())
        else:
            get = itemgetter(*names)
        return get, {f: defaults[f] for f in names if f in defaults}

    def _call_error(name, fields, nreq, args, kwargs):
        """The TypeError, in CPython 3.11's words, of namedtuple's ``__new__`` for a bad call."""
        where = f"{name}.__new__()"
        n, k = len(fields), len(args)
        for key in kwargs:  # the first wrong one in call order
            if key in fields[:k]:
                return TypeError(f"{where} got multiple values for argument {key!r}")
            if key not in fields:
                return TypeError(f"{where} got an unexpected keyword argument {key!r}")
        if k > n:  # CPython counts the class among the positional arguments
            takes = f"from {nreq + 1} to {n + 1}" if nreq < n else str(n + 1)
            s = "" if takes == "1" else "s"
            return TypeError(f"{where} takes {takes} positional argument{s} "
                             f"but {k + 1} were given")
        missing = [repr(f) for f in fields[k:nreq] if f not in kwargs]
        names = (" and ".join(missing) if len(missing) < 3
                 else ", ".join(missing[:-1]) + ", and " + missing[-1])
        s = "" if len(missing) == 1 else "s"
        return TypeError(f"{where} missing {len(missing)} required positional argument{s}: "
                         f"{names}")

    class _Signature:
        """``inspect.signature(Record)``: ``(a, b, c=1)`` as for namedtuple's.

        Built on demand, so that ``inspect`` is only imported by whoever asks.
        """

        def __get__(self, obj, cls):
            if obj is not None:
                raise AttributeError("__signature__")
            import inspect

            p = inspect.Parameter
            return inspect.Signature([
                p(f, p.POSITIONAL_OR_KEYWORD, default=cls._field_defaults.get(f, p.empty))
                for f in cls._fields])

    _SIGNATURE = _Signature()

    def _record(name, namespace):
        """The class ``collections.namedtuple`` would build, plus the class body's own."""
        if "__annotations__" not in namespace and "__annotate__" in namespace:
            raise TypeError(f"{name}: its module needs 'from __future__ import annotations'")
        fields = tuple(namespace.get("__annotations__", ()))
        defaults = {}
        for field in fields:
            if field.startswith("_"):
                raise ValueError(f"Field names cannot start with an underscore: {field!r}")
            if field in namespace:
                defaults[field] = namespace[field]
            elif defaults:  # typing's words
                raise TypeError(f"Non-default namedtuple field {field} cannot follow default "
                                f"field{'s' if len(defaults) > 1 else ''} {', '.join(defaults)}")
        n = len(fields)
        nreq = n - len(defaults)
        tuple_new = tuple.__new__
        arg_list = ", ".join(fields) + ("," if n == 1 else "")
        repr_fmt = "(" + ", ".join(f"{f}=%r" for f in fields) + ")"
        # By position: args + tails[len(args)] once every required field is given.
        values = tuple(defaults.values())
        tails = (None,) * nreq + tuple(values[k:] for k in range(len(values)))
        # By keyword: how many fields given by position -> _plan() of the others.
        plans = {0: _plan(fields, defaults)}
        get_all = plans[0][0]

        def __new__(cls, /, *args, **kwargs):
            # By keyword, the count of names (with the defaults filled in) must be the
            # count of fields left; then a missing field has a wrong name in its place,
            # and the getter fails on it (KeyError): _call_error() says which is wrong.
            if not kwargs:
                k = len(args)
                if k == n:
                    return tuple_new(cls, args)
                if nreq <= k < n:
                    return tuple_new(cls, args + tails[k])
            elif not args:  # all by keyword
                if len(kwargs) == n:
                    try:
                        return tuple_new(cls, get_all(kwargs))
                    except KeyError:
                        pass
                elif len(given := defaults | kwargs) == n:
                    try:
                        return tuple_new(cls, get_all(given))
                    except KeyError:
                        pass
            elif (k := len(args)) < n:  # the first k by position, the others by keyword
                try:
                    get, dflt = plans[k]
                except KeyError:
                    get, dflt = plans[k] = _plan(fields[k:], defaults)
                if len(given := dflt | kwargs) == n - k:
                    try:
                        return tuple_new(cls, args + get(given))
                    except KeyError:
                        pass
            raise _call_error(name, fields, nreq, args, kwargs)

        def _make(cls, iterable):
            result = tuple_new(cls, iterable)
            if len(result) != n:
                raise TypeError(f"Expected {n} arguments, got {len(result)}")
            return result

        def _replace(self, /, **kwds):
            result = self._make(map(kwds.pop, fields, self))
            if kwds:
                raise ValueError(f"Got unexpected field names: {list(kwds)!r}")
            return result

        def __repr__(self):
            return self.__class__.__name__ + repr_fmt % self

        def _asdict(self):
            return dict(zip(self._fields, self, strict=False))

        def __getnewargs__(self):
            return tuple(self)

        __new__.__doc__ = f"Create new instance of {name}({arg_list})"
        _make.__doc__ = f"Make a new {name} object from a sequence or iterable"
        _replace.__doc__ = f"Return a new {name} object replacing specified fields with new values"
        __repr__.__doc__ = "Return a nicely formatted representation string"
        _asdict.__doc__ = "Return a new dict which maps field names to their values."
        __getnewargs__.__doc__ = "Return self as a plain tuple.  Used by copy and pickle."
        for method in (__new__, _make, _replace, __repr__, _asdict, __getnewargs__):
            method.__qualname__ = f"{name}.{method.__name__}"
        body = {
            "__doc__": namespace.get("__doc__") or f"{name}({arg_list})",
            "__slots__": (),
            "_fields": fields,
            "_field_defaults": dict(defaults),  # its own, as namedtuple's
            "__new__": __new__,
            "_make": classmethod(_make),
            "_replace": _replace,
            "__repr__": __repr__,
            "_asdict": _asdict,
            "__getnewargs__": __getnewargs__,
            "__match_args__": fields,
            "__signature__": _SIGNATURE,
        }
        for index, field in enumerate(fields):
            body[field] = _tuplegetter(index, f"Alias for field number {index}")
        for key, value in namespace.items():  # __module__, __qualname__, methods...
            if key in _PROHIBITED:
                raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
            if key not in _OWN and key not in fields:
                body[key] = value
        return type(name, (tuple,), body)

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if namespace.get("_root"):
                return super().__new__(mcls, name, bases, namespace)
            if bases != (NamedTuple,):
                raise TypeError(f"{name}: a record can only inherit from NamedTuple")
            return _record(name, namespace)

    class NamedTuple(metaclass=_NamedTupleMeta):
        _root = True
