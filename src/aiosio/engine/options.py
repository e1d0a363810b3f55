"""Engine.IO settings, with python-engineio's names and defaults."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: What ``cors_allowed_origins`` may be: None (same origin only), ``'*'``, one origin, a list of
#: origins (``[]`` turns the check off), or a callable ``(origin) -> bool``.
CorsSetting = str | Sequence[str] | Callable[[str], bool] | None

#: The ``sid_prefix`` new options get (see :func:`set_default_sid_prefix`).
_default_sid_prefix = ""
#: What a sid prefix may contain: URL-safe characters only (``.`` and ``~`` are not base64url, so
#: a prefix ending with one of them never runs into the random part).
_SID_PREFIX_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def check_sid_prefix(prefix: str) -> str:
    """``prefix`` if it is a valid ``sid_prefix`` (at most 16 URL-safe characters); else ValueError."""
    if len(prefix) > 16 or not _SID_PREFIX_CHARS.issuperset(prefix):
        raise ValueError(f"sid_prefix must be at most 16 URL-safe characters, not {prefix!r}")
    return prefix


def set_default_sid_prefix(prefix: str) -> None:
    """Make ``prefix`` the ``sid_prefix`` of every Engine.IO server created from now on in this
    process. ``aiosio run --workers N`` calls it in each worker before importing the app, so that
    every server the app creates names its sessions after the worker that owns them."""
    global _default_sid_prefix
    _default_sid_prefix = check_sid_prefix(prefix)


def _sid_prefix_default() -> str:
    return _default_sid_prefix


@dataclass(slots=True)
class EngineOptions:
    """Engine.IO server settings. Times are in seconds (fractions allowed), sizes in bytes."""

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_http_buffer_size: int = 1_000_000
    allow_upgrades: bool = True
    transports: tuple[str, ...] = ("polling", "websocket")
    http_compression: bool = True
    compression_threshold: int = 1024
    cookie: str | dict[str, Any] | None = None
    cors_allowed_origins: CorsSetting = None
    cors_credentials: bool = True
    upgrade_timeout: float = 10.0
    #: Outbound bound per session: a session past either cap is closed as a slow consumer.
    max_queue_packets: int = 10_000
    max_queue_bytes: int = 16 * 1024 * 1024
    #: Above this many buffered bytes a WebSocket is "not writable" and volatile packets are dropped.
    volatile_threshold: int = 64 * 1024
    #: Engine.IO messages from one connection being handled at once before reading pauses.
    max_inflight: int = 100
    #: Packets allowed in one long-polling POST, far above what clients batch (the npm client sends
    #: 12,000 small events in one POST), so that a 1 MB body of two-byte packets can't make 500,000
    #: objects and block the loop for half a second; None: only ``max_http_buffer_size`` bounds them.
    #: A POST past it closes the session (``parse error``, with a WARNING line naming the count).
    max_payload_packets: int | None = 100_000
    #: Put in front of every session id this server makes (URL-safe characters; the 18 random bytes
    #: follow). "" by default; ``--workers`` gives each worker its own (``w3.``), which tells any
    #: worker which one owns a session.
    sid_prefix: str = field(default_factory=_sid_prefix_default)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> EngineOptions:
        """Build options from python-engineio style keyword arguments, consuming those it knows."""
        opts = cls()
        interval = kwargs.pop("ping_interval", None)
        if interval is not None:
            # python-engineio also accepts (interval, grace period); the grace is not needed here.
            opts.ping_interval = float(interval[0] if isinstance(interval, (tuple, list)) else interval)
        for name in (
            "ping_timeout",
            "max_http_buffer_size",
            "allow_upgrades",
            "http_compression",
            "compression_threshold",
            "cookie",
            "cors_allowed_origins",
            "cors_credentials",
            "upgrade_timeout",
            "max_queue_packets",
            "max_queue_bytes",
            "volatile_threshold",
            "max_inflight",
            "max_payload_packets",
            "sid_prefix",
        ):
            if name in kwargs:
                setattr(opts, name, kwargs.pop(name))
        transports = kwargs.pop("transports", None)
        if transports is not None:
            if isinstance(transports, str):
                transports = [transports]
            unknown = set(transports) - {"polling", "websocket"}
            if unknown or not transports:
                raise ValueError(f"invalid transports: {transports!r}")
            opts.transports = tuple(transports)
        if opts.ping_interval <= 0 or opts.ping_timeout <= 0:
            raise ValueError("ping_interval and ping_timeout must be positive")
        check_sid_prefix(opts.sid_prefix)
        if opts.max_payload_packets is not None and opts.max_payload_packets < 1:
            raise ValueError("max_payload_packets must be positive (or None)")
        return opts
