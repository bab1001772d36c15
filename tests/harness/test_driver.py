"""The loadtest driver (roles/loadtest/files/driver.mjs) against a small server on loopback.

Needs node and loadtest as the role installs them (LOADTEST_ROOT, default
/opt/channels-bench/loadtest); skipped where they are not installed."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from harness_helpers import ROOT

DRIVER = ROOT / "roles" / "loadtest" / "files" / "driver.mjs"
LOADTEST_ROOT = Path(os.environ.get("LOADTEST_ROOT", "/opt/channels-bench/loadtest"))

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (LOADTEST_ROOT / "node_modules" / "loadtest").is_dir(),
    reason="node and loadtest are not installed (run the loadtest role first)",
)


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def driver(tmp_path):
    """The driver beside a link to the installed node_modules, as the role lays them out."""
    shutil.copy(DRIVER, tmp_path / "driver.mjs")
    (tmp_path / "node_modules").symlink_to(LOADTEST_ROOT / "node_modules")

    def run(**spec):
        completed = subprocess.run(
            ["timeout", "60", "node", str(tmp_path / "driver.mjs"), json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
        )
        return completed

    return run


def spec(url, output, **overrides):
    return {
        "url": url,
        "test": "latency",
        "rps": 40,
        "clients": None,
        "duration_s": 1.0,
        "warmup_s": 0.5,
        "keepalive": False,
        "request_timeout_ms": 2000,
        "max_requests": 80,
        "host": "localhost",
        "cpus": None,
        "output": str(output),
        "start_at": None,
    } | overrides


def test_latency_run_writes_loadtest_result(driver, server_url, tmp_path):
    output = tmp_path / "out" / "rep-1.json"
    completed = driver(**spec(server_url, output))
    assert completed.returncode == 0, completed.stderr
    document = json.loads(output.read_text())
    assert json.loads(completed.stdout) == document
    result = document["loadtest"]
    assert result["totalErrors"] == 0
    assert result["totalRequests"] == pytest.approx(40, abs=3)
    assert result["requestsPerSecond"] == 40
    assert sum(result["histogramMs"].values()) <= result["totalRequests"]
    assert set(result["percentiles"]) == {"50", "90", "95", "99"}
    assert document["warmup"]["totalRequests"] == pytest.approx(20, abs=3)
    assert document["rps"] == 40 and document["clients"] is None
    assert 0 <= document["generator"]["cpu_percent"] < 100
    assert document["generator"]["loadtest_version"] == "8.2.1"
    assert document["started_at"] < document["ended_at"]


def test_throughput_run_is_bounded_by_count(driver, server_url, tmp_path):
    output = tmp_path / "rep-1.json"
    completed = driver(
        **spec(
            server_url, output, test="throughput", rps=None, clients=2, max_requests=30, warmup_s=0
        )
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(output.read_text())
    assert document["warmup"] is None
    assert document["clients"] == 2 and document["rps"] is None
    assert 28 <= document["loadtest"]["totalRequests"] <= 30
    assert document["loadtest"]["elapsedSeconds"] < 1.0


def test_refuses_an_existing_output_before_any_load(driver, server_url, tmp_path):
    output = tmp_path / "rep-1.json"
    output.write_text("kept\n")
    completed = driver(**spec(server_url, output))
    assert completed.returncode == 2
    assert "never overwritten" in completed.stderr
    assert output.read_text() == "kept\n"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rps": 0}, "rps above 0"),
        ({"duration_s": -1}, "duration_s must be above 0"),
        ({"test": "throughput", "clients": 0}, "clients"),
        ({"url": "ftp://example.invalid/"}, "http:// or https://"),
        ({"output": "relative.json"}, "absolute path"),
    ],
)
def test_rejects_a_bad_spec(driver, tmp_path, overrides, message):
    completed = driver(**(spec("http://127.0.0.1:9/", tmp_path / "x.json") | overrides))
    assert completed.returncode == 2
    assert message in completed.stderr
    assert not (tmp_path / "x.json").exists()
