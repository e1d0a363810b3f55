"""The README's first run, as a new user does it: ``pip install .`` from a fresh clone, ``aiosio serve``.

Slower than the rest (marked ``install``: a few seconds with warm pip and npm caches, more on a
cold machine). The checkout's own files are copied without ``node_modules`` and without the bundle
(as ``git clone`` gives them), ``pip install .`` runs into a fresh virtualenv (its build hook runs
``npm ci`` for the pinned socket.io-client), and the demo is served from there. ``--no-deps``
keeps it fast and offline for aiosio's dependencies: the fresh virtualenv borrows them from this
one through a ``.pth`` line (a plain path, so this environment's editable aiosio does not come
along). Select these tests with ``-m install``, skip them with ``-m 'not install'``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import peers

pytestmark = pytest.mark.install

REPO = Path(__file__).resolve().parents[2]
BUNDLE = "socket.io.min.js"
VENDOR = Path("src") / "aiosio" / "demo" / "static" / "vendor"


def fresh_clone(target: Path) -> Path:
    """The files a clone of this checkout has (committed or not, minus the gitignored ones)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is not in a new clone
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    assert not (target / "node_modules").exists() and not (target / VENDOR).exists()
    return target


def pip(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=cwd,
    )


def pinned_version() -> str:
    lock = json.loads((REPO / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/socket.io-client"]["version"])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# The second half deletes the installed bundle on purpose: the server logs that as an error.
@pytest.mark.allow_server_errors(r"socket\.io-client browser bundle .* is missing")
def test_pip_install_from_a_fresh_clone_serves_the_pinned_bundle(
    tmp_path: Path, start: Callable[[list[str]], Any]
) -> None:
    if shutil.which("npm") is None:
        peers.missing("needs npm: the build runs `npm ci` for the socket.io-client bundle")
    clone = fresh_clone(tmp_path / "clone")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    )
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    # The README's line, in the clone: `pip install .` (into the fresh virtualenv).
    result = pip("--python", str(python), "install", "--no-deps", ".", cwd=clone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (clone / "node_modules" / "socket.io-client").is_dir()  # the build ran `npm ci`

    installed = site / "aiosio" / "demo" / "static" / "vendor" / BUNDLE
    expected = (clone / "node_modules" / "socket.io-client" / "dist" / BUNDLE).read_bytes()
    assert installed.read_bytes() == expected
    assert f"Socket.IO v{pinned_version()}".encode() in expected[:200]
    where = subprocess.run(
        [str(python), "-c", "import aiosio; print(aiosio.__file__)"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(site)), where  # the installed copy, not this checkout

    # `aiosio serve` from that virtualenv, outside any checkout: the page's script is the bundle.
    aiosio = str(venv / "bin" / "aiosio")
    server = start([aiosio, "serve", "--port", "0", "--db", ":memory:"])
    status, page = get(server.url + "/")
    assert status == 200 and f'<script src="/socket.io/{BUNDLE}"'.encode() in page
    assert get(f"{server.url}/socket.io/{BUNDLE}") == (200, expected)
    assert "missing" not in server.output()
    assert server.stop(signal.SIGTERM) == 0

    # Without the bundle (a broken install) the server says so loudly, and so does the URL.
    installed.unlink()
    server = start([aiosio, "serve", "--port", "0", "--db", ":memory:"])
    status, body = get(f"{server.url}/socket.io/{BUNDLE}")
    assert status == 404 and b"npm ci" in body
    output = server.output()
    assert "ERROR" in output and "demo page cannot connect" in output and "npm ci" in output
    assert server.stop(signal.SIGTERM) == 0


def test_build_without_npm_fails_with_the_fix(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone")
    # npm hidden: a PATH with nothing on it (pip itself runs from its absolute path).
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    result = pip("wheel", "--no-deps", "-w", str(tmp_path / "dist"), ".", env=env, cwd=clone)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "socket.io-client browser bundle is missing" in output
    assert "npm is not installed" in output
    assert "Fix: run `npm ci`" in output
    assert not list(tmp_path.glob("dist/*.whl"))


def test_the_wheel_carries_the_bundle(tmp_path: Path) -> None:
    """Once the bundle is in place (a checkout after `npm ci`), a wheel ships it; no npm run.
    An older copy in vendor/ is replaced by the pinned one."""
    clone = fresh_clone(tmp_path / "clone")
    dist = REPO / "node_modules" / "socket.io-client" / "dist"
    if not (dist / BUNDLE).is_file():
        peers.missing("needs node_modules (npm ci) in the checkout")
    shutil.copytree(dist, clone / "node_modules" / "socket.io-client" / "dist")
    # A copy left in vendor/ by an older checkout is replaced by the pinned version.
    (clone / VENDOR).mkdir(parents=True)
    for name in (BUNDLE, "socket.io.msgpack.min.js"):
        (clone / VENDOR / name).write_text("/*!\n * Socket.IO v4.0.0\n */\nstale();\n")
    env = {**os.environ, "PATH": str(tmp_path / "empty")}  # proves npm is not needed then
    result = pip("wheel", "--no-deps", "-w", str(tmp_path / "dist"), ".", env=env, cwd=clone)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("aiosio-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert f"aiosio/demo/static/vendor/{BUNDLE}" in names
        assert "aiosio/demo/static/vendor/socket.io.msgpack.min.js" in names
        assert zf.read(f"aiosio/demo/static/vendor/{BUNDLE}") == (dist / BUNDLE).read_bytes()
