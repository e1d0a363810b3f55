"""``--workers`` / ``--redis`` on the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aiosio.cli.main import build_parser

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("3", 3), ("0", 0), ("auto", 0)])
def test_workers_option(text: str, value: int) -> None:
    for command in (["run", "m:app"], ["serve"]):
        args = build_parser().parse_args([*command, "--workers", text])
        assert args.workers == value


def test_workers_default_is_one_process() -> None:
    args = build_parser().parse_args(["run", "m:app"])
    assert (args.workers, args.redis) == (1, None)


@pytest.mark.parametrize("text", ["-1", "two", ""])
def test_bad_workers_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["run", "m:app", "--workers", text])
    assert info.value.code == 2
    assert "--workers" in capsys.readouterr().err


def test_a_target_that_cannot_load_stops_the_supervisor(tmp_path: Path) -> None:
    """Every worker fails to import the app: the supervisor says so and exits with status 1
    (it does not restart workers that never started)."""
    proc = subprocess.run(
        [sys.executable, "-m", "aiosio.cli.main", "run", "nosuchmodule:app", "--workers", "2", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 1, proc.stderr
    assert "could not import module 'nosuchmodule'" in proc.stderr
    assert "aiosio run: error: worker" in proc.stderr
    assert "restarting" not in proc.stderr
