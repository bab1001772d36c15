"""Aggregation, the headline verdict, load curves, then-and-now and the comparison, without
plots or subprocesses. Expected numbers come from the fixture JSON, not from analysis."""

from __future__ import annotations

import json
import statistics

from analysis_helpers import FIXTURES, read_json, rep_values
from hdrh.histogram import HdrHistogram

from analysis import analyse, load_run
from analysis._compare import compare_cells, methodology_differences
from analysis._load_curve import answer_at, load_curves
from analysis._model import LATENCY_TEST, TestKey
from analysis._summary import closed_loop_clients, lowest_latency, summarize_tests
from analysis._then_and_now import role_pairs, version_sweeps


def _latency(name: str):
    run = load_run(FIXTURES / name)
    summaries = summarize_tests(run)
    return run, summaries, {s.setup: s for s in summaries if s.test == LATENCY_TEST}


def _decoded_p50_ms(path) -> float:
    encoded = read_json(path)["harness"]["histograms"]["latency_corrected"]["encoded"]
    return HdrHistogram.decode(encoded).get_value_at_percentile(50) / 1000


def test_schema_1_medians_and_ranges_are_those_of_the_fixture_reps():
    run_dir = FIXTURES / "complete"
    _, _, latency = _latency("complete")
    for bare in ("gunicorn", "redis", "ipc"):
        values = rep_values(run_dir, bare, "meanLatencyMs")
        spread = latency[f"2016/{bare}"].metrics["loadtest:mean"]
        assert spread.median == statistics.median(values)
        assert (spread.low, spread.high) == (min(values), max(values))
        assert latency[f"2016/{bare}"].latency_source == "loadtest"


def test_schema_2_medians_are_the_decoded_histograms_p50():
    run_dir = FIXTURES / "v2-complete"
    _, _, latency = _latency("v2-complete")
    for setup in ("2016/gunicorn", "2016/redis"):
        paths = sorted((run_dir / setup / "latency").glob("rep-*.json"))
        expected = statistics.median(_decoded_p50_ms(p) for p in paths)
        assert latency[setup].latency_source == "latency_corrected"
        assert latency[setup].latency("p50").median == expected


def test_flagged_reps_stay_out_of_the_median_and_count_against_the_setup():
    run_dir = FIXTURES / "flagged"
    _, _, latency = _latency("flagged")
    gunicorn = latency["2016/gunicorn"]
    assert gunicorn.basis == "valid" and gunicorn.reps_text == "2 of 3 valid"
    assert gunicorn.metrics["loadtest:mean"].median == statistics.median(
        rep_values(run_dir, "gunicorn", "meanLatencyMs")
    )
    assert [rep.rep for rep in gunicorn.server_losses] == [2]  # errors flatter it when dropped
    ipc = latency["2016/ipc"]
    assert ipc.basis == "flagged only"


def test_the_verdict_ranks_setups_that_kept_up_and_names_the_saturated_one():
    run, summaries, latency = _latency("v2-complete")
    verdict = lowest_latency(run, summaries)
    assert [r.setup for r in verdict.ranking] == ["2016/gunicorn", "2016/redis"]
    assert [s.setup for s in verdict.saturated] == ["2016/ipc"]
    achieved = [
        read_json(FIXTURES / "v2-complete" / r.file)["achieved_rps"]
        for r in latency["2016/ipc"].reps
    ]
    assert verdict.saturated[0].saturated_at == statistics.median(achieved)
    assert (
        verdict.ratio
        == latency["2016/redis"].latency("p50").median
        / latency["2016/gunicorn"].latency("p50").median
    )
    # Three and three separated reps: as far as three can go, never "yes".
    assert verdict.trust == "limited"
    assert verdict.p_value is not None and verdict.p_value.value == 0.1
    assert verdict.interval is not None and verdict.interval.coverage == 0.9


def test_a_setup_whose_requests_all_failed_is_never_ranked():
    run, summaries, _ = _latency("v2-variants")
    verdict = lowest_latency(run, summaries)
    assert "2016/redis" not in [r.setup for r in verdict.ranking]
    assert [s.setup for s in verdict.unranked] == ["2016/redis"]
    assert verdict.trust == "no"


def test_a_winner_that_lost_reps_to_its_own_errors_is_not_trusted(run_copy):
    run_dir = run_copy("v2-compare-base")
    # Four of gunicorn's eight latency reps answered errors: the four left look fine.
    for rep in (1, 3, 5, 7):
        path = run_dir / "2016" / "gunicorn" / "latency" / f"rep-{rep}.json"
        document = read_json(path)
        document["flags"], document["valid"] = ["errors"], False
        path.write_text(json.dumps(document))
    run = load_run(run_dir)
    verdict = lowest_latency(run, summarize_tests(run))
    assert verdict.best == "2016/gunicorn"
    assert verdict.trust == "no"
    assert any("lost 4 of 8 repetitions to errors" in reason for reason in verdict.reasons)


def test_eight_separated_reps_a_side_are_trusted():
    run, summaries, _ = _latency("v2-compare-base")
    verdict = lowest_latency(run, summaries)
    assert verdict.best == "2016/gunicorn" and verdict.trust == "yes"
    assert verdict.p_value is not None and verdict.p_value.value < 0.05


def test_the_closed_loop_client_count_closest_to_the_seeds_ten():
    _, summaries, _ = _latency("v2-complete")
    assert closed_loop_clients(summaries) == 10
    assert closed_loop_clients(summaries, near=30) == 10  # a tie goes to the smaller
    assert closed_loop_clients(summaries, near=40) == 50


def test_load_curves_mark_where_a_setup_saturates_and_answer_for_300():
    run, summaries, _ = _latency("v2-complete")
    curves = {curve.setup: curve for curve in load_curves(run, summaries)}
    ipc = curves["2016/ipc"]
    assert ipc.first_saturated is not None and ipc.first_saturated.offered_rps == 200
    assert ipc.highest_sustained is not None and ipc.highest_sustained.offered_rps == 100
    assert "beyond 2016/ipc's capacity" in answer_at(ipc, 300)
    gunicorn = curves["2016/gunicorn"]
    assert [p.offered_rps for p in gunicorn.points] == sorted(
        p.offered_rps for p in gunicorn.points
    )
    assert gunicorn.first_saturated is None
    assert answer_at(gunicorn, 300).startswith("2016/gunicorn: p50")


def test_then_and_now_pairs_setups_of_one_role_across_stacks():
    run, summaries, latency = _latency("v2-two-stacks")
    pairs = {(p.role, p.old, p.new): p for p in role_pairs(run, summaries)}
    assert set(pairs) == {
        ("wsgi-control", "2016/gunicorn", "2026/gunicorn"),
        ("asgi-redis", "2016/redis", "2026/daphne-redis"),
        ("asgi-shared-memory", "2016/ipc", "2026/daphne-memory"),
    }
    memory = pairs[("asgi-shared-memory", "2016/ipc", "2026/daphne-memory")]
    assert memory.old_side.saturated_at is not None and memory.old_side.latency is None
    wsgi = pairs[("wsgi-control", "2016/gunicorn", "2026/gunicorn")]
    assert wsgi.new_side.latency == latency["2026/gunicorn"].latency("p50")
    assert role_pairs(*_latency("v2-complete")[:2]) == []


def test_version_sweeps_group_a_setup_with_its_variants():
    run = load_run(FIXTURES / "v2-variants")
    assert version_sweeps(run) == [("2016/ipc", ["2016/ipc", "2016/ipc@asgi_ipc=1.4.2"])]


def test_comparing_a_run_with_itself_finds_no_real_difference_in_any_cell():
    run = load_run(FIXTURES / "v2-complete")
    cells = compare_cells(run, run)
    assert cells and not [c for c in cells if c.real]
    assert all(c.p_value is None or c.p_value.value == 1.0 for c in cells)
    assert methodology_differences(run, run) == []


def test_the_planted_twofold_difference_is_found_and_nothing_else():
    base = load_run(FIXTURES / "v2-compare-base")
    planted = load_run(FIXTURES / "v2-compare-planted")
    cells = compare_cells(base, planted)
    real = {(c.setup, c.test, c.metric) for c in cells if c.real}
    assert real == {
        ("2016/redis", LATENCY_TEST, "latency_corrected:p50"),
        ("2016/redis", LATENCY_TEST, "latency_corrected:p99"),
    }
    for cell in cells:
        if cell.real:
            assert cell.change_percent is not None and 80 < cell.change_percent < 120
            assert cell.better is False
    tested = [c for c in cells if c.p_value is not None]
    assert len(tested) == 8  # 2 setups x (latency p50, p99 + closed loop rate, p50)


def test_three_reps_a_side_cannot_make_any_cell_real():
    base, contender = load_run(FIXTURES / "complete"), load_run(FIXTURES / "contender")
    cells = compare_cells(base, contender)
    ipc = next(c for c in cells if c.setup == "2016/ipc" and c.metric == "loadtest:mean")
    assert ipc.p_value is not None and ipc.p_value.value == ipc.p_value.smallest_possible == 0.1
    assert not ipc.real and "not shown" in ipc.verdict
    assert not [c for c in cells if c.real]


def test_comparing_across_schemas_uses_the_basis_both_sides_have():
    old, new = load_run(FIXTURES / "complete"), load_run(FIXTURES / "v2-complete")
    cells = compare_cells(old, new)
    latency = [c for c in cells if c.test == LATENCY_TEST and c.setup == "2016/gunicorn"]
    assert {c.metric for c in latency} == {"loadtest:mean", "loadtest:p99"}
    aspects = {d.aspect: (d.base, d.contender) for d in methodology_differences(old, new)}
    assert aspects["results schema"] == ("1", "2")
    assert aspects["latency basis"] == ("loadtest's whole ms only", "harness HdrHistograms")


def test_the_analysis_pulls_it_together():
    analysis = analyse(load_run(FIXTURES / "v2-two-stacks"))
    assert analysis.pairs and analysis.verdict.best == "2026/gunicorn"
    assert {s.test.kind for s in analysis.summaries} >= {"ws-echo", "ws-fanout", "ws-connect"}
    assert TestKey("throughput", 10) in {s.test for s in analysis.summaries}
