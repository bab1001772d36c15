"""Servers with a known behaviour, on loopback, for checking the loadtest driver against a truth.

Each path of the one server is one behaviour:
  /                       answers at once
  /delay/<ms>             answers after sleeping <ms> milliseconds
  /alternate/<ms>         answers every other request on this path at once, the others after
                          sleeping <ms> milliseconds
  /stall/<after>/<for>/<ms>
                          answers at once, except that every request arriving between <after> and
                          <after> + <for> ms after the first request on this path sleeps <ms>
  /hang                   never answers: holds the connection until the client closes it (at
                          most HANG_LIMIT_S)
  /lose/<n>               loses every <n>th request on this path (the 1st of each <n> answers,
                          ..., the <n>th hangs as /hang does), as a channel layer that drops
                          messages does
  /status/<code>          answers with that status

Run as a program (`python driver_servers.py PORT`) it serves until killed; the tests start it in
a thread of their own instead and read `requests` (and `connections`) to know what arrived.
"""

from __future__ import annotations

import http.server
import select
import sys
import threading
import time
from typing import Any

HANG_LIMIT_S = 30.0


class KnownServer(http.server.ThreadingHTTPServer):
    # loadtest and wrk open a connection per request without keep-alive: socketserver's default
    # backlog of 5 would drop SYNs and add a second of retransmission to a request now and then.
    request_queue_size = 256
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        self.first_seen: dict[str, float] = {}
        self.seen: dict[str, int] = {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)

    def arrived(self, path: str) -> tuple[float, int]:
        """Count a request; return the seconds since the first request on its path, and how
        many came on it before."""
        now = time.monotonic()
        with self.lock:
            self.requests += 1
            first = self.first_seen.setdefault(path, now)
            before = self.seen.get(path, 0)
            self.seen[path] = before + 1
        return now - first, before


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KnownServer

    def do_GET(self) -> None:
        parts = [part for part in self.path.split("?")[0].split("/") if part]
        since_first, before = self.server.arrived(self.path)
        status = 200
        if parts[:1] == ["delay"] and len(parts) == 2:
            time.sleep(float(parts[1]) / 1000)
        elif parts[:1] == ["alternate"] and len(parts) == 2:
            time.sleep(float(parts[1]) / 1000 if before % 2 else 0)
        elif parts[:1] == ["stall"] and len(parts) == 4:
            after, window, stall = (float(part) / 1000 for part in parts[1:])
            if after <= since_first < after + window:
                time.sleep(stall)
        elif parts == ["hang"] or _lost(parts, before):
            self._hang()
            return
        elif parts[:1] == ["status"] and len(parts) == 2:
            status = int(parts[1])
        self._answer(status)

    def _answer(self, status: int) -> None:
        body = b"hello\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        # Say so when closing: a client that was not told (wrk) counts the close as a read error.
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _hang(self) -> None:
        # Until the client gives up (its socket closes: readable with nothing to read).
        deadline = time.monotonic() + HANG_LIMIT_S
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.2)
            if readable and not self.connection.recv(1024):
                break
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def _lost(parts: list[str], before: int) -> bool:
    """Whether /lose/<n> loses this request: the <n>th of every <n>."""
    return parts[:1] == ["lose"] and len(parts) == 2 and before % int(parts[1]) == int(parts[1]) - 1


def start(port: int = 0) -> KnownServer:
    """A server on 127.0.0.1 (port 0: any free port), serving from a daemon thread."""
    server = KnownServer(("127.0.0.1", port))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: KnownServer) -> None:
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    known = KnownServer(("127.0.0.1", int(sys.argv[1])))
    known.serve_forever()
