"""The sid cookie (the ``cookie`` option): one ``Set-Cookie`` value for every transport."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any


def sid_cookie(setting: str | Mapping[str, Any] | None, sid: str) -> str | None:
    """The ``Set-Cookie`` header value carrying ``sid``, or None when the option is off.

    ``setting`` is the cookie's name, or a mapping with ``name`` (``'io'``), ``path`` (``'/'``),
    ``httponly`` (True), ``samesite`` (``'Lax'``) and ``secure`` (False). An attribute set to a
    false value is left out: ``samesite=None`` sends no ``SameSite`` (browsers drop a
    ``SameSite=None`` cookie that is not ``Secure``).
    """
    if not setting:
        return None
    attrs: Mapping[str, Any] = {"name": setting} if isinstance(setting, str) else setting
    name = str(attrs.get("name", "io"))
    jar: SimpleCookie = SimpleCookie()
    jar[name] = sid
    morsel = jar[name]
    morsel["path"] = str(attrs.get("path", "/") or "")
    samesite = attrs.get("samesite", "Lax")
    if samesite:
        morsel["samesite"] = str(samesite)
    if attrs.get("httponly", True):
        morsel["httponly"] = True
    if attrs.get("secure", False):
        morsel["secure"] = True
    return morsel.OutputString()
