"""Origin checks (for HTTP and WebSocket alike) and CORS response headers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from ..engine.options import CorsSetting

logger = logging.getLogger("aiosio.transport")

_BAD_HEADER_CHARS = frozenset(chr(c) for c in range(0x20)) | {"\x7f"}


class HttpRequest(Protocol):
    """What the policy reads of a request: an aiohttp ``web.Request`` or an ASGI request."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The request headers (case-insensitive)."""
        ...

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""
        ...

    @property
    def host(self) -> str:
        """The ``Host`` header."""
        ...


class OriginPolicy:
    """Decides whether a request's ``Origin`` may talk to the server.

    With no setting only the server's own origin (``scheme://Host``) is accepted, as in
    python-engineio; ``'*'`` accepts any origin; a list accepts those origins (``[]`` disables the
    check); a callable decides. Requests without an ``Origin`` header (non-browser clients) pass.
    Browsers do not apply CORS to WebSocket, so the same check guards WebSocket requests too.
    """

    def __init__(self, setting: CorsSetting, credentials: bool) -> None:
        self.credentials = credentials
        self._any = setting == "*"
        self._disabled = isinstance(setting, (list, tuple)) and len(setting) == 0
        self._callable: Callable[[str], bool] | None = setting if callable(setting) else None
        self._allowed: frozenset[str] | None = None
        if isinstance(setting, str) and setting != "*":
            self._allowed = frozenset({setting})
        elif isinstance(setting, (list, tuple, set, frozenset)):
            self._allowed = frozenset(setting)
        if self._any and credentials:
            logger.warning(
                "cors_allowed_origins='*' with cors_credentials=True lets any web page make "
                "credentialed requests to this server"
            )

    def allowed(self, request: HttpRequest) -> bool:
        """True if the request has no Origin, or one this policy accepts."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        if any(c in _BAD_HEADER_CHARS for c in origin):
            return False
        if self._any or self._disabled:
            return True
        if self._callable is not None:
            return bool(self._callable(origin))
        if self._allowed is not None:
            return origin in self._allowed
        return origin == f"{request.scheme}://{request.host}"

    def headers(self, request: HttpRequest) -> dict[str, str]:
        """CORS headers for an allowed cross-origin HTTP request (none when there is no Origin)."""
        origin = request.headers.get("Origin")
        if origin is None or self._disabled:
            return {}
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    def preflight_headers(self, request: HttpRequest) -> dict[str, str]:
        """Headers answering an OPTIONS preflight."""
        headers = self.headers(request)
        headers["Access-Control-Allow-Methods"] = "OPTIONS, GET, POST"
        requested = request.headers.get("Access-Control-Request-Headers")
        if requested:
            headers["Access-Control-Allow-Headers"] = requested
        return headers
