"""The cluster codec is sans-IO: the standard library (no I/O, no clock), orjson and msgpack only."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from aiosio.protocol import cluster

ALLOWED = {
    "__future__",
    "base64",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "math",
    "secrets",
    "typing",
}
ALLOWED |= {"msgpack", "orjson"}


def test_modules_import_only_what_the_protocol_layer_may() -> None:
    for path in Path(cluster.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert {a.name.split(".")[0] for a in node.names} <= ALLOWED, path.name
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    assert node.module and node.module.split(".")[0] in ALLOWED, (path.name, node.module)
                else:  # within aiosio.protocol: . (cluster) or .. (protocol), never above
                    assert node.level <= 2, (path.name, node.module)
        text = path.read_text()
        assert ".now(" not in text and "time.time" not in text, path.name


def test_public_names_are_documented() -> None:
    for name in cluster.__all__:
        value = getattr(cluster, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert getattr(value, "__doc__", None), name
