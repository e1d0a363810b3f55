"""Which of aiosio's modules run compiled by mypyc (internal: for tests and ``aiosio --version``).

A wheel built with ``AIOSIO_MYPYC=1`` (or a checkout after ``scripts/setup``) carries extension
modules next to the ``.py`` sources of the modules ``pyproject.toml`` lists under
``[tool.aiosio.mypyc]``; Python imports an extension module in preference to the source beside it,
when it was built for the running interpreter (a ``cpython-311`` module is ignored by 3.12, which then
runs the same modules as pure Python).
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def compiled_modules() -> list[str]:
    """The dotted names of the aiosio modules this interpreter imports as compiled extensions."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    found = []
    for path in _PACKAGE.rglob("*"):
        # A module's file is its name plus one of this interpreter's suffixes (".so" is one of them,
        # so "session.cpython-311-x86_64-linux-gnu.so" is no module for 3.12: its stem has dots).
        stems = (path.name[: -len(s)] for s in suffixes if path.name.endswith(s))
        stem = next((stem for stem in stems if stem.isidentifier()), None)
        if stem is not None:
            rel = path.relative_to(_PACKAGE.parent)
            found.append(".".join((*rel.parent.parts, stem)))
    return sorted(found)


def describe() -> str:
    """``"mypyc: N compiled modules"`` or ``"pure Python"``, for ``aiosio --version``."""
    count = len(compiled_modules())
    return f"mypyc: {count} compiled modules" if count else "pure Python"
