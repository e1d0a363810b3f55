"""A description of the machine and software versions, for the report header."""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PY_PACKAGES = ("aiohttp", "python-socketio", "python-engineio", "uvloop", "orjson")
NPM_PACKAGES = ("socket.io", "ws")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pkg_version(name: str) -> str:
    """The installed version of Python distribution `name`, or "missing"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def npm_version(name: str) -> str:
    """The version of npm package `name` in the repository's node_modules, or "missing"."""
    try:
        manifest = json.loads((ROOT / "node_modules" / name / "package.json").read_text())
    except (OSError, ValueError):
        return "missing"
    return str(manifest.get("version", "unknown"))


def node_version() -> str:
    """`node --version`, or "missing"."""
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "missing"


def aiosio_impl() -> str:
    """aiosio's version, flagged when `aiosio` is still the python-socketio stand-in."""
    try:
        module = importlib.import_module("aiosio")
    except Exception as exc:  # any import failure is worth reporting, not crashing on
        return f"not importable ({exc.__class__.__name__})"
    origin = getattr(module.AsyncServer, "__module__", "")
    version = pkg_version("aiosio")
    if origin.startswith("socketio"):
        return f"{version} (STAND-IN: re-exports python-socketio)"
    # Which build the servers run: the mypyc-compiled modules or pure Python (README "Compiled modules").
    try:
        build = importlib.import_module("aiosio._compiled").describe()
    except Exception as exc:  # an older tree without the module: say so rather than guess
        build = f"build unknown ({exc.__class__.__name__})"
    return f"{version} ({build})"


def describe() -> dict[str, str]:
    """Machine and software facts as an ordered dict of label → value."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "CPU": f"{cpu_model()} ({os.cpu_count()} cores)",
        "Kernel": platform.release(),
        "Python": platform.python_version(),
        "Node": node_version(),
        "aiosio": aiosio_impl(),
        **{name: pkg_version(name) for name in PY_PACKAGES},
        **{f"npm {name}": npm_version(name) for name in NPM_PACKAGES},
        "Load average at start": load,
    }
