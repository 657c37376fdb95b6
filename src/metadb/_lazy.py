"""Lazy package attributes (PEP 562), so that importing a package costs only what is used.

``import metadb.client`` must not load SQLAlchemy, the drivers or the server: the client shares
the store's dataclasses and the wire models, not the engine. A package therefore imports its
light names (dataclasses, errors, constants) at once and names its heavy ones (the stores,
``Database``) in a table that :func:`lazy_attributes` resolves on first use::

    __getattr__, __dir__ = lazy_attributes(__name__, {"RunStore": "metadb.runs.store"})

The package also imports those names under ``if TYPE_CHECKING:``, so that mypy and editors see
them; ``tests/test_public_api.py`` checks that every name in ``__all__`` resolves.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``: ``names`` maps each lazy
    attribute to the module that defines it, imported on the attribute's first use.

    Raises (from ``__getattr__``):
        AttributeError: the package has no attribute of that name.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
