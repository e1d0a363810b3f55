"""Compile aiosio's hot modules with mypyc (the build step behind ``AIOSIO_MYPYC=1``).

The modules to compile are listed once, in ``pyproject.toml`` under ``[tool.aiosio.mypyc] modules``.
Compiling is opt-in and every compiled module keeps its ``.py`` source next to it, so a package
without the extension modules (an sdist installed with no compiler, the ``py3-none-any`` wheel,
any Python the ``.so`` files were not built for) is the same code, run by the interpreter.

This file drives mypyc's own build API (``mypyc.build.mypycify`` and setuptools' ``build_ext``);
it holds no compiler logic of its own. Two callers:

- ``hatch_build.py`` (the hatch build hook) when ``AIOSIO_MYPYC=1``: the extension modules are built
  into a temporary directory and added to the wheel, which then gets a CPython platform tag;
- ``scripts/setup`` in a checkout: ``python build_mypyc.py --inplace`` puts them next to the sources
  in ``src/`` for the editable install in ``.venv`` (``--clean`` removes them again; ``--check``
  exits 1 when the build is out of date: a source changed since, or the list did).
"""

from __future__ import annotations

import argparse
import glob
import importlib.machinery
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

SRC = "src"
#: The shared library mypyc builds for the whole group: ``aiosio__mypyc.<abi>.so`` beside ``aiosio/``.
GROUP = "aiosio"


def modules(root: Path) -> list[str]:
    """The dotted names of the modules to compile, from ``pyproject.toml``."""
    with (root / "pyproject.toml").open("rb") as f:
        data = tomllib.load(f)
    names = data["tool"]["aiosio"]["mypyc"]["modules"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("[tool.aiosio.mypyc] modules must be a list of module names")
    return names


def source_of(root: Path, module: str) -> Path:
    """The ``.py`` file of a listed module (relative to ``root``)."""
    return Path(SRC, *module.split(".")).with_suffix(".py")


def artefacts(root: Path, module: str | None = None) -> list[Path]:
    """Compiled files (any Python version) in ``src/`` for ``module``, or all of aiosio's."""
    if module is None:
        patterns = [f"{GROUP}__mypyc.*", f"{GROUP}/**/*.so", f"{GROUP}/**/*.pyd"]
    else:
        stem = str(Path(*module.split(".")))
        patterns = [f"{stem}.*.so", f"{stem}.*.pyd", f"{stem}.so", f"{stem}.pyd"]
    found: set[Path] = set()
    for pattern in patterns:
        found.update(Path(p) for p in glob.glob(str(root / SRC / pattern), recursive=True))
    return sorted(found)


def _current(root: Path, module: str) -> Path | None:
    stem = root / SRC / Path(*module.split("."))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = stem.with_name(stem.name + suffix)
        if path.exists():
            return path
    return None


def stale(root: Path) -> list[str]:
    """Listed modules whose compiled module (for this Python) is missing or older than their source.

    A stale extension module would silently run old code: Python imports it in preference to the
    ``.py`` beside it.
    """
    out = []
    for module in modules(root):
        compiled = _current(root, module)
        if compiled is None or (root / source_of(root, module)).stat().st_mtime > compiled.stat().st_mtime:
            out.append(module)
    return out


def needs_build(root: Path) -> list[str]:
    """Why the in-place build must be redone (empty when it is up to date).

    Besides :func:`stale` modules: no shared library, compiled files of modules no longer listed,
    or any aiosio source (compiled code relies on the types of the modules it calls) or
    ``pyproject.toml`` newer than the shared library.
    """
    reasons = stale(root)
    shared = [p for p in artefacts(root) if p.name.startswith(f"{GROUP}__mypyc.")]
    if not shared:
        return [*reasons, f"{GROUP}__mypyc (missing)"]
    built = min(p.stat().st_mtime for p in shared)
    listed = {str(Path(*m.split("."))) for m in modules(root)}
    for path in artefacts(root):
        rel = path.relative_to(root / SRC)
        stem = str(rel.parent / rel.name.split(".")[0])
        if not path.name.startswith(f"{GROUP}__mypyc.") and stem not in listed:
            reasons.append(f"{rel} (not listed)")
    newer = [p for p in (root / SRC / GROUP).rglob("*.py") if p.stat().st_mtime > built]
    if (root / "pyproject.toml").stat().st_mtime > built:
        newer.append(root / "pyproject.toml")
    reasons += [f"{p.relative_to(root)} (changed)" for p in newer[:5]]
    return reasons


def clean(root: Path) -> None:
    """Remove every compiled aiosio module from ``src/`` (back to pure Python)."""
    for path in artefacts(root):
        path.unlink()


_SETUP = """\
import sys
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="aiosio-mypyc",
    ext_modules=mypycify({paths!r}, opt_level="3", group_name={group!r}),
    script_args=sys.argv[1:],
)
"""


def build(root: Path, *, inplace: bool, lib_dir: Path | None = None) -> list[Path]:
    """Compile the listed modules; return the extension files (relative to ``lib_dir`` or ``src/``).

    ``inplace`` puts them next to the sources in ``src/``; otherwise into ``lib_dir``. Raises
    ``RuntimeError`` with mypyc's output when the build fails (no compiler, a type error, ...).
    """
    root = root.resolve()
    # mypy reads the project's own settings; module names come from the paths (src/ has no __init__).
    paths = ["--config-file", str(root / "pyproject.toml")]
    paths += [str(root / source_of(root, m)) for m in modules(root)]
    # The extension modules carry the time the build started, not the time they were written: a
    # source edited while mypyc ran stays newer than them, so --check and tests/unit/test_compiled.py
    # see the build as stale instead of running code compiled from the older text.
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="aiosio-mypyc-") as tmp:
        # setuptools runs in the temporary directory, away from the project's pyproject.toml (hatch's).
        setup = Path(tmp, "setup.py")
        setup.write_text(_SETUP.format(paths=paths, group=GROUP), encoding="utf-8")
        out = Path(tmp, "lib") if inplace else lib_dir
        assert out is not None
        args = [sys.executable, str(setup), "build_ext", "--build-lib", str(out)]
        args += ["--build-temp", str(Path(tmp, "build"))]
        env = {**os.environ, "MYPY_CACHE_DIR": str(Path(tmp, "mypy_cache"))}
        result = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise RuntimeError(f"mypyc build failed (exit {result.returncode}):\n{output}")
        suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
        built = sorted(p.relative_to(out) for p in out.rglob("*") if p.name.endswith(suffixes))
        if inplace:
            clean(root)
            for rel in built:
                shutil.copyfile(out / rel, root / SRC / rel)
                shutil.copymode(out / rel, root / SRC / rel)
                os.utime(root / SRC / rel, (started, started))
    return built


def main() -> int:
    """``python build_mypyc.py --inplace | --clean | --check`` (run in the repository's root)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--inplace", action="store_true", help="build next to the sources in src/")
    group.add_argument("--clean", action="store_true", help="remove the compiled modules from src/")
    group.add_argument("--check", action="store_true", help="exit 1 if the in-place build is stale")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent
    if args.clean:
        clean(root)
        return 0
    if args.check:
        reasons = needs_build(root)
        if reasons:
            print("mypyc: the in-place build is out of date: " + ", ".join(reasons), file=sys.stderr)
            return 1
        return 0
    try:
        built = build(root, inplace=True)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"mypyc: compiled {len(built)} extension modules into {SRC}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
