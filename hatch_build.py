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
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: The files the demo serves, as named in ``node_modules/socket.io-client/dist/``.
BUNDLES = ("socket.io.min.js", "socket.io.msgpack.min.js")
VENDOR = Path("src") / "aiosio" / "demo" / "static" / "vendor"
DIST = Path("node_modules") / "socket.io-client" / "dist"
#: The one command that fixes a failed build (run in the repository's root).
FIX = "npm ci"

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


class CustomBuildHook(BuildHookInterface):
    """Runs :func:`ensure_bundle` before every wheel and sdist build."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Bring in the bundle, or fail the build with the command that fixes it."""
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
                return
            raise BundleError(message) from None
