"""The calibration's judge: each delay against the same round's baseline, so that a machine whose
latency drifts from round to round, or a round flagged on one side, does not pass for an error
of the instrument."""

from __future__ import annotations

import json
from pathlib import Path

from analysis import _calibrate


def rep(number: int, p50_ms: float, valid: bool = True) -> dict:
    return {
        "rep": number,
        "valid": valid,
        "harness": {
            "histograms": {"latency_corrected": {"p50": p50_ms * 1000, "p99": p50_ms * 2000}}
        },
        "loadtest": {"percentiles": {"50": round(p50_ms), "99": round(p50_ms * 2)}},
    }


def write(run_dir: Path, delay: int, reps: list[dict]) -> None:
    directory = run_dir / "2016" / "gunicorn" / "calibrate" / f"d{delay}"
    directory.mkdir(parents=True)
    for document in reps:
        (directory / f"rep-{document['rep']}.json").write_text(json.dumps(document))


def test_drift_between_rounds_cancels_round_by_round(tmp_path: Path) -> None:
    # A server warming up: each round 1 ms faster than the one before; the delay exact (+10 ms),
    # and the first round's delayed rep flagged. Medians of each side alone would be 1 ms off.
    write(tmp_path, 0, [rep(1, 5.0), rep(2, 4.0), rep(3, 3.0)])
    write(tmp_path, 10, [rep(1, 15.0, valid=False), rep(2, 14.0), rep(3, 13.0)])
    readings = _calibrate.read_calibration(tmp_path)
    (checked,) = _calibrate.check(readings)
    assert checked.harness_p50_error_ms == 0.0 and checked.passed
    assert readings[1].harness_p50 - readings[0].harness_p50 - 10 == -0.5


def test_an_instrument_that_adds_time_fails(tmp_path: Path) -> None:
    write(tmp_path, 0, [rep(1, 2.0), rep(2, 2.0), rep(3, 2.0)])
    write(tmp_path, 10, [rep(1, 12.8), rep(2, 12.6), rep(3, 12.7)])
    (checked,) = _calibrate.check(_calibrate.read_calibration(tmp_path))
    assert checked.harness_p50_error_ms == 0.7 and not checked.passed
