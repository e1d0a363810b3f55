"""Tutorial 1, the client: fetch the todo list with aiohttp and print it.

    python examples/tutorial/todo_client.py                        # http://127.0.0.1:8080/todos
    python examples/tutorial/todo_client.py http://127.0.0.1:9000/todos

It works against ``todo_server.py`` and against ``aiosio serve`` alike: both speak the same JSON.
"""

import asyncio
import sys

import aiohttp

DEFAULT_URL = "http://127.0.0.1:8080/todos"


async def main(url: str) -> int:
    """Fetch ``url`` and print one line per todo; return the exit status."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(url, headers={"Accept": "application/json"}) as response:
                print("Status:", response.status)
                response.raise_for_status()
                todos = await response.json()
        except aiohttp.ClientError as exc:
            print(f"error: cannot fetch {url}: {exc}", file=sys.stderr)
            return 1
    for todo in todos:
        # The tutorial's todos have no "completed" flag; aiosio serve's do.
        mark = "x" if todo.get("completed") else " "
        print(f"[{mark}] {todo['id']}. {todo['title']}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL)))
