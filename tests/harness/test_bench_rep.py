"""bench_rep: a pass's driver documents become rep files - sources merged exactly (loadtest's
results and the harness's HdrHistograms), the reference attached, restarts attributed, flagged
with the rule book, written atomically and never over an existing file."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from harness_helpers import FIXTURES, ROOT, driver_document
from hdrh.histogram import HdrHistogram

from module_utils import channels_bench_rules

SERIES = FIXTURES / "series"
PLAN = {"keepalive": False, "request_timeout_ms": 10000, "warmup_s": 1.0}


def document(name: str) -> dict:
    return json.loads((SERIES / f"{name}.json").read_text())


def series() -> list[dict]:
    return [
        {"test": "latency", "rep": 1, "rps": 20, "duration_s": 8, "warmup_s": 1,
         "output": "latency/rep-1.json"},
        {"test": "reference", "clients": 2, "duration_s": 1,
         "output": "throughput/c2/reference-1.json"},
        {"test": "throughput", "rep": 1, "clients": 2, "duration_s": 2, "warmup_s": 1,
         "output": "throughput/c2/rep-1.json"},
    ]  # fmt: skip


def params(tmp_path: Path, **overrides) -> dict:
    return {
        "run_dir": str(tmp_path / "run"),
        "run_id": "20261129T153730Z-f587",
        "setup": "2016/gunicorn",
        "round": 1,
        "plan": PLAN,
        "url": "http://127.0.0.1:8000/",
        "series": series(),
        "sources": ["localhost"],
        "documents": {"localhost": [document("latency-rep-1"),
                                    document("throughput-c2-reference-1"),
                                    document("throughput-c2-rep-1")]},
        "server": {},
        "archives": [],
        "logs_dir": "logs",
        "schema_version": 2,
    } | overrides  # fmt: skip


def split_result(result: dict, share: int) -> tuple[dict, dict]:
    """Split one loadtest result into two sources' results that together make the same run:
    each latency bucket and error code divided, the accumulated time along with them."""
    parts = (copy.deepcopy(result), copy.deepcopy(result))
    for part in parts:
        part["histogramMs"], part["errorCodes"] = {}, {}
        part["accumulatedMs"] = 0
        part["totalRequests"] = 0
        part["totalErrors"] = 0
    for key, count in result["histogramMs"].items():
        first = count * share // 4
        for part, part_count in zip(parts, (first, count - first), strict=True):
            if part_count:
                part["histogramMs"][key] = part_count
                part["accumulatedMs"] += int(key) * part_count
                part["totalRequests"] += part_count
    for code, count in result["errorCodes"].items():
        first = count // 2
        parts[0]["errorCodes"][code] = first
        parts[1]["errorCodes"][code] = count - first
        parts[0]["totalErrors"] += first
        parts[1]["totalErrors"] += count - first
    for part in parts:
        latencies = [int(key) for key in part["histogramMs"]]
        part["maxLatencyMs"], part["minLatencyMs"] = max(latencies), min(latencies)
    return parts


def test_both_callers_use_the_one_rule_book(bench_rep):
    assert bench_rep.rule_flags is channels_bench_rules.flags
    assert bench_rep.loadtest_percentiles is channels_bench_rules.loadtest_percentiles
    from analysis import _flags, _load

    assert _load.rules is channels_bench_rules
    assert _flags.rules is channels_bench_rules


@pytest.mark.parametrize("name", ["latency", "throughput", "latency-errors"])
def test_one_source_keeps_loadtests_result_unchanged(bench_rep, name):
    result = driver_document(name)["loadtest"]
    assert bench_rep.merge_loadtest([result]) == result


@pytest.mark.parametrize("name", ["latency", "throughput", "latency-errors"])
@pytest.mark.parametrize("share", [1, 2, 3])
def test_two_sources_merge_into_the_single_run(bench_rep, name, share):
    result = driver_document(name)["loadtest"]
    merged = bench_rep.merge_loadtest(split_result(result, share))
    for key in ("histogramMs", "percentiles", "errorCodes", "totalRequests", "totalErrors",
                "maxLatencyMs", "minLatencyMs"):  # fmt: skip
        assert merged[key] == result[key], key
    assert merged["meanLatencyMs"] == result["meanLatencyMs"]
    assert merged["startTimeMs"] is None and merged["stopTimeMs"] is None


def histogram(values: list[int]) -> HdrHistogram:
    recorded = HdrHistogram(1, 3_600_000_000, 3)
    for value in values:
        recorded.record_value(value)
    return recorded


def test_histograms_of_sources_merge_exactly(bench_rep):
    first, second = [100, 250, 900, 12_000], [130, 180, 5000, 5000, 77_000]
    parts = [
        {"encoded": histogram(values).encode().decode()} | {"count": len(values)}
        for values in (first, second)
    ]
    merged = bench_rep.merge_histograms(parts)
    whole = histogram(first + second)
    assert merged["count"] == 9
    for key, percentile in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)):
        assert merged[key] == whole.get_value_at_percentile(percentile), key
    assert merged["max"] == whole.get_max_value()
    assert HdrHistogram.decode(merged["encoded"]).get_total_count() == 9


def test_a_pass_writes_one_file_per_measurement(bench_rep, tmp_path):
    result = bench_rep.write_pass(params(tmp_path))
    setup_dir = tmp_path / "run" / "2016" / "gunicorn"
    assert sorted(str(p.relative_to(setup_dir)) for p in setup_dir.rglob("*.json")) == [
        "latency/rep-1.json", "throughput/c2/reference-1.json", "throughput/c2/rep-1.json",
    ]
    assert result["missing"] == [] and [rep["test"] for rep in result["reps"]] == [
        "latency", "throughput",
    ]
    latency = json.loads((setup_dir / "latency" / "rep-1.json").read_text())
    assert latency["schema_version"] == 2 and latency["setup"] == "2016/gunicorn"
    assert latency["requested_rps"] == 20 and latency["plan"]["duration_s"] == 8
    # One source: its documents' loadtest result and harness measurement, unchanged.
    assert latency["loadtest"] == document("latency-rep-1")["loadtest"]
    assert latency["harness"] == document("latency-rep-1")["harness"]
    assert latency["flags"] == channels_bench_rules.flags(latency)
    assert latency["valid"] is (latency["flags"] == [])
    # No leftovers of the atomic writes.
    assert not [p for p in setup_dir.rglob("*") if p.name.startswith(".")]


def test_each_closed_loop_rep_carries_the_reference_of_its_client_count(bench_rep, tmp_path):
    bench_rep.write_pass(params(tmp_path))
    rep = json.loads((tmp_path / "run/2016/gunicorn/throughput/c2/rep-1.json").read_text())
    reference = document("throughput-c2-reference-1")
    assert rep["reference"]["tool"] == "wrk" and rep["reference"]["rps"] == reference["rps"]
    assert rep["reference"]["file"] == "throughput/c2/reference-1.json"
    assert "wrk_output" not in rep["reference"]
    written = json.loads(
        (tmp_path / "run/2016/gunicorn/throughput/c2/reference-1.json").read_text()
    )
    assert written["wrk"]["wrk_output"] == reference["wrk_output"]
    assert ("generator_limited" in rep["flags"]) == (rep["achieved_rps"] < 0.8 * reference["rps"])


def test_what_was_measured_is_written_and_what_was_not_is_reported(bench_rep, tmp_path):
    half = params(tmp_path, documents={"localhost": [document("latency-rep-1")]})
    result = bench_rep.write_pass(half)
    assert result["missing"] == ["throughput/c2/reference-1.json", "throughput/c2/rep-1.json"]
    assert (tmp_path / "run/2016/gunicorn/latency/rep-1.json").exists()


def make_archive(path: Path, files: dict[str, str]) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_the_logs_and_config_of_a_pass_are_unpacked_once(bench_rep, tmp_path):
    incoming = tmp_path / "run" / ".incoming"
    incoming.mkdir(parents=True)
    first = make_archive(incoming / "a.tar.gz", {
        "logs/gunicorn.log": "GET / 200\n", "supervisor.conf": "[program:gunicorn]\n",
        "../escape.log": "no", "logs/.hidden": "no",
    })  # fmt: skip
    result = bench_rep.write_pass(params(tmp_path, archives=[str(first)]))
    setup_dir = tmp_path / "run" / "2016" / "gunicorn"
    assert (setup_dir / "logs" / "gunicorn.log").read_text() == "GET / 200\n"
    assert (setup_dir / "supervisor.conf").read_text() == "[program:gunicorn]\n"
    assert sorted(Path(p).name for p in result["logs"]) == ["gunicorn.log", "supervisor.conf"]
    assert not (tmp_path / "run" / "escape.log").exists() and not incoming.exists()
    # A later round keeps the first config and puts its logs beside the first round's.
    incoming.mkdir()
    later = make_archive(incoming / "b.tar.gz", {
        "logs/gunicorn.log": "round 2\n", "supervisor.conf": "changed\n",
    })  # fmt: skip
    bench_rep.unpack_archives(str(setup_dir), [str(later)], "logs/round-2")
    assert (setup_dir / "logs" / "round-2" / "gunicorn.log").read_text() == "round 2\n"
    assert (setup_dir / "supervisor.conf").read_text() == "[program:gunicorn]\n"


def test_an_existing_rep_is_never_overwritten(bench_rep, tmp_path):
    bench_rep.write_pass(params(tmp_path))
    path = tmp_path / "run/2016/gunicorn/latency/rep-1.json"
    before = path.read_bytes()
    with pytest.raises(bench_rep.RepError, match="never overwritten"):
        bench_rep.write_pass(params(tmp_path))
    assert path.read_bytes() == before


SUPERVISORD_LOG = """\
2026-11-29 15:38:03,101 INFO spawned: 'gunicorn' with pid 4242
2026-11-29 15:38:05,102 INFO success: gunicorn entered RUNNING state
2026-11-29 15:38:24,500 WARN exited: gunicorn (terminated by SIGKILL; not expected)
2026-11-29 15:38:24,512 INFO spawned: 'gunicorn' with pid 4343
"""


def test_a_restart_during_a_rep_is_attributed_to_it(bench_rep, tmp_path):
    server = {
        "group": "django_http",
        "status_before": ["django_http:gunicorn   RUNNING   pid 4242, uptime 0:00:20"],
        "supervisord_log": SUPERVISORD_LOG,
        "tz_offset": "+0000",
    }
    bench_rep.write_pass(params(tmp_path, server=server))
    latency = json.loads((tmp_path / "run/2016/gunicorn/latency/rep-1.json").read_text())
    # The latency rep ran from 15:38:21 to 15:38:29 (UTC): the kill at 15:38:24 is inside it.
    assert latency["server"]["pids_before"] == {"gunicorn": 4242}
    assert latency["server"]["pids_after"] == {"gunicorn": 4343}
    assert [e["event"] for e in latency["server"]["events"]] == ["exited", "spawned"]
    assert "server_restarted" in latency["flags"] and latency["valid"] is False
    later = json.loads((tmp_path / "run/2016/gunicorn/throughput/c2/rep-1.json").read_text())
    assert later["server"]["pids_before"] == later["server"]["pids_after"] == {"gunicorn": 4343}
    assert "server_restarted" not in later["flags"]


def test_supervisord_local_time_is_turned_into_utc(bench_rep):
    [event] = bench_rep.server_events(
        "2026-11-29 16:38:24,500 INFO spawned: 'worker_01' with pid 7\n", "+0100"
    )
    assert event["name"] == "worker_01" and event["pid"] == 7
    assert event["time"].isoformat() == "2026-11-29T15:38:24.500000+00:00"


def run_module(tmp_path: Path, arguments: dict) -> dict:
    """The module through Ansible itself (the rule book is a module_utils of ansible.cfg)."""
    (tmp_path / "args.json").write_text(json.dumps({"bench_rep_args": arguments}))
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - bench_rep: '{{ bench_rep_args }}'\n"
        "      register: written\n      ignore_errors: true\n"
        "    - ansible.builtin.copy:\n        content: '{{ written | to_json }}'\n"
        f"        dest: {tmp_path}/result.json\n        mode: '0644'\n"
    )
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook),
         "-e", f"@{tmp_path / 'args.json'}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (tmp_path / "result.json").exists(), completed.stdout[-3000:] + completed.stderr
    return json.loads((tmp_path / "result.json").read_text())


def test_the_module_writes_once_and_never_overwrites(tmp_path):
    arguments = params(tmp_path)
    first = run_module(tmp_path, arguments)
    assert first.get("failed") is not True, first
    assert first["changed"] is True and first["missing"] == []
    assert len(first["lines"]) == 2 and first["lines"][0].startswith("[2016/gunicorn] 1/2 latency")
    written = (tmp_path / "run/2016/gunicorn/latency/rep-1.json").read_bytes()
    again = run_module(tmp_path, arguments)
    assert again["failed"] is True and "never overwritten" in again["msg"]
    assert (tmp_path / "run/2016/gunicorn/latency/rep-1.json").read_bytes() == written
