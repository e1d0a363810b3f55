"""Emit to the chat cluster from a process that is not a server (a worker, a cron job, a web view):
``aiosio.RedisEmitter`` publishes to the cluster's Redis, and every server, aiosio or Node,
delivers to its own clients. It never subscribes, so it is never counted as a server.

    python examples/cluster/emit_from_worker.py "the build is green"
    python examples/cluster/emit_from_worker.py "lunch?" --room kitchen
"""

import argparse
import asyncio
import os

import aiosio

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6380/0")


async def main(text: str, room: str | None) -> None:
    """Publish one ``chat`` event; leaving ``async with`` waits until it went out."""
    async with aiosio.RedisEmitter(REDIS_URL) as emitter:
        await emitter.emit("chat", {"server": "worker", "text": text}, to=room)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("--room", help="only the clients in this room (default: everyone)")
    args = parser.parse_args()
    asyncio.run(main(args.text, args.room))
