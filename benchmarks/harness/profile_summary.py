"""A Markdown summary of a raw py-spy profile (``py-spy record --format raw``): where the samples
went by package and the top functions by own samples.

    .venv/bin/python benchmarks/harness/profile_summary.py <profile>.raw.txt [...]   # writes <profile>.md

A raw profile is one line per distinct stack, ``frame;frame;...;leaf <samples>``, the root first;
a frame is ``function (file:line)`` for Python code, ``symbol (library.so)`` or ``symbol (file.c:line)``
for native code (``--native``), and a leading ``process <pid>:"<command>"`` frame with
``--subprocesses``. A sample's *own* frame is its leaf.

Two shares per package: **own** (the leaf's package: native leaves in libc or CPython count as
*native*) and **with native callees** (a native leaf outside any package charged to the nearest
Python caller's package: the write(2) under aiohttp's transport counts as aiohttp). aiosio is split
by subpackage (``aiosio.server``, ``aiosio.protocol``, ...); mypyc-compiled aiosio code shows as
native frames of its extension modules and counts as aiosio too.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: Native source files (shown by py-spy without their package) and the package they belong to.
NATIVE_FILES = {
    "reader_c.c": "aiohttp",
    "_http_parser.c": "aiohttp",
    "_http_writer.c": "aiohttp",
    "mask.c": "aiohttp",
    "_helpers.c": "aiohttp",
    "_multidict.c": "multidict",
    "_quoting_c.c": "yarl",
    "_helpers_c.c": "propcache",
    "_asynciomodule.c": "asyncio",
    "_asynciomodule.c.h": "asyncio",
    "loop.c": "uvloop",
}
#: Python files outside a package directory that belong to one.
STDLIB_ASYNCIO = {"selectors.py": "asyncio"}
PACKAGES = ("aiohttp", "multidict", "yarl", "propcache", "asyncio", "orjson", "uvloop", "msgpack", "engineio")
NATIVE = "native (libc, CPython)"
OTHER = "other Python"
FRAME = re.compile(r"^(?P<func>.*) \((?P<where>[^()]*)\)$")


def location(frame: str) -> tuple[str, str]:
    """A frame's (function, file or library without the line number)."""
    m = FRAME.match(frame)
    if m is None:
        return frame, ""
    return m.group("func"), m.group("where").rsplit(":", 1)[0] if ":" in m.group("where") else m.group(
        "where"
    )


def is_native(where: str) -> bool:
    """Whether a frame's location is native code (a shared library or a C source/header)."""
    return ".so" in where or where.endswith((".c", ".h", ".cpp", ".rs")) or where == ""


def package(frame: str) -> str | None:
    """The package a frame belongs to (``aiosio.server`` for aiosio's), None for native code that
    belongs to none (libc, CPython's own), OTHER for other Python code."""
    func, where = location(frame)
    parts = where.split("/")
    if "aiosio" in parts:
        sub = parts[parts.index("aiosio") + 1 :]
        return "aiosio" if len(sub) < 2 else f"aiosio.{sub[0]}"
    if "__mypyc" in where or func.startswith(("CPyDef_", "CPyPy_", "CPyL_")):
        return "aiosio (compiled)"
    for pkg in PACKAGES:
        if pkg in parts or where.startswith(f"{pkg}/"):
            return pkg
    base = parts[-1]
    if base in NATIVE_FILES:
        return NATIVE_FILES[base]
    if base in STDLIB_ASYNCIO:
        return STDLIB_ASYNCIO[base]
    if func.startswith("socketio") or "socketio" in parts:
        return "socketio"
    if is_native(where):
        return None
    return OTHER


@dataclass
class Profile:
    """The samples of a raw profile, counted."""

    total: int = 0
    own: Counter[str] = field(default_factory=Counter)  # package of the leaf
    charged: Counter[str] = field(default_factory=Counter)  # with native callees charged to the caller
    functions: Counter[str] = field(default_factory=Counter)  # leaf "function (file)"
    commands: list[str] = field(default_factory=list)


def parse(text: str) -> Profile:
    """Count a raw profile's samples."""
    prof = Profile()
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):
            command = frames[0].split(":", 1)[-1].strip('"')
            if command not in prof.commands:
                prof.commands.append(command)
            frames = frames[1:]
        frames = [f for f in frames if not f.startswith("thread (")]
        if not frames:
            continue
        prof.total += n
        leaf = frames[-1]
        own = package(leaf)
        prof.own[own or NATIVE] += n
        charged = own
        for frame in reversed(frames[:-1]):
            if charged is not None:
                break
            charged = package(frame)
        prof.charged[charged or NATIVE] += n
        func, where = location(leaf)
        prof.functions[f"{func} ({where})" if where else func] += n
    return prof


def share(n: int, total: int) -> str:
    """`n` of `total` as a percentage."""
    return f"{100 * n / total:.1f}%" if total else "-"


def summarise(raw: Path, title: str | None = None, top: int = 20) -> str:
    """The Markdown summary of the raw profile `raw`."""
    prof = parse(raw.read_text(errors="replace"))
    lines = [f"# Profile: {title or raw.stem}", ""]
    lines += [f"- raw profile: `{raw.name}` ({prof.total:,} samples)"]
    lines += [f"- process: `{c}`" for c in prof.commands]
    lines += [
        "",
        "## Samples by package",
        "",
        "own = the sampled (leaf) frame's package; with native callees = a native leaf outside any "
        "package (libc, CPython) charged to its nearest caller's package.",
        "",
        "| package | own | with native callees |",
        "| --- | ---: | ---: |",
    ]
    names = sorted(set(prof.own) | set(prof.charged), key=lambda k: (-prof.own[k], k))
    for name in names:
        lines.append(
            f"| {name} | {share(prof.own[name], prof.total)} | {share(prof.charged[name], prof.total)} |"
        )
    aiosio_own = sum(n for k, n in prof.own.items() if k.startswith("aiosio"))
    aiosio_charged = sum(n for k, n in prof.charged.items() if k.startswith("aiosio"))
    lines.append(
        f"| **aiosio, all** | **{share(aiosio_own, prof.total)}** | **{share(aiosio_charged, prof.total)}** |"
    )
    lines += [
        "",
        f"## Top {top} functions by own samples",
        "",
        "| # | function | package | own samples | share |",
        "| ---: | --- | --- | ---: | ---: |",
    ]
    for i, (func, n) in enumerate(prof.functions.most_common(top), 1):
        pkg = package(func) or NATIVE
        cell = func.replace("|", "\\|")
        lines.append(f"| {i} | `{cell}` | {pkg} | {n:,} | {share(n, prof.total)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Summarise each raw profile named on the command line into ``<name>.md`` next to it."""
    if not argv:
        raise SystemExit(__doc__)
    for name in argv:
        raw = Path(name)
        stem = raw.name.removesuffix(".txt").removesuffix(".raw")
        out = raw.with_name(f"{stem}.md")
        out.write_text(summarise(raw, title=stem))
        print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
