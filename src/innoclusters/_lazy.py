"""The package's own modules imported on first use: the one place that imports late.

``innoclusters`` and ``innoclusters.places`` keep their import light by serving their public
names on first use (PEP 562): each lists its lazy names with the module each comes from
(``_LAZY``), imports the same names under ``TYPE_CHECKING`` for type checkers and readers
(tests/test_architecture.py checks that the two agree), and takes its module ``__getattr__``
and ``__dir__`` from :func:`lazy_names`. The command layer holds the heavy modules it calls
as :class:`LazyModule` objects, under the same ``TYPE_CHECKING`` rule.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class LazyModule:
    """A module of the package imported when its first attribute is looked up."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.name), attr)


def lazy_names(
    package: str, lazy: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``.

    A name of ``lazy`` is imported from its module on first use and kept in the package's
    namespace, so later look-ups are plain attribute reads; ``dir()`` lists ``public``.
    """

    def load(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(lazy[name]), name)
            vars(sys.modules[package])[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def listing() -> list[str]:
        return sorted(public)

    return load, listing
