#!/usr/bin/env python3
"""A per-host lock for the harness: one run (or deploy) at a time switches supervisord and loads
a host. Ansible runs this script on each host of a run (ansible.builtin.script).

  host_lock.py acquire LOCK OWNER CONTROLLER_HOST CONTROLLER_PID STALE_S
  host_lock.py touch   LOCK OWNER
  host_lock.py release LOCK OWNER

acquire takes flock(2) on LOCK in a small daemon that holds it until `release`, until its
controller is gone (CONTROLLER_PID, when the controller is this host) or until nobody touched it
for STALE_S seconds (a controller elsewhere that died). It prints the owner as JSON and exits 0;
when another live owner holds the lock it prints that owner and exits 75. A lock whose holder
is stale is taken over. Standard library only; Linux.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sys
import time
from typing import Any

HELD = 75
POLL_S = 1.0


def owner_path(lock: str) -> str:
    return lock + ".owner"


def read_owner(lock: str) -> dict[str, Any] | None:
    try:
        with open(owner_path(lock), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heartbeat_age(lock: str) -> float:
    try:
        return time.time() - os.path.getmtime(owner_path(lock))
    except OSError:
        return float("inf")


def stale(lock: str, owner: dict[str, Any]) -> bool:
    """Whether an owner's run is gone: its controller was on this host and has died, or nobody
    touched the lock for longer than its stale time."""
    if owner.get("controller_host") == socket.gethostname() and not alive(
        owner.get("controller_pid")
    ):
        return True
    return heartbeat_age(lock) > float(owner.get("stale_s") or 0)


def try_lock(lock: str) -> int | None:
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def hold(descriptor: int, lock: str, owner: dict[str, Any]) -> None:
    """The holder daemon's life: keep the lock until released, orphaned or stale."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    local_controller = owner["controller_host"] == socket.gethostname()
    try:
        while True:
            if local_controller and not alive(owner["controller_pid"]):
                break
            if heartbeat_age(lock) > owner["stale_s"]:
                break
            time.sleep(POLL_S)
    finally:
        current = read_owner(lock)
        if current and current.get("holder_pid") == os.getpid():
            os.unlink(owner_path(lock))
        os.close(descriptor)


def daemonize(descriptor: int, lock: str, owner: dict[str, Any]) -> int:
    """Fork the holder (double fork, own session, no terminal); return once it owns the lock."""
    reader, writer = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        os.close(reader)
        null = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(null, stream)
        owner["holder_pid"] = os.getpid()
        temporary = owner_path(lock) + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(owner, handle)
        os.replace(temporary, owner_path(lock))
        os.write(writer, b"ok")
        os.close(writer)
        hold(descriptor, lock, owner)
        os._exit(0)
    os.close(writer)
    os.close(descriptor)
    answer = os.read(reader, 2)
    os.close(reader)
    return 0 if answer == b"ok" else 1


def acquire(lock: str, name: str, controller_host: str, controller_pid: str, stale_s: str) -> int:
    os.makedirs(os.path.dirname(lock) or ".", mode=0o700, exist_ok=True)
    current = read_owner(lock)
    if current and current.get("owner") == name and alive(current.get("holder_pid")):
        os.utime(owner_path(lock))
        print(json.dumps({"acquired": True, "owner": current, "again": True}))
        return 0
    for _ in range(10):
        descriptor = try_lock(lock)
        if descriptor is not None:
            owner = {
                "owner": name,
                "controller_host": controller_host,
                "controller_pid": int(controller_pid),
                "stale_s": float(stale_s),
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "took_over": current if current and current.get("owner") != name else None,
            }
            status = daemonize(descriptor, lock, owner)
            print(json.dumps({"acquired": status == 0, "owner": read_owner(lock)}))
            return status
        current = read_owner(lock)
        if current is None or not stale(lock, current):
            print(json.dumps({"acquired": False, "owner": current}))
            return HELD
        if alive(current.get("holder_pid")):
            os.kill(int(current["holder_pid"]), signal.SIGTERM)
        time.sleep(POLL_S / 2)
    print(json.dumps({"acquired": False, "owner": read_owner(lock)}))
    return HELD


def touch(lock: str, name: str) -> int:
    current = read_owner(lock)
    if current and current.get("owner") == name:
        os.utime(owner_path(lock))
        return 0
    return 1


def release(lock: str, name: str) -> int:
    current = read_owner(lock)
    if not current or current.get("owner") != name:
        return 0
    if alive(current.get("holder_pid")):
        os.kill(int(current["holder_pid"]), signal.SIGTERM)
    for _ in range(50):
        descriptor = try_lock(lock)
        if descriptor is not None:
            os.close(descriptor)
            print(json.dumps({"released": True}))
            return 0
        time.sleep(0.1)
    print(json.dumps({"released": False, "owner": read_owner(lock)}))
    return 1


def main(argv: list[str]) -> int:
    actions = {"acquire": (acquire, 6), "touch": (touch, 3), "release": (release, 3)}
    if not argv or argv[0] not in actions or len(argv) != actions[argv[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    function, _ = actions[argv[0]]
    return int(function(*argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
