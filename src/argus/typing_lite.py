"""``NamedTuple`` and ``TYPE_CHECKING`` without importing ``typing`` at run time.

Why: a one-shot cycle started by a timer every 5 minutes must cost no more CPU than
the bash collectors it replaces (about 30 ms on the reference machine), and
importing ``typing`` alone costs about 11 ms there, a third of that budget. So the
modules on a quiet cycle's path import their records' base class from here:

- for mypy (``TYPE_CHECKING`` is true), this is ``typing.NamedTuple`` itself, so
  type checking is exactly as with typing;
- at run time, ``NamedTuple`` is a small metaclass that builds the class with
  ``collections.namedtuple`` from the annotated fields (with
  ``from __future__ import annotations`` they are never evaluated) and keeps the
  methods defined in the class body, as typing's own NamedTuple does.

Other typing names (``Any``, ``Callable``, ...) are imported under
``if TYPE_CHECKING:`` in those modules and only ever used in annotations.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy treats any name TYPE_CHECKING as always true

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import collections

    _RESERVED = {"__module__", "__qualname__", "__annotations__", "__doc__", "__dict__",
                 "__weakref__"}

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if namespace.get("_root"):
                return super().__new__(mcls, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[f] for f in fields if f in namespace]
            base = collections.namedtuple(name, fields, defaults=defaults or None,
                                          module=namespace.get("__module__"))
            body = {k: v for k, v in namespace.items()
                    if k not in fields and k not in _RESERVED}
            body["__slots__"] = ()
            body["__doc__"] = namespace.get("__doc__") or base.__doc__
            body["__module__"] = namespace.get("__module__")
            body["__qualname__"] = namespace.get("__qualname__", name)
            return type(name, (base,), body)

    class NamedTuple(metaclass=_NamedTupleMeta):
        _root = True
