"""Reading runs: every fixture, old and new schema versions, and damaged files."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import FIXTURES, read_json

from analysis import RunReadError, load_run
from analysis._model import LATENCY_TEST, TestKey


def test_complete_run_has_every_rep_the_plan_asks_for_and_no_problems():
    run = load_run(FIXTURES / "complete")
    plan = read_json(FIXTURES / "complete" / "run.json")["plan"]
    tests = 1 + len(plan["throughput"]["clients"])
    assert run.problems == []
    assert run.setups() == ["gunicorn", "redis", "ipc"]
    assert len(run.reps) == 3 * tests * plan["repetitions"]
    assert run.tests() == [LATENCY_TEST, *(TestKey("throughput", c) for c in (1, 10))]
    assert all(rep.valid and rep.flags_from == "harness" for rep in run.reps)
    assert run.latency_rps() == plan["latency"]["rps"]
    assert run.meta.pins["asgi_ipc"] == "1.1.0"
    assert [host.name for host in run.hosts] == ["localhost"]


def test_failed_setup_is_reported_as_failed_with_its_stage():
    run = load_run(FIXTURES / "failed-setup")
    status = run.setup_status("ipc")
    assert status.state == "failed"
    assert "loadtest" in status.detail
    assert "daphne did not answer" in status.detail
    assert run.setup_status("gunicorn").state == "measured"
    assert not [rep for rep in run.reps if rep.setup == "ipc"]
    # A setup that never completed is not expected to have reps: no "missing" problems for it.
    assert run.problems == []


def test_flags_and_validity_come_from_the_rep_files():
    run_dir = FIXTURES / "flagged"
    run = load_run(run_dir)
    for rep in run.reps:
        written = read_json(run_dir / rep.file)
        assert rep.flags == tuple(written["flags"])
        assert rep.valid == written["valid"]
    ipc_latency = run.reps_of("ipc", LATENCY_TEST)
    assert [rep.flags for rep in ipc_latency] == [("rate_shortfall",)] * 3


def test_old_schema_run_is_read_as_version_1_with_flags_and_numbers_derived():
    run = load_run(FIXTURES / "old-schema")
    assert run.meta.schema_version == 1
    assert run.meta.setups_completed is None
    assert [p.severity for p in run.problems] == ["warning"]
    assert "schema_version" in run.problems[0].message
    assert all(rep.flags_from == "analysis" for rep in run.reps)
    errored = [rep for rep in run.reps if not rep.valid]
    assert [(rep.setup, rep.rep, rep.flags) for rep in errored] == [("redis", 2, ("errors",))]
    first = run.reps_of("gunicorn", LATENCY_TEST)[0]
    assert {"p50_ms", "p90_ms", "p99_ms", "mean_ms", "achieved_rps"} <= set(first.metrics)
    assert any("computed from histogramMs" in note for note in first.notes)


def test_each_damaged_file_is_named_with_what_is_wrong_and_the_rest_is_read():
    run = load_run(FIXTURES / "malformed")
    problems = {p.file: p.message for p in run.problems}
    assert "JSON array" in problems["hosts/localhost.json"]
    assert problems["redis/latency/rep-2.json"].startswith("not valid JSON (line")
    assert "loadtest missing" in problems["ipc/latency/rep-3.json"]
    assert "percentiles.99" in problems["gunicorn/latency/rep-1.json"]
    assert problems["gunicorn/latency/rep-3.json"].startswith("missing")
    assert len(run.problems) == 5
    # Everything else was read: 9 latency reps planned, 3 of them unusable.
    assert len(run.reps) == 6
    # The bad p99 was recomputed from the histogram, as loadtest would have.
    assert "p99_ms" in run.reps_of("gunicorn", LATENCY_TEST)[0].metrics


def test_newer_schema_version_is_read_with_one_warning(run_copy):
    run_dir = run_copy("complete")
    for path in [run_dir / "run.json", *run_dir.glob("*/latency/rep-*.json")]:
        document = json.loads(path.read_text())
        document["schema_version"] = 2
        path.write_text(json.dumps(document))
    run = load_run(run_dir)
    assert len(run.reps) == 27
    assert [p.severity for p in run.problems] == ["warning"]
    assert "schema_version 2 is newer" in run.problems[0].message
    assert "and 7 more" in run.problems[0].message


def test_wrong_types_are_problems_not_crashes(run_copy):
    run_dir = run_copy("complete")
    run_json = json.loads((run_dir / "run.json").read_text())
    run_json["schema_version"] = "one"
    run_json["plan"]["repetitions"] = "three"
    run_json["setups"] = "gunicorn"
    (run_dir / "run.json").write_text(json.dumps(run_json))
    run = load_run(run_dir)
    messages = [str(p) for p in run.problems]
    assert any("run.json: schema_version should be a number" in m for m in messages)
    assert any("run.json: plan.repetitions should be a number" in m for m in messages)
    assert any("run.json: setups should be a list of strings" in m for m in messages)
    assert run.setups() == ["gunicorn", "redis", "ipc"]  # from the directories on disk


def test_missing_run_json_is_a_problem_and_the_directory_name_is_the_run_id(run_copy):
    run_dir = run_copy("complete")
    (run_dir / "run.json").unlink()
    run = load_run(run_dir)
    assert run.run_id == "complete"
    assert [(p.file, p.message) for p in run.problems] == [("run.json", "missing")]
    assert len(run.reps) == 27


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(RunReadError, match="not a run directory"):
        load_run(tmp_path)
    with pytest.raises(RunReadError, match="no such directory"):
        load_run(tmp_path / "absent")
