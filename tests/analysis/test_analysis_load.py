"""Reading runs: schema 1 and 2, every test kind, old and damaged files."""

from __future__ import annotations

import json

import pytest
from analysis_helpers import FIXTURES, read_json

from analysis import RunReadError, load_run
from analysis._model import LATENCY_TEST, TestKey
from module_utils import channels_bench_rules as rules

SEED_SETUPS = ["2016/gunicorn", "2016/redis", "2016/ipc"]


# Schema 1: bare names read as <stack>/<name>, directories right under the run


def test_complete_schema_1_run_names_its_setups_by_stack_and_reads_every_rep():
    run = load_run(FIXTURES / "complete")
    plan = read_json(FIXTURES / "complete" / "run.json")["plan"]
    tests = 1 + len(plan["throughput"]["clients"])
    assert run.problems == []
    assert run.setups() == SEED_SETUPS
    assert [s.directory for s in run.setup_table] == ["gunicorn", "redis", "ipc"]
    assert len(run.reps) == 3 * tests * plan["repetitions"]
    assert run.tests() == [LATENCY_TEST, *(TestKey("throughput", c) for c in (1, 10))]
    assert all(rep.valid and rep.flags_from == "harness" for rep in run.reps)
    assert all(rep.latency_basis == "loadtest" for rep in run.reps)
    assert run.latency_rps() == plan["latency"]["rps"]
    # Schema 1 has no catalogue: the seed module describes its three setups.
    assert run.setup_info("2016/ipc").role == "asgi-shared-memory"


def test_failed_setup_is_reported_as_failed_with_its_stage():
    run = load_run(FIXTURES / "failed-setup")
    status = run.setup_status("2016/ipc")
    assert status.state == "failed"
    assert "loadtest" in status.detail and "daphne did not answer" in status.detail
    assert run.setup_status("2016/gunicorn").state == "measured"
    assert not [rep for rep in run.reps if rep.setup == "2016/ipc"]
    assert run.problems == []


def test_flags_and_validity_come_from_the_rep_files():
    run_dir = FIXTURES / "flagged"
    run = load_run(run_dir)
    for rep in run.reps:
        written = read_json(run_dir / rep.file)
        assert rep.flags == tuple(written["flags"])
        assert rep.valid == written["valid"]
    ipc_latency = run.reps_of("2016/ipc", LATENCY_TEST)
    assert [rep.flags for rep in ipc_latency] == [("rate_shortfall",)] * 3


def test_old_schema_run_gets_the_rule_books_flags_and_loadtests_percentile_rule():
    run_dir = FIXTURES / "old-schema"
    run = load_run(run_dir)
    assert run.meta.schema_version == 1
    assert run.meta.setups_completed is None
    assert [p.severity for p in run.problems] == ["warning"]
    assert all(rep.flags_from == "analysis" for rep in run.reps)
    for rep in run.reps:
        # The rule book on the very record (achieved and requested rate filled in, as noted).
        record = read_json(run_dir / rep.file)
        record.setdefault("achieved_rps", rep.achieved_rps)
        record.setdefault("requested_rps", rep.requested_rps)
        assert list(rep.flags) == rules.flags(record)
    errored = [rep for rep in run.reps if not rep.valid]
    assert [(rep.setup, rep.rep, rep.flags) for rep in errored] == [("2016/redis", 2, ("errors",))]
    first = run.reps_of("2016/gunicorn", LATENCY_TEST)[0]
    loadtest = read_json(run_dir / first.file)["loadtest"]
    expected = rules.loadtest_percentiles(loadtest["histogramMs"], loadtest["totalRequests"])
    assert first.metrics["loadtest:p50"] == expected["50"]
    assert first.metrics["loadtest:p99"] == expected["99"]
    assert any("computed from histogramMs" in note for note in first.notes)


def test_loadtests_rule_is_the_rule_books_even_where_it_surprises(run_copy):
    """{0 ms: 60, 1 ms: 40}: loadtest itself prints p50 = 1 (0 is falsy in JavaScript)."""
    run_dir = run_copy("old-schema")
    path = run_dir / "ipc" / "latency" / "rep-1.json"
    document = read_json(path)
    document["loadtest"].update({"histogramMs": {"0": 60, "1": 40}, "totalRequests": 100})
    path.write_text(json.dumps(document))
    rep = load_run(run_dir).reps_of("2016/ipc", LATENCY_TEST)[0]
    assert rep.metrics["loadtest:p50"] == 1.0


def test_each_damaged_file_is_named_with_what_is_wrong_and_the_rest_is_read():
    run = load_run(FIXTURES / "malformed")
    problems = {p.file: p.message for p in run.problems}
    assert "JSON array" in problems["hosts/localhost.json"]
    assert problems["redis/latency/rep-2.json"].startswith("not valid JSON (line")
    assert "loadtest missing" in problems["ipc/latency/rep-3.json"]
    assert "percentiles.99" in problems["gunicorn/latency/rep-1.json"]
    assert problems["gunicorn/latency/rep-3.json"].startswith("missing")
    assert len(run.problems) == 5
    assert len(run.reps) == 6
    assert "loadtest:p99" in run.reps_of("2016/gunicorn", LATENCY_TEST)[0].metrics


def test_newer_schema_version_is_read_with_one_warning(run_copy):
    run_dir = run_copy("v2-variants")
    for path in [run_dir / "run.json", *run_dir.glob("*/*/latency/rep-*.json")]:
        document = json.loads(path.read_text())
        document["schema_version"] = 3
        path.write_text(json.dumps(document))
    run = load_run(run_dir)
    assert len(run.reps) == len(load_run(FIXTURES / "v2-variants").reps)
    assert [p.severity for p in run.problems] == ["warning"]
    assert "schema_version 3 is newer" in run.problems[0].message


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
    assert sorted(run.setups()) == sorted(SEED_SETUPS)  # from the directories on disk


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


# Schema 2


def test_schema_2_setups_follow_run_json_and_carry_their_catalogue_row():
    run_dir = FIXTURES / "v2-two-stacks"
    written = read_json(run_dir / "run.json")
    run = load_run(run_dir)
    assert run.problems == []
    assert run.setups() == written["setups"]
    assert run.stacks() == ["2016", "2026"]
    for setup in run.setup_table:
        row = written["catalogue"][setup.name]
        assert (setup.role, setup.description, setup.pins) == (
            row["role"],
            row["description"],
            row["pins"],
        )
        assert setup.directory == setup.name
    assert run.meta.order_kind == "interleaved"


def test_schema_2_reads_every_test_kind_and_the_references():
    run_dir = FIXTURES / "v2-complete"
    run = load_run(run_dir)
    assert run.problems == []
    kinds = {(t.kind, t.clients, t.rate, t.fraction) for t in run.tests()}
    assert kinds == {
        ("latency", None, None, None),
        *(("throughput", c, None, None) for c in (1, 10, 50)),
        *(("sweep", None, float(r), None) for r in (100, 200, 400)),
        ("sweep", None, None, 0.5),
    }
    on_disk = sorted(run_dir.glob("*/*/**/rep-*.json"))
    assert len(run.reps) == len(on_disk)
    assert all(rep.latency_basis == "hdr" for rep in run.reps)
    references = sorted(run_dir.glob("*/*/throughput/c*/reference-*.json"))
    assert len(run.references) == len(references)
    ref = run.references_of("2016/redis", 10)[0]
    assert ref.rps == read_json(run_dir / "2016/redis/throughput/c10/reference-1.json")["rps"]
    fraction = run.reps_of("2016/redis", TestKey("sweep", fraction=0.5))[0]
    written = read_json(run_dir / fraction.file)
    assert fraction.capacity_rps == written["plan"]["capacity_rps"]
    assert fraction.requested_rps == written["requested_rps"]


def test_schema_2_flags_are_the_files_and_the_rule_book_fills_in_missing_ones(run_copy):
    run_dir = run_copy("v2-complete")
    run = load_run(run_dir)
    for rep in run.reps:
        assert list(rep.flags) == read_json(run_dir / rep.file)["flags"]
    saturated = run.reps_of("2016/ipc", LATENCY_TEST)
    assert all({"rate_shortfall", "backlog"} <= set(rep.flags) for rep in saturated)
    assert all(rep.saturated for rep in saturated)
    # The same reps without flags: analysis applies the rule book and says so.
    for path in run_dir.glob("2016/ipc/latency/rep-*.json"):
        document = read_json(path)
        del document["flags"], document["valid"]
        path.write_text(json.dumps(document))
    again = load_run(run_dir).reps_of("2016/ipc", LATENCY_TEST)
    assert [rep.flags for rep in again] == [rep.flags for rep in saturated]
    assert {rep.flags_from for rep in again} == {"analysis"}


def test_each_flag_is_described_with_the_rule_books_sentence_and_its_numbers():
    run_dir = FIXTURES / "v2-complete"
    rep = load_run(run_dir).reps_of("2016/ipc", LATENCY_TEST)[0]
    written = read_json(run_dir / rep.file)
    shortfall = rep.flag_details["rate_shortfall"]
    assert shortfall.startswith(f"rate_shortfall: {rules.FLAGS['rate_shortfall']}")
    assert f"{written['achieved_rps']:,.1f} of 300 req/s" in shortfall
    backlog = rep.flag_details["backlog"]
    assert f"{written['harness']['requests']['peak_in_flight']:,} requests in flight" in backlog
    limited = next(
        r for r in load_run(run_dir).reps if r.flags == ("generator_limited",)
    ).flag_details["generator_limited"]
    assert "against wrk's" in limited and "limit 80%" in limited


def test_websocket_documents_give_their_histograms_counts_and_steps():
    run_dir = FIXTURES / "v2-two-stacks"
    run = load_run(run_dir)
    fanout = run.reps_of("2026/daphne-redis", TestKey("ws-fanout"))[0]
    messages = read_json(run_dir / fanout.file)["harness"]["messages"]
    assert fanout.metrics["messages:lost"] == messages["lost"] > 0
    assert fanout.metrics["messages:loss_share"] == pytest.approx(
        messages["lost"] / messages["expected"] * 100
    )
    assert "delivery" in fanout.histograms
    connect = run.reps_of("2026/daphne-redis", TestKey("ws-connect"))[0]
    steps = read_json(run_dir / connect.file)["harness"]["steps"]
    assert [s.held for s in connect.steps] == [s["held"] for s in steps]
    first = steps[0]
    per_connection = (first["server_rss_kb"]["after"] - first["server_rss_kb"]["before"]) / first[
        "held"
    ]
    assert connect.steps[0].memory_per_connection_kb == pytest.approx(per_connection)


def test_an_interrupted_run_with_a_failed_setup_says_what_happened_to_each():
    run = load_run(FIXTURES / "v2-variants")
    states = {name: run.setup_status(name) for name in run.setups()}
    assert run.meta.status == "interrupted"
    assert states["2016/ipc"].state == "measured"
    assert states["2016/ipc@asgi_ipc=1.4.2"].state == "measured"
    assert states["2016/redis"].state == "failed"
    assert "every repetition failed" in states["2016/redis"].detail
    assert states["2016/gunicorn"].state == "not run"
    assert "interrupted" in states["2016/gunicorn"].detail
    variant = run.setup_info("2016/ipc@asgi_ipc=1.4.2")
    assert (variant.base, variant.variant) == ("2016/ipc", "asgi_ipc=1.4.2")


def test_a_run_still_open_or_abandoned_reads_as_such(run_copy):
    run_dir = run_copy("v2-variants")
    document = read_json(run_dir / "run.json")
    document.update(status="running", ended_at=None, setups_completed=["2016/ipc"])
    (run_dir / "run.json").write_text(json.dumps(document))
    run = load_run(run_dir)
    assert run.setup_status("2016/gunicorn").state == "running"
    document["status"] = "abandoned"
    (run_dir / "run.json").write_text(json.dumps(document))
    run = load_run(run_dir)
    assert run.setup_status("2016/ipc@asgi_ipc=1.4.2").state == "incomplete"
    assert "abandoned" in run.setup_status("2016/ipc@asgi_ipc=1.4.2").detail
