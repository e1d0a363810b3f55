"""Fixtures for the end-to-end tests: ``aiosio serve`` as a real process, headless Chromium."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peers import require_chromium, require_module

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AIOSIO = [sys.executable, "-m", "aiosio.cli.main"]


# Without the background-networking flags Chromium stalls on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts"


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright.

    Chromium is found as ``scripts/setup --test`` finds it (tests/peers.py: ``$AIOSIO_CHROMIUM`` or
    ``chromium`` on ``PATH``); without it, or without Playwright, the test skips (fails on CI).
    """
    chromium = require_chromium()
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def artifacts() -> Path:
    """``artifacts/`` at the repository root (gitignored), for screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
