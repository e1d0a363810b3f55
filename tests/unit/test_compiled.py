"""The build mode (mypyc-compiled or pure Python) is the one the test run expects, and not stale.

``scripts/test`` exports ``AIOSIO_EXPECT_COMPILED=1`` for its main pass (Python 3.11, after
``scripts/setup`` compiled the modules ``pyproject.toml`` lists under ``[tool.aiosio.mypyc]``) and
``0`` for the Python 3.12 pass, which must run the same checkout as pure Python (a ``cpython-311``
extension module is not loaded by 3.12). Without the variable the mode is only reported.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import tomllib
from pathlib import Path

import pytest

import aiosio
from aiosio import _compiled

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
EXPECT = os.environ.get("AIOSIO_EXPECT_COMPILED")


def listed() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["tool"]["aiosio"]["mypyc"]["modules"])


def is_extension(module: str) -> bool:
    path = importlib.import_module(module).__file__ or ""
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_the_mode_is_the_one_the_run_expects(capsys: pytest.CaptureFixture[str]) -> None:
    compiled = _compiled.compiled_modules()
    with capsys.disabled():
        print(f"\naiosio build mode: {_compiled.describe()}")
    if EXPECT == "1":
        missing = [m for m in listed() if m not in compiled]
        assert not missing, f"listed in pyproject.toml but not compiled: {missing} (run scripts/setup)"
        interpreted = [m for m in listed() if not is_extension(m)]
        assert not interpreted, f"compiled but imported from source: {interpreted}"
    elif EXPECT == "0":
        assert compiled == [], f"expected pure Python, found compiled modules: {compiled}"
        assert not any(is_extension(m) for m in listed())


def test_only_listed_modules_are_compiled() -> None:
    """A module taken off the list must not go on running from an old extension module."""
    extra = sorted(set(_compiled.compiled_modules()) - set(listed()))
    assert not extra, f"compiled but no longer listed: {extra} (run scripts/setup)"


@pytest.mark.skipif(
    not Path(aiosio.__file__).resolve().is_relative_to(SRC),
    reason="aiosio is not imported from this checkout",
)
def test_no_compiled_module_is_older_than_its_source() -> None:
    """An edited ``.py`` next to an older extension module would silently run the old code."""
    stale = []
    for module in _compiled.compiled_modules():
        compiled = Path(importlib.import_module(module).__file__ or "")
        source = SRC.joinpath(*module.split(".")).with_suffix(".py")
        if source.stat().st_mtime > compiled.stat().st_mtime:
            stale.append(module)
    assert not stale, f"source newer than its compiled module: {stale} (run scripts/setup to rebuild)"


def test_compiled_modules_names_match_the_files() -> None:
    for module in _compiled.compiled_modules():
        assert module.startswith("aiosio.")
        assert is_extension(module)
