"""Hatch build hook: put the pinned socket.io-client browser bundle into the demo before packaging.

The demo page (``aiosio serve``) loads ``socket.io.min.js`` from aiosio itself. That file is
third-party code, so it is never committed: it comes from the npm package ``socket.io-client`` at
the version pinned by ``package-lock.json``. Before a wheel or an sdist is built, this hook makes
sure ``src/aiosio/demo/static/vendor/`` holds that exact version:

1. a copy already there with the pinned version is used as it is (an sdist carries one);
2. otherwise it is copied from ``node_modules/socket.io-client/dist/`` if that has the pinned
   version;
3. otherwise ``npm ci`` is run (it installs exactly what ``package-lock.json`` pins) and the
   files are copied from there.

If none of that works (no npm, no network), the build fails with the one command that fixes it,
never producing a package whose demo page silently cannot connect. An editable install
(``pip install -e .``) only warns: a checkout serves the bundle from ``node_modules`` directly,
and ``aiosio serve`` says loudly at start-up when it is missing.

With ``AIOSIO_MYPYC=1`` in the environment, a wheel build also compiles the modules listed in
``pyproject.toml`` (``[tool.aiosio.mypyc]``) with mypyc (``build_mypyc.py`` beside this file): the
wheel then carries the extension modules next to their ``.py`` sources and a CPython platform tag.
Without it the wheel is the pure-Python ``py3-none-any`` one (the default, for sdist installs too).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: The files the demo serves, as named in ``node_modules/socket.io-client/dist/``.
BUNDLES = ("socket.io.min.js", "socket.io.msgpack.min.js")
VENDOR = Path("src") / "aiosio" / "demo" / "static" / "vendor"
DIST = Path("node_modules") / "socket.io-client" / "dist"
#: The one command that fixes a failed build (run in the repository's root).
FIX = "npm ci"

#: Set to ``1`` to compile the listed modules with mypyc into the wheel.
MYPYC_ENV = "AIOSIO_MYPYC"

_VERSION = re.compile(rb"Socket\.IO v(\d+\.\d+\.\d+\S*)")


class BundleError(RuntimeError):
    """The bundle cannot be produced; the message says why and what to run."""


def pinned_version(root: Path) -> str:
    """The ``socket.io-client`` version ``package-lock.json`` pins."""
    lock = root / "package-lock.json"
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
        return str(data["packages"]["node_modules/socket.io-client"]["version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"cannot read the pinned socket.io-client version from {lock}: {exc}") from None


def bundle_version(path: Path) -> str | None:
    """The version in a bundle's banner comment (``Socket.IO v4.8.4``), or ``None``."""
    try:
        with path.open("rb") as f:
            match = _VERSION.search(f.read(400))
    except OSError:
        return None
    return match.group(1).decode() if match else None


def _all_at(directory: Path, version: str) -> bool:
    return all(bundle_version(directory / name) == version for name in BUNDLES)


def _copy(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in BUNDLES:
        shutil.copyfile(source / name, target / name)


def _npm_ci(root: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise BundleError("npm is not installed (the bundle comes from the npm registry)")
    print(f"aiosio build: running `{FIX}` for the socket.io-client bundle", file=sys.stderr, flush=True)
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BundleError(f"`{FIX}` could not run: {exc}") from None
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-2000:]
        raise BundleError(f"`{FIX}` failed (exit status {result.returncode}):\n{output}")


def ensure_bundle(root: Path) -> Path:
    """Make ``VENDOR`` under ``root`` hold the pinned bundles; return that directory.

    Raises :class:`BundleError` when they cannot be produced.
    """
    vendor, dist = root / VENDOR, root / DIST
    version = pinned_version(root)
    if _all_at(vendor, version):
        return vendor
    if not _all_at(dist, version):
        _npm_ci(root)
        if not _all_at(dist, version):
            found = bundle_version(dist / BUNDLES[0])
            raise BundleError(
                f"after `{FIX}`, {dist / BUNDLES[0]} is version {found}, not the pinned {version}"
            )
    _copy(dist, vendor)
    return vendor


def mypyc_wanted() -> bool:
    """True when the environment asks for the compiled build (``AIOSIO_MYPYC=1``)."""
    return os.environ.get(MYPYC_ENV, "") == "1"


def _build_mypyc(root: Path) -> ModuleType:
    # build_mypyc.py sits beside this file; hatchling loads this hook by path, not as a package.
    spec = importlib.util.spec_from_file_location("aiosio_build_mypyc", root / "build_mypyc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CustomBuildHook(BuildHookInterface):
    """Runs :func:`ensure_bundle` before every wheel and sdist build; compiles with mypyc on request."""

    PLUGIN_NAME = "custom"

    def _mypyc(self, version: str) -> bool:
        # An editable install imports from src/, where `python build_mypyc.py --inplace` (run by
        # scripts/setup) puts the extension modules; the hook compiles only real wheels.
        return self.target_name == "wheel" and version != "editable" and mypyc_wanted()

    def dependencies(self) -> list[str]:
        """mypyc's build needs mypy, setuptools and aiosio's own dependencies (for their types)."""
        if self.target_name != "wheel" or not mypyc_wanted():
            return []
        return ["mypy>=1.11", "setuptools>=70", *self.metadata.core.dependencies]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Bring in the bundle, or fail the build with the command that fixes it; then mypyc."""
        root = Path(self.root)
        try:
            ensure_bundle(root)
        except BundleError as exc:
            message = (
                f"aiosio: the demo's socket.io-client browser bundle is missing: {exc}\n"
                f"Fix: run `{FIX}` in {root} (needs Node.js and npm; it installs the version "
                "package-lock.json pins), then build or install again."
            )
            if self.target_name == "wheel" and version == "editable":
                # A checkout serves node_modules directly; `aiosio serve` warns when it is absent.
                print(f"warning: {message}", file=sys.stderr, flush=True)
            else:
                raise BundleError(message) from None
        if self._mypyc(version):
            self._compile(root, build_data)

    def _compile(self, root: Path, build_data: dict[str, Any]) -> None:
        tool = _build_mypyc(root)
        print("aiosio build: compiling with mypyc (AIOSIO_MYPYC=1)", file=sys.stderr, flush=True)
        self._mypyc_dir = tempfile.TemporaryDirectory(prefix="aiosio-mypyc-lib-")
        lib = Path(self._mypyc_dir.name)
        for rel in tool.build(root, inplace=False, lib_dir=lib):
            build_data["force_include"][str(lib / rel)] = str(rel)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the compiled modules' temporary directory once the wheel holds them."""
        lib = getattr(self, "_mypyc_dir", None)
        if lib is not None:
            lib.cleanup()
