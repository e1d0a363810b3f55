"""python-socketio's ``static_files`` rules: which local file answers a URL path.

The mapping's keys are URL paths, its values a filename or ``{'filename': ..., 'content_type': ...}``.
An exact key wins; otherwise the longest key that is a leading part of the path (with or without
its trailing slash) maps to a directory, and the rest of the path is appended to it. A path that
ends on a directory gets the ``''`` entry's file (or ``index.html``). The content type comes from the
entry, or from the file's extension (``application/octet-stream`` if unknown). A path with ``../`` in
the part appended is never served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The extensions python-engineio knows, and their types.
CONTENT_TYPES = {
    "css": "text/css",
    "gif": "image/gif",
    "html": "text/html",
    "jpg": "image/jpeg",
    "js": "application/javascript",
    "json": "application/json",
    "png": "image/png",
    "txt": "text/plain",
}

StaticFiles = Mapping[str, Any]


def _entry(value: Any) -> dict[str, str]:
    return {"filename": value} if isinstance(value, str) else dict(value)


def static_file(path: str, static_files: StaticFiles) -> dict[str, str] | None:
    """The ``{'filename', 'content_type'}`` that answers ``path``, or None if no rule matches."""
    rest = ""
    found = static_files.get(path)
    head = path
    while found is None and head:
        head, _, last = head.rpartition("/")
        rest = f"/{last}{rest}"
        found = static_files.get(head)
        if found is None:
            found = static_files.get(head + "/")
    if found is None or "../" in rest:
        return None
    entry = _entry(found)
    filename = entry["filename"]
    if filename.endswith("/") and rest.startswith("/"):
        rest = rest[1:]
    filename += rest
    if filename.endswith("/"):
        index = static_files.get("")
        if index is None:
            filename += "index.html"
        else:
            index_entry = _entry(index)
            filename += index_entry["filename"]
            if "content_type" in index_entry:
                entry["content_type"] = index_entry["content_type"]
    entry["filename"] = filename
    if "content_type" not in entry:
        entry["content_type"] = CONTENT_TYPES.get(filename.rsplit(".")[-1], "application/octet-stream")
    return entry
