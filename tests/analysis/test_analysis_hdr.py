"""HdrHistograms: analysis reads them as the reference implementation does, pools them exactly,
and a known distribution comes out as it went in."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
from analysis_helpers import FIXTURES, read_json
from hdrh.histogram import HdrHistogram

from analysis import _hdr, load_run
from analysis._model import LATENCY_TEST

REP = FIXTURES / "v2-complete" / "2016" / "redis" / "latency" / "rep-1.json"


def _encoded(path: Path, name: str) -> str:
    return read_json(path)["harness"]["histograms"][name]["encoded"]


def test_percentiles_mean_min_max_are_hdrhistograms_own():
    for name in ("latency_uncorrected", "latency_corrected", "send_lag"):
        reference = HdrHistogram.decode(_encoded(REP, name))
        found = _hdr.distribution(_hdr.decode(_encoded(REP, name)))
        for q in (0.0, 1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0):
            assert found.percentile(q) == reference.get_value_at_percentile(q), (name, q)
        assert found.mean_us == pytest.approx(reference.get_mean_value())
        assert found.max_us == reference.get_max_value()
        assert found.total == reference.get_total_count()


def test_pooling_reps_is_the_exact_sum_of_their_histograms():
    paths = sorted(REP.parent.glob("rep-*.json"))
    reference = HdrHistogram(1, 3_600_000_000, 3)
    for path in paths:
        reference.add(HdrHistogram.decode(_encoded(path, "latency_corrected")))
    pooled = _hdr.pooled([_encoded(path, "latency_corrected") for path in paths])
    assert pooled.total == sum(
        read_json(p)["harness"]["histograms"]["latency_corrected"]["count"] for p in paths
    )
    for q in (50.0, 99.0, 99.9, 100.0):
        assert pooled.percentile(q) == reference.get_value_at_percentile(q)


def test_a_known_distribution_comes_out_as_it_went_in(run_copy):
    """A rep whose latencies are a lognormal of median 2.5 ms, recorded at its quantiles: the
    p50 analysis reports is 2.5 ms to HdrHistogram's precision (3 significant digits)."""
    median_us, sigma, count = 2500.0, 0.4, 5000
    normal = statistics.NormalDist()
    values = [
        round(median_us * math.exp(sigma * normal.inv_cdf((i + 0.5) / count))) for i in range(count)
    ]
    histogram = HdrHistogram(1, 3_600_000_000, 3)
    for value in values:
        histogram.record_value(value)
    run_dir = run_copy("v2-complete")
    path = run_dir / "2016" / "gunicorn" / "latency" / "rep-1.json"
    document = read_json(path)
    entry = document["harness"]["histograms"]["latency_uncorrected"]
    entry["encoded"] = histogram.encode().decode()
    entry["count"] = count
    path.write_text(json.dumps(document))
    rep = load_run(run_dir).reps_of("2016/gunicorn", LATENCY_TEST)[0]
    assert rep.metrics["latency_uncorrected:p50"] == pytest.approx(2.5, rel=2e-3)
    true_p99 = median_us * math.exp(sigma * normal.inv_cdf(0.99)) / 1000
    assert rep.metrics["latency_uncorrected:p99"] == pytest.approx(true_p99, rel=3e-3)
    true_mean = median_us * math.exp(sigma**2 / 2) / 1000
    assert rep.metrics["latency_uncorrected:mean"] == pytest.approx(true_mean, rel=3e-3)


def test_an_undecodable_histogram_falls_back_to_the_written_summary_and_says_so(run_copy):
    run_dir = run_copy("v2-complete")
    path = run_dir / "2016" / "redis" / "latency" / "rep-2.json"
    document = read_json(path)
    entry = document["harness"]["histograms"]["latency_corrected"]
    entry["encoded"] = "HISTFAAAnot-a-histogram"
    path.write_text(json.dumps(document))
    run = load_run(run_dir)
    rep = run.reps_of("2016/redis", LATENCY_TEST)[1]
    assert rep.metrics["latency_corrected:p50"] == entry["p50"] / 1000
    assert "latency_corrected" not in rep.histograms
    problem = next(p for p in run.problems if p.file.endswith("redis/latency/rep-2.json"))
    assert "cannot be decoded" in problem.message and problem.severity == "warning"
    assert any("written summary used" in note for note in rep.notes)


def test_an_empty_histogram_every_request_failed_gives_a_count_and_no_latency(run_copy):
    """A rep whose every request failed (redis stopped) has empty latency histograms: the run
    still loads, the rep counts 0 latencies and has no percentile, and the report is written."""
    run_dir = run_copy("v2-complete")
    path = run_dir / "2016" / "redis" / "latency" / "rep-1.json"
    document = read_json(path)
    for name in ("latency_uncorrected", "latency_corrected"):
        document["harness"]["histograms"][name] = {
            "encoded": HdrHistogram(1, 3_600_000_000, 3).encode().decode(),
            "count": 0,
            **dict.fromkeys(("mean", "min", "p50", "p90", "p99", "p99.9", "max")),
        }
    path.write_text(json.dumps(document))
    rep = load_run(run_dir).reps_of("2016/redis", LATENCY_TEST)[0]
    assert rep.metrics["latency_uncorrected:count"] == 0
    assert "latency_uncorrected:p50" not in rep.metrics
    assert "latency_corrected:p99" not in rep.metrics
    with pytest.raises(ValueError, match="empty"):
        _hdr.distribution(
            _hdr.decode(document["harness"]["histograms"]["latency_corrected"]["encoded"])
        ).percentile(50)


def test_a_count_that_disagrees_with_the_encoding_is_reported(run_copy):
    run_dir = run_copy("v2-complete")
    path = run_dir / "2016" / "redis" / "latency" / "rep-3.json"
    document = read_json(path)
    document["harness"]["histograms"]["latency_uncorrected"]["count"] += 7
    path.write_text(json.dumps(document))
    messages = [p.message for p in load_run(run_dir).problems]
    assert any("latency_uncorrected holds" in m and "says count" in m for m in messages)


def test_the_nines_curve_runs_from_the_first_request_to_the_last():
    found = _hdr.pooled([_encoded(REP, "latency_corrected")])
    xs, ys = found.curve()
    assert xs[0] == 1.0 and ys[0] == found.min_us
    assert xs[-1] == pytest.approx(found.total)
    assert ys[-1] == found.max_us
    assert ys == sorted(ys)
