"""loadtest: Node.js, loadtest at its pin, wrk, and the driver running a series for real."""

from __future__ import annotations

import json

import pytest

ROOT = "/opt/channels-bench/loadtest"
TARGET_PORT = 18080


@pytest.fixture(scope="module")
def defaults(role_file) -> dict:
    return role_file("loadtest", "defaults/main.yml")


@pytest.fixture(scope="module")
def target(host):
    """A throwaway HTTP server on the container's loopback for the driver to load."""
    host.check_output(
        "nohup python3 -m http.server %s --bind 127.0.0.1 --directory /tmp"
        " >/tmp/molecule-http.log 2>&1 &",
        str(TARGET_PORT),
    )
    host.check_output(
        "for try in $(seq 50); do curl -fs -o /dev/null %s && exit 0; sleep 0.1; done; exit 1",
        f"http://127.0.0.1:{TARGET_PORT}/",
    )
    yield f"http://127.0.0.1:{TARGET_PORT}/"
    host.run("pkill -f 'http.server %s'", str(TARGET_PORT))


def test_node_new_enough(host, role_file):
    minimum = role_file("loadtest", "vars/main.yml")["loadtest_releases"]["8.2.1"][
        "node_min_version"
    ]
    found = host.check_output("node --version").lstrip("v")
    assert tuple(map(int, found.split("."))) >= tuple(map(int, minimum.split(".")))


def test_loadtest_at_its_pin(host, defaults):
    version = host.check_output(
        "cd %s && node -p %s", ROOT, "require('./node_modules/loadtest/package.json').version"
    )
    assert version == defaults["loadtest_version"]


def test_installed_tree_matches_the_lock(host):
    # npm ls exits non-zero on anything missing, extraneous or of another version than the lock.
    listing = host.run("cd %s && npm ls --all --omit=optional", ROOT)
    assert listing.rc == 0, listing.stdout + listing.stderr


def test_cli_runnable(host):
    usage = host.run("cd %s && node node_modules/loadtest/bin/loadtest.js --help", ROOT)
    assert (
        "requestsPerSecond" in usage.stdout + usage.stderr or "rps" in usage.stdout + usage.stderr
    )


def test_npm_ran_as_the_unprivileged_account(host):
    # npm ci ran as channels-bench: every file of the tree is its own, none of its code ran as root.
    assert host.user("channels-bench").uid != 0
    assert host.check_output("find %s/node_modules ! -user channels-bench -print -quit", ROOT) == ""


def test_wrk_installed(host):
    # wrk -v prints its version and usage, and exits 1.
    assert "4.1.0" in host.run("wrk -v").stdout


def test_driver_runs_a_series(host, target):
    """The installed driver, its locked loadtest and hdr-histogram-js, and wrk, on a real run."""
    host.run("rm -rf /tmp/molecule-loadtest")
    host.check_output("install -d -o channels-bench /tmp/molecule-loadtest")
    spec = {
        "url": target,
        "host": "molecule",
        "request_timeout_ms": 2000,
        "output_dir": "/tmp/molecule-loadtest",
        "progress": "/tmp/molecule-loadtest/progress.jsonl",
        "settle": {"probe_timeout_ms": 2000, "max_wait_s": 5},
        "wrk": {"path": "wrk", "threads": 1},
        "measurements": [
            {"test": "latency", "rep": 1, "rps": 20, "duration_s": 1, "warmup_s": 0.5,
             "output": "latency/rep-1.json"},
            {"test": "reference", "clients": 2, "duration_s": 1,
             "output": "throughput/c2/reference-1.json"},
        ],
    }  # fmt: skip
    # As the role runs it: as the unprivileged account.
    driver = f"{ROOT}/driver.mjs"
    run = host.run("runuser -u channels-bench -- timeout 120 node %s %s", driver, json.dumps(spec))
    assert run.rc == 0, run.stdout + run.stderr
    latency = json.loads(host.file("/tmp/molecule-loadtest/latency/rep-1.json").content_string)
    result = latency["loadtest"]
    assert result["totalRequests"] > 0
    assert result["totalErrors"] == 0
    assert result["histogramMs"], "loadtest's own histogram is part of the result"
    histograms = latency["harness"]["histograms"]
    assert histograms["latency_corrected"]["count"] == latency["harness"]["requests"]["responses"]
    assert histograms["latency_uncorrected"]["encoded"].startswith("HISTFAAA")
    assert latency["settle"]["ready"] is True
    assert host.file("/tmp/molecule-loadtest/latency/rep-1.json").user == "channels-bench"
    reference = json.loads(
        host.file("/tmp/molecule-loadtest/throughput/c2/reference-1.json").content_string
    )
    assert reference["tool"] == "wrk" and reference["requests"] > 0
    progress = host.file("/tmp/molecule-loadtest/progress.jsonl").content_string.splitlines()
    assert [json.loads(line)["event"] for line in progress] == [
        "started", "measured", "measured", "done",
    ]  # fmt: skip
