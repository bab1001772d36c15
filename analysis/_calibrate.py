"""`calibrate`: the instrument against a known truth. playbooks/calibrate.yml measures a setup's
calibration URL, which sleeps a known delay before it answers (/calibrate/<d>ms), at a fixed rate
well below capacity, once with no delay (the baseline: the server and the instrument themselves)
and once per delay. Here each delay's measured latency is set against the baseline plus the delay,
from the harness's HdrHistograms and from loadtest's own numbers; the harness passes when its p50
is within TOLERANCE_MS of that, for every delay.

The baseline and the delays are measured in rounds (baseline, each delay; again), so the harness's
error is judged per round: the median over rounds of (delay's p50 - the same round's baseline p50)
against the delay. A machine whose latency drifts from round to round (a server warming up after
its deploy) then moves both sides of each difference alike, and a round whose rep was flagged on
one side only drops out of both."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any

TOLERANCE_MS = 0.5
DELAY_DIR = re.compile(r"^d(\d+)$")


@dataclass(frozen=True)
class Reading:
    """One delay's latency by both instruments, medians over its repetitions, in ms."""

    delay_ms: int
    reps: int
    harness_p50: float
    harness_p99: float
    loadtest_p50: float | None
    loadtest_p99: float | None
    # (round, harness p50 in ms) of each valid rep: rep n of every delay is round n.
    rounds: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class Check:
    delay_ms: int
    expected_p50_ms: float
    harness_p50_error_ms: float
    harness_p99_error_ms: float
    loadtest_p50_error_ms: float | None
    loadtest_p99_error_ms: float | None
    passed: bool


class CalibrationError(Exception):
    """The run holds no calibration that can be judged."""


def _reading(delay_ms: int, reps: list[dict[str, Any]]) -> Reading:
    def harness(key: str) -> float:
        return median(rep["harness"]["histograms"]["latency_corrected"][key] / 1000 for rep in reps)

    def loadtest(key: str) -> float | None:
        values = [rep["loadtest"]["percentiles"].get(key) for rep in reps]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        return float(median(numbers)) if numbers else None

    rounds = tuple(
        (int(rep["rep"]), rep["harness"]["histograms"]["latency_corrected"]["p50"] / 1000)
        for rep in reps
        if isinstance(rep.get("rep"), int)
    )
    return Reading(delay_ms, len(reps), harness("p50"), harness("p99"), loadtest("50"),
                   loadtest("99"), rounds)  # fmt: skip


def read_calibration(run_dir: Path) -> list[Reading]:
    """Every delay measured under <run>/<stack>/<setup>/calibrate/d<ms>/, baseline first."""
    by_delay: dict[int, list[dict[str, Any]]] = {}
    for directory in run_dir.glob("*/*/calibrate/d*"):
        match = DELAY_DIR.match(directory.name)
        if not match:
            continue
        for path in sorted(directory.glob("rep-*.json")):
            rep = json.loads(path.read_text(encoding="utf-8"))
            if rep.get("valid") and (rep.get("harness") or {}).get("histograms"):
                by_delay.setdefault(int(match[1]), []).append(rep)
    if 0 not in by_delay or len(by_delay) < 2:
        raise CalibrationError(
            f"{run_dir}: needs valid reps of the baseline (calibrate/d0) and at least one delay; "
            f"found delays {sorted(by_delay) or 'none'}"
        )
    return [_reading(delay, by_delay[delay]) for delay in sorted(by_delay)]


def _error(measured: float | None, expected: float) -> float | None:
    return None if measured is None else round(measured - expected, 3)


def harness_p50_error(baseline: Reading, reading: Reading) -> float:
    """The harness's p50 error for one delay: per round, the delay's p50 less the same round's
    baseline p50, the median over the rounds both have, less the delay (the medians of each side
    when they share no round)."""
    base = dict(baseline.rounds)
    differences = [p50 - base[round_] for round_, p50 in reading.rounds if round_ in base]
    measured = (
        median(differences) if differences else reading.harness_p50 - baseline.harness_p50
    )
    return round(measured - reading.delay_ms, 3)


def check(readings: list[Reading]) -> list[Check]:
    """Each delay against the baseline plus the delay, p50 and p99, both instruments."""
    baseline = readings[0]
    checks = []
    for reading in readings[1:]:
        expected_p50 = baseline.harness_p50 + reading.delay_ms
        expected_p99 = baseline.harness_p99 + reading.delay_ms
        loadtest_base_p50 = baseline.loadtest_p50 if baseline.loadtest_p50 is not None else 0.0
        loadtest_base_p99 = baseline.loadtest_p99 if baseline.loadtest_p99 is not None else 0.0
        harness_error = harness_p50_error(baseline, reading)
        checks.append(
            Check(
                delay_ms=reading.delay_ms,
                expected_p50_ms=round(expected_p50, 3),
                harness_p50_error_ms=harness_error,
                harness_p99_error_ms=round(reading.harness_p99 - expected_p99, 3),
                loadtest_p50_error_ms=_error(
                    reading.loadtest_p50, loadtest_base_p50 + reading.delay_ms
                ),
                loadtest_p99_error_ms=_error(
                    reading.loadtest_p99, loadtest_base_p99 + reading.delay_ms
                ),
                passed=abs(harness_error) <= TOLERANCE_MS,
            )
        )
    return checks


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def markdown(readings: list[Reading], checks: list[Check]) -> str:
    baseline = readings[0]
    verdict = "PASSED" if all(c.passed for c in checks) else "FAILED"
    lines = [
        f"# Calibration: {verdict}",
        "",
        f"Known delays served by the calibration URL, measured at a fixed rate. Expected latency = "
        f"the baseline (no delay: p50 {baseline.harness_p50:.3f} ms, p99 "
        f"{baseline.harness_p99:.3f} ms by the harness) plus the delay. The harness p50 error is "
        "judged round by round (each delay's p50 less the same round's baseline p50, median over "
        f"the rounds, less the delay); it passes when within {TOLERANCE_MS} ms for every delay. "
        "loadtest's own numbers are whole milliseconds, measured against its own baseline.",
        "",
        "| delay (ms) | reps | expected p50 (ms) | harness p50 error | harness p99 error "
        "| loadtest p50 error | loadtest p99 error | passed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reps = {reading.delay_ms: reading.reps for reading in readings}
    lines += [
        f"| {c.delay_ms} | {reps[c.delay_ms]} | {c.expected_p50_ms:.3f} | "
        f"{_ms(c.harness_p50_error_ms)} | {_ms(c.harness_p99_error_ms)} | "
        f"{_ms(c.loadtest_p50_error_ms)} | {_ms(c.loadtest_p99_error_ms)} | "
        f"{'yes' if c.passed else 'no'} |"
        for c in checks
    ]
    return "\n".join(lines) + "\n"


def write_calibration(run_dir: Path) -> tuple[bool, str]:
    """calibration.json and calibration.md in the run; whether it passed, and the markdown."""
    readings = read_calibration(run_dir)
    checks = check(readings)
    passed = all(c.passed for c in checks)
    document = {
        "tolerance_ms": TOLERANCE_MS,
        "passed": passed,
        "readings": [asdict(reading) for reading in readings],
        "checks": [asdict(c) for c in checks],
    }
    (run_dir / "calibration.json").write_text(json.dumps(document, indent=2) + "\n")
    text = markdown(readings, checks)
    (run_dir / "calibration.md").write_text(text)
    return passed, text
