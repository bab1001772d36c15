"""The WebSocket client against servers whose faults are known: it must count and time them
exactly. Every load goes to loopback, for a second or two."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram
from websockets.asyncio.client import connect
from wsbench_helpers import Server, run_client

HISTOGRAM_KEYS = {"encoded", "count", "mean", "min", "p50", "p90", "p99", "p99.9", "max"}
DELAY_US = 20_000


def measure(wsbench: ModuleType, tmp_path: Path, **spec: Any) -> dict[str, Any]:
    output = tmp_path / f"{spec['test']}-{len(list(tmp_path.iterdir()))}.json"
    document = wsbench.run_spec({"output": str(output), **spec})
    assert json.loads(output.read_text()) == json.loads(json.dumps(document))
    return document


def hits(first: int, stop: int, every: int) -> int:
    """How many numbers in [first, stop) a server fault `every` hits (seq % every == every - 1)."""
    return sum(1 for seq in range(first, stop) if seq % every == every - 1)


def held_us(server: Server) -> list[int]:
    """The delays the test server actually applied since it was last asked (it forgets them)."""

    async def ask() -> list[int]:
        async with connect(server.url("/stats/"), proxy=None) as connection:
            return list(json.loads(await connection.recv())["held_us"])

    return sorted(asyncio.run(ask()))


def median(values: list[int]) -> int:
    return sorted(values)[len(values) // 2]


def check_delay(latency: dict[str, Any], held: list[int]) -> None:
    """Every other message was held DELAY_US by the server (late_every=2), the others not: the
    client's latencies fall in two modes, and the distance between the modes' medians (the
    histogram's p25 and p75) is the delay the server applied, within 1 ms. The distance cancels
    the loopback's own time, which a shared machine's load changes from run to run."""
    delayed = [h for h in held if h >= DELAY_US]
    prompt = [h for h in held if h < DELAY_US]
    # Both modes hold a good share of the messages (drops may thin one), so that p25 falls in
    # the prompt one and p75 in the delayed one.
    assert min(len(delayed), len(prompt)) >= 0.3 * len(held)
    applied = median(delayed) - median(prompt)
    histogram = HdrHistogram.decode(latency["encoded"])
    measured = histogram.get_value_at_percentile(75) - histogram.get_value_at_percentile(25)
    assert abs(measured - applied) <= 1000, (measured, applied)
    # The delayed messages can never look faster than the delay itself: everything above the
    # prompt ones' share of the histogram is at least DELAY_US.
    prompt_percent = 100 * len(prompt) / len(held)
    assert histogram.get_value_at_percentile(prompt_percent + 1) >= DELAY_US


def check_histogram(summary: dict[str, Any]) -> None:
    assert set(summary) == HISTOGRAM_KEYS
    decoded = HdrHistogram.decode(summary["encoded"])
    assert decoded.get_total_count() == summary["count"]
    if summary["count"]:
        assert decoded.get_value_at_percentile(99) == summary["p99"]
        assert summary["min"] <= summary["p50"] <= summary["p99"] <= summary["max"]


def test_echo_counts_every_message_and_has_the_contract_shape(wsbench, test_server, tmp_path):
    document = measure(
        wsbench,
        tmp_path,
        test="ws-echo",
        url=test_server.url("/echo/"),
        connections=4,
        rate=400,
        duration_s=1,
        warmup_s=0.3,
    )
    harness = document["harness"]
    messages = harness["messages"]
    assert messages["sent"] == pytest.approx(400, abs=4)
    assert messages["received"] == messages["sent"]
    assert (messages["lost"], messages["duplicates"], messages["out_of_order"]) == (0, 0, 0)
    assert harness["errors"] == 0 and harness["connections"] == {"asked": 4, "opened": 4}
    histograms = harness["histograms"]
    assert set(histograms) == {
        "latency_uncorrected",
        "latency_corrected",
        "send_lag",
        "event_loop_delay",
    }
    for summary in histograms.values():
        check_histogram(summary)
    assert histograms["latency_uncorrected"]["count"] == messages["received"]
    assert histograms["send_lag"]["count"] == messages["sent"]
    # Corrected latency is timed from the scheduled send, never after the actual one.
    assert histograms["latency_corrected"]["min"] >= histograms["latency_uncorrected"]["min"]
    assert sum(harness["timeline"]["sent"]) == messages["sent"]
    assert sum(harness["timeline"]["received"]) == messages["received"]
    assert harness["timeline"]["bin_s"] == 0.1
    # The measured part's UTC times, warm-up excluded.
    started, ended = (
        datetime.fromisoformat(document[key].replace("Z", "+00:00"))
        for key in ("started_at", "ended_at")
    )
    assert document["started_at"].endswith("Z")
    assert (ended - started).total_seconds() == pytest.approx(1.0, abs=0.01)
    assert document["warmup"]["sent"] == pytest.approx(120, abs=4)
    generator = document["generator"]
    assert 0 < generator["cpu_percent"] == generator["cpu_percent_max"]
    assert generator["websockets_version"] == "17.4"
    assert document["valid"] == (document["flags"] == [])
    assert not {"messages_lost", "errors", "rate_shortfall"} & set(document["flags"])


def test_echo_delay_is_measured_within_a_millisecond(wsbench, test_server, tmp_path):
    held_us(test_server)
    document = measure(
        wsbench,
        tmp_path,
        test="ws-echo",
        url=test_server.url("/echo/?late_every=2&late_ms=20"),
        connections=2,
        rate=40,
        duration_s=2,
        warmup_s=0.2,
    )
    latency = document["harness"]["histograms"]["latency_uncorrected"]
    assert latency["count"] == document["harness"]["messages"]["sent"]
    check_delay(latency, held_us(test_server))


def test_echo_loss_is_counted_exactly(wsbench, test_server, tmp_path):
    document = measure(
        wsbench,
        tmp_path,
        test="ws-echo",
        url=test_server.url("/echo/?drop_every=10"),
        connections=1,
        rate=200,
        duration_s=1,
        warmup_s=0,
        message_timeout_s=0.5,
    )
    messages = document["harness"]["messages"]
    assert messages["lost"] == hits(0, messages["sent"], 10) > 0
    assert messages["received"] == messages["sent"] - messages["lost"]
    assert "messages_lost" in document["flags"] and document["valid"] is False


def test_fanout_counts_loss_per_subscriber_and_times_delivery(wsbench, test_server, tmp_path):
    held_us(test_server)
    document = measure(
        wsbench,
        tmp_path,
        test="ws-fanout",
        url=test_server.url("/fanout/{group}/?drop_every=10&late_every=2&late_ms=20"),
        groups=2,
        subscribers=3,
        rate=20,
        duration_s=2,
        warmup_s=0,
        message_timeout_s=1,
    )
    messages = document["harness"]["messages"]
    per_group_sent = messages["sent"] // 2
    assert messages["sent"] == pytest.approx(80, abs=2)
    subscribers = document["subscribers"]
    assert len(subscribers) == 6 and {s["group"] for s in subscribers} == {0, 1}
    for subscriber in subscribers:
        assert subscriber["expected"] in (per_group_sent, per_group_sent + 1)
        assert subscriber["lost"] == hits(0, subscriber["expected"], 10) > 0
        assert subscriber["received"] == subscriber["expected"] - subscriber["lost"]
        assert subscriber["duplicates"] == subscriber["out_of_order"] == 0
    assert messages["lost"] == sum(s["lost"] for s in subscribers)
    latency = document["harness"]["histograms"]["latency_uncorrected"]
    assert latency["count"] == messages["received"]
    check_delay(latency, held_us(test_server))
    assert "messages_lost" in document["flags"]


def test_fanout_counts_duplicates_and_late_messages(wsbench, test_server, tmp_path):
    document = measure(
        wsbench,
        tmp_path,
        test="ws-fanout",
        url=test_server.url("/fanout/{group}/?duplicate_every=7&late_every=5&late_ms=200"),
        groups=1,
        subscribers=2,
        rate=50,
        duration_s=1,
        warmup_s=0,
        message_timeout_s=1,
    )
    for subscriber in document["subscribers"]:
        expected = subscriber["expected"]
        assert subscriber["lost"] == 0
        assert subscriber["duplicates"] == hits(0, expected, 7) > 0
        # A late message is out of order when a later one was sent before it arrived.
        assert subscriber["out_of_order"] == hits(0, expected - 1, 5) > 0
    assert {"messages_duplicated", "messages_out_of_order"} <= set(document["flags"])


def test_connect_steps_measure_memory_per_connection(wsbench, test_server, tmp_path):
    document = measure(
        wsbench,
        tmp_path,
        test="ws-connect",
        url=test_server.url("/hold/?alloc_kb=2048"),
        steps=[10, 20],
        hold_s=0.3,
        warmup_s=0.2,
        server_pids=[test_server.process.pid],
    )
    steps = document["steps"]
    assert [s["connections"] for s in steps] == [10, 20]
    for step in steps:
        assert step["opened"] == 10 and step["failed"] == 0
        assert step["handshake"]["count"] == 10
        # 2 MiB each, give or take what the server's allocator keeps or returns meanwhile.
        assert 0.9 * 2048 <= step["server_rss_kb_per_connection"] <= 1.1 * 2048
        assert step["server_pids_read"] == [test_server.process.pid]
    assert steps[-1]["held_at_end"] == 20
    assert document["harness"]["histograms"]["handshake"]["count"] == 20
    assert document["harness"]["messages"] is None and document["flags"] == []


def test_server_memory_includes_its_descendants(wsbench):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in wsbench.descendants([os.getpid()])
        total, pids = wsbench.resident_kb([os.getpid()])
        assert child.pid in pids and total > 0
    finally:
        child.kill()
        child.wait()


def test_connect_failures_are_counted_not_fatal(wsbench, test_server, tmp_path):
    document = measure(
        wsbench,
        tmp_path,
        test="ws-connect",
        url=test_server.url("/no-such-path/"),
        steps=[3],
        hold_s=0.1,
        warmup_s=0,
    )
    step = document["steps"][0]
    assert step["opened"] == 0 and step["failed"] == 3
    assert document["harness"]["error_kinds"] == {"connect_http_404": 3}
    assert "errors" in document["flags"]


def test_ceiling_share_flags_a_run_asking_too_much(wsbench, test_server, tmp_path):
    spec = {
        "test": "ws-echo",
        "url": test_server.url("/echo/"),
        "connections": 1,
        "rate": 100,
        "duration_s": 0.3,
        "warmup_s": 0,
    }
    above = measure(wsbench, tmp_path, client_ceiling_rate=150, **spec)
    below = measure(wsbench, tmp_path, client_ceiling_rate=1000, **spec)
    # 100 echoes/s is 200 frames/s: above half of a 150/s ceiling, below half of 1000/s.
    assert "generator_ceiling" in above["flags"]
    assert "generator_ceiling" not in below["flags"]


def test_an_existing_output_is_refused_before_any_connection(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    output = tmp_path / "taken.json"
    output.write_text("earlier result\n")
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "test": "ws-echo",
                "url": f"ws://127.0.0.1:{port}/",
                "output": str(output),
                "connections": 1,
                "rate": 10,
                "duration_s": 1,
            }
        )
    )
    completed = run_client(str(spec))
    assert completed.returncode == 2
    assert "exists already" in completed.stderr
    assert output.read_text() == "earlier result\n"
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()


def test_write_is_atomic_and_never_replaces(wsbench, tmp_path):
    output = tmp_path / "result.json"
    wsbench.write_exclusive(output, "first\n")
    with pytest.raises(FileExistsError):
        wsbench.write_exclusive(output, "second\n")
    assert output.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.parametrize(
    ("spec", "problems"),
    [
        ({"test": "ws-bogus"}, ["test must be one of ws-echo, ws-fanout, ws-connect"]),
        (
            {
                "test": "ws-echo",
                "url": "http://127.0.0.1:1/",
                "output": "relative.json",
                "connections": 0,
                "rate": -1,
                "duration_s": 0,
            },
            [
                "url must be a ws:// or wss:// URL",
                "output must be an absolute path",
                "connections must be a whole number from 1",
                "rate must be a number above 0",
                "duration_s must be a number above 0",
            ],
        ),
        (
            {
                "test": "ws-fanout",
                "url": "ws://127.0.0.1:1/ws/fanout/x/",
                "output": "/tmp/x",
                "groups": 1,
                "subscribers": 1,
                "rate": 1,
                "duration_s": 1,
                "group_prefix": "a b",
            },
            ["must contain {group} once", "group_prefix must be 1-60 letters"],
        ),
        (
            {
                "test": "ws-connect",
                "url": "ws://127.0.0.1:1/",
                "output": "/tmp/x",
                "steps": [100, 50],
                "hold_s": 1,
                "server_pids": ["one"],
            },
            ["steps must be a rising list", "server_pids must be a list of process ids"],
        ),
        (
            {
                "test": "ws-echo",
                "url": "ws://127.0.0.1:1/",
                "output": "/tmp/x",
                "connections": 1,
                "rate": 1,
                "duration_s": 1,
                "groups": 3,
            },
            ["unknown key(s) groups for ws-echo: the keys are output, test, url"],
        ),
        (
            {
                "test": "ws-echo",
                "url": "ws://127.0.0.1:1/",
                "output": "/tmp/x",
                "connections": 1,
                "rate": 1e9,
                "duration_s": 100,
            },
            ["more than the bound of 20000000"],
        ),
    ],
)
def test_bad_specs_name_every_problem_and_load_nothing(tmp_path, spec, problems):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    completed = run_client(str(path))
    assert completed.returncode == 2, completed.stderr
    for problem in problems:
        assert problem in completed.stderr
    assert completed.stdout == ""


def test_unreadable_specs_and_usage(tmp_path):
    not_json = tmp_path / "spec.json"
    not_json.write_text("{test: ws-echo")
    assert "is not JSON" in run_client(str(not_json)).stderr
    assert "cannot read the spec" in run_client(str(tmp_path / "missing.json")).stderr
    assert run_client().returncode == 2
    help_text = run_client("--help")
    assert help_text.returncode == 0 and "ws-fanout" in help_text.stdout


def test_self_check_passes_on_loopback():
    completed = run_client("--self-check")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.startswith("wsbench self-check: ok")


def test_the_client_flags_with_the_rule_book_alone(wsbench):
    document = {"test": "ws-echo", "requested_rate": 100, "achieved_rate": 100,
                "harness": {"errors": 0, "messages": {"received": 5, "lost": 1}},
                "generator": {}}  # fmt: skip
    assert wsbench.flags(document) == wsbench.rules.flags(document) == [
        "too_few_messages", "messages_lost",
    ]


def test_the_client_reads_the_repositorys_rule_book(wsbench):
    rule_book = Path(wsbench.rules.__file__).resolve()
    assert (
        rule_book
        == Path(__file__).resolve().parents[2] / "module_utils" / "channels_bench_rules.py"
    )


def test_generator_lag_rule_applies_to_the_document(wsbench):
    slow = {"p99": 8000, "count": 10}
    document = {
        "test": "ws-echo",
        "generator": {"cpu_percent_max": 95.0},
        "harness": {"histograms": {"send_lag": slow, "latency_uncorrected": {"p99": 400}}},
    }
    assert wsbench.rules.flags(document) == ["generator_saturated", "generator_lag"]
