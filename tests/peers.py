"""Where the real peers are, and what a test does when one is missing.

The suite drives real peers: Node with the npm packages in ``node_modules``, Debian's Chromium
through Playwright, python-socketio, uvloop, redis-server. Locally a missing peer skips the tests
that need it (with a reason saying what to install). On CI (``CI=true``), or with
``AIOSIO_REQUIRE_PEERS=1`` (``scripts/test --require-peers``), it fails them instead: CI must not
pass by skipping. ``AIOSIO_REQUIRE_PEERS=0`` turns that off even on CI.

This module is the one place that says where each peer is; ``scripts/setup`` uses the same lookups.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "node_modules"
#: The npm packages the tests load (package.json lists them; ``npm ci`` installs them).
NPM_PACKAGES = (
    "socket.io",
    "socket.io-client",
    "socket.io-msgpack-parser",
    "ws",
    "socket.io-adapter",
    "@socket.io/redis-adapter",
    "@socket.io/redis-emitter",
    "redis",
)
#: Set to ``1`` to make a missing peer fail, ``0`` to make it skip even on CI.
REQUIRE_ENV = "AIOSIO_REQUIRE_PEERS"
#: Overrides where Chromium is; otherwise ``chromium`` on ``PATH`` (as ``scripts/setup`` checks).
CHROMIUM_ENV = "AIOSIO_CHROMIUM"


def peers_required() -> bool:
    """Whether a missing peer fails the test (CI, or ``AIOSIO_REQUIRE_PEERS=1``) or skips it."""
    flag = os.environ.get(REQUIRE_ENV, "").strip().lower()
    if flag:
        return flag not in ("0", "false", "no")
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(reason: str) -> NoReturn:
    """Skip the current test because a peer is missing, or fail it when peers are required."""
    if peers_required():
        pytest.fail(
            f"required test peer missing: {reason} (peers are required on CI and with {REQUIRE_ENV}=1;"
            " run scripts/setup --test)",
            pytrace=False,
        )
    pytest.skip(reason)


def node_missing_reason() -> str | None:
    """Why the Node peers cannot run here, or ``None`` when node and ``node_modules`` are usable."""
    if shutil.which("node") is None:
        return "needs the `node` executable on PATH (install Node.js 18+)"
    for pkg in NPM_PACKAGES:
        if not (NODE_MODULES / pkg / "package.json").is_file():
            return f"needs {NODE_MODULES / pkg} (run `npm ci` at the repository root, or scripts/setup)"
    return None


def node_available() -> bool:
    """True if node and every npm peer are installed."""
    return node_missing_reason() is None


def require_node() -> str:
    """The ``node`` executable; skips or fails (:func:`missing`) when Node or an npm peer is missing."""
    reason = node_missing_reason()
    if reason is not None:
        missing(reason)
    node = shutil.which("node")
    assert node is not None
    return node


def chromium_path() -> str | None:
    """Chromium's executable: ``$AIOSIO_CHROMIUM`` if set, else ``chromium`` on ``PATH``."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium")


def require_chromium() -> str:
    """Chromium's executable; skips or fails when it is not installed."""
    path = chromium_path()
    if path is None:
        missing(f"needs Chromium: `chromium` on PATH or ${CHROMIUM_ENV} (scripts/setup --test installs it)")
    return path


def require_module(name: str) -> ModuleType:
    """Import ``name``; a missing module skips the test, or fails it when peers are required.

    At module level (collection) a required module that does not import raises ``ImportError``,
    which pytest reports as a collection error.
    """
    if peers_required():
        return importlib.import_module(name)
    package = name.split(".")[0]
    return pytest.importorskip(name, reason=f"needs the Python package {package} (pip install -e '.[dev]')")


def require_executable(name: str) -> str:
    """The path of executable ``name`` on ``PATH`` (e.g. ``redis-server``); skips or fails without it."""
    path = shutil.which(name)
    if path is None:
        missing(f"needs `{name}` on PATH (scripts/setup --test installs it)")
    return path
