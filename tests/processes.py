"""Server processes for the tests that run ``aiosio`` as a real program (cli, demo, e2e)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: ``python -m aiosio.cli.main``: the command line, run with this interpreter.
AIOSIO = [sys.executable, "-m", "aiosio.cli.main"]
_URL = re.compile(r"http://[^\s)]+")


@dataclass
class ServerProcess:
    """A server subprocess whose output goes to files (so it can never block on a pipe)."""

    proc: subprocess.Popen[bytes]
    url: str
    out: Path
    err: Path

    def output(self) -> str:
        """Everything it wrote so far, stdout then stderr."""
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit status (killing it if it overstays)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"server ignored signal {sig}:\n{self.output()}") from None
        return self.proc.returncode


def wait_for_text(path: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes], timeout: float) -> str:
    """Poll ``path`` until ``pattern`` appears (there is no event to await across processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(path.read_text(errors="replace"))
        if match:
            return match.group(0)
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"{pattern.pattern!r} never appeared in {path}:\n{path.read_text()}")


def start_process(cmd: list[str], workdir: Path, timeout: float = 30.0) -> ServerProcess:
    """Start ``cmd`` in ``workdir`` and wait until it prints an http:// URL on stdout."""
    index = len(list(workdir.glob("proc-*.out")))
    out, err = workdir / f"proc-{index}.out", workdir / f"proc-{index}.err"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(workdir / "xdg")}
    with out.open("wb") as out_f, err.open("wb") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, env=env, cwd=workdir)
    try:
        url = wait_for_text(out, _URL, proc, timeout)
    except AssertionError:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"{cmd} did not start:\n{out.read_text()}\n{err.read_text()}") from None
    return ServerProcess(proc, url, out, err)
