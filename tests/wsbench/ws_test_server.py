"""WebSocket servers with known faults, the truths the client's tests check it against.

    python ws_test_server.py PORT

serves on 127.0.0.1:PORT, prints "ready" once listening, and serves until killed:
  /echo/                 every frame straight back
  /fanout/<group>/       a member of <group>; a frame from a member goes to every member
  /hold/                 accepts and holds
  /stats/                answers one frame: JSON {"held_us": [...]}, how long each message the
                         server delivered since the last /stats/ was held before its first copy
                         went out (the delay as applied, the truth a latency is checked against)
  any other path         refused at the handshake with HTTP 404
Faults, from the query string, decided by the message's own number (the client's "seq") so that
a test knows exactly which messages they hit:
  drop_every=N           never deliver messages whose seq % N == N - 1
  duplicate_every=N      deliver messages whose seq % N == N - 1 twice
  delay_ms=D             deliver every message D ms after it arrived
  late_every=N, late_ms=L   deliver messages whose seq % N == N - 1 after L ms instead
  alloc_kb=K             (/hold/) keep K KiB of touched memory per connection while it is open
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mmap
import sys
import time
from collections import defaultdict
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

GROUPS: defaultdict[str, set[ServerConnection]] = defaultdict(set)
# Memory kept for each held connection (alloc_kb), released when it closes.
HELD: dict[ServerConnection, mmap.mmap] = {}
# Microseconds each delivered message was held, from its arrival to its first copy's send.
HELD_US: list[int] = []


def options(connection: ServerConnection) -> dict[str, int]:
    assert connection.request is not None
    query = parse_qs(urlsplit(connection.request.path).query)
    return {key: int(values[0]) for key, values in query.items()}


def touched_memory(size: int) -> mmap.mmap:
    """size bytes of memory of its own, every page written: resident from now until it is
    closed (an mmap of its own, so the allocator can neither reuse freed memory for it nor keep
    it resident after)."""
    memory = mmap.mmap(-1, max(size, 1))
    memory.write(b"x" * size)
    return memory


def hits(seq: int, every: int) -> bool:
    return every > 0 and seq % every == every - 1


def deliveries(message: str, faults: dict[str, int]) -> tuple[int, float]:
    """How many copies of the message go out, and after how many seconds."""
    seq = int(json.loads(message)["seq"])
    if hits(seq, faults.get("drop_every", 0)):
        return 0, 0.0
    copies = 2 if hits(seq, faults.get("duplicate_every", 0)) else 1
    delay_ms = faults.get("delay_ms", 0)
    if hits(seq, faults.get("late_every", 0)):
        delay_ms = faults.get("late_ms", 0)
    return copies, delay_ms / 1000


async def deliver(
    targets: list[ServerConnection], message: str, copies: int, delay: float, arrived_ns: int
) -> None:
    if delay:
        await asyncio.sleep(delay)
    HELD_US.append((time.monotonic_ns() - arrived_ns) // 1000)
    for target in targets:
        for _ in range(copies):
            # A member may have left meanwhile.
            with contextlib.suppress(Exception):
                await target.send(message)


async def handler(connection: ServerConnection) -> None:
    assert connection.request is not None
    path = urlsplit(connection.request.path).path
    faults = options(connection)
    if path == "/stats/":
        await connection.send(json.dumps({"held_us": HELD_US}))
        HELD_US.clear()
        return
    if path == "/hold/":
        HELD[connection] = touched_memory(faults.get("alloc_kb", 0) * 1024)
        await connection.wait_closed()
        HELD.pop(connection).close()
        return
    group = GROUPS[path] if path.startswith("/fanout/") else None
    if group is not None:
        group.add(connection)
    pending: set[asyncio.Task[None]] = set()
    try:
        async for message in connection:
            arrived_ns = time.monotonic_ns()
            copies, delay = deliveries(str(message), faults)
            if not copies:
                continue
            targets = list(group) if group is not None else [connection]
            task = asyncio.create_task(deliver(targets, str(message), copies, delay, arrived_ns))
            pending.add(task)
            task.add_done_callback(pending.discard)
    finally:
        if group is not None:
            group.discard(connection)


def known_paths_only(connection: ServerConnection, request: Request) -> Response | None:
    """A 404 at the handshake for any other path, as a real server's router answers."""
    path = urlsplit(request.path).path
    if path in ("/echo/", "/hold/", "/stats/") or (
        path.startswith("/fanout/") and path.endswith("/")
    ):
        return None
    return connection.respond(HTTPStatus.NOT_FOUND, "no such path\n")


async def main(port: int) -> None:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression=None,
        ping_interval=None,
        process_request=known_paths_only,
    ):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
