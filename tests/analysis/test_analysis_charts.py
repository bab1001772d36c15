"""Charts: one look per setup that survives greyscale, a failing chart costs nothing else, and
no setup is named in analysis outside the seed module."""

from __future__ import annotations

import os
import re

import pytest
from analysis_helpers import FIXTURES, REPO

from analysis import _plots, _report, _seed, _style, load_run, write_report


def test_each_setup_differs_in_line_style_and_marker_not_only_in_colour():
    names = [f"stack/setup-{i}" for i in range(4)]
    looks = _style.styles(names)
    assert len({(s.linestyle, s.marker) for s in looks.values()}) == 4
    assert len({s.colour for s in looks.values()}) == 4


def _replace_chart(monkeypatch, name: str, draw) -> None:
    charts = [_plots.Chart(c.name, c.title, draw) if c.name == name else c for c in _plots.CHARTS]
    monkeypatch.setattr(_plots, "CHARTS", tuple(charts))


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "in-workers"])
def test_a_chart_that_fails_is_a_problem_and_the_rest_is_written(tmp_path, monkeypatch, workers):
    def broken(_data):
        raise ValueError("drawn badly")

    _replace_chart(monkeypatch, "throughput-vs-clients", broken)
    result = write_report(load_run(FIXTURES / "complete"), tmp_path, workers=workers)
    problem = next(p for p in result.problems if p.file == "throughput-vs-clients.png")
    assert "ValueError: drawn badly" in problem.message
    assert not (tmp_path / "throughput-vs-clients.png").exists()
    assert (tmp_path / "latency-percentiles.png").is_file()
    assert "`throughput-vs-clients.png`: could not be drawn" in (tmp_path / "report.md").read_text()


def test_charts_drawn_by_workers_are_the_charts_drawn_in_process(tmp_path):
    one = write_report(load_run(FIXTURES / "complete"), tmp_path / "one", workers=1)
    two = write_report(load_run(FIXTURES / "complete"), tmp_path / "two", workers=2)
    assert [p.name for p in two.written] == [p.name for p in one.written]
    assert two.problems == one.problems
    pngs = [p.name for p in one.written if p.suffix == ".png"]
    assert len(pngs) >= 4
    for name in [*pngs, "report.md"]:
        one_bytes, two_bytes = ((tmp_path / side / name).read_bytes() for side in ("one", "two"))
        assert two_bytes == one_bytes, name


def test_a_chart_worker_that_dies_costs_nothing_its_chart_is_drawn_here(tmp_path, monkeypatch):
    parent = os.getpid()
    original = next(c for c in _plots.CHARTS if c.name == "latency-percentiles").draw

    drawn_by = tmp_path / "drawn-by"

    def dies_in_a_worker(data):
        with drawn_by.open("a") as pids:
            pids.write(f"{os.getpid()}\n")
        if os.getpid() != parent:
            os._exit(1)
        return original(data)

    _replace_chart(monkeypatch, "latency-percentiles", dies_in_a_worker)
    result = write_report(load_run(FIXTURES / "complete"), tmp_path / "out", workers=2)
    worker, again = drawn_by.read_text().split()  # first in a worker, which died; then here
    assert (worker != str(parent), again) == (True, str(parent))
    assert result.problems == ()
    written = {p.name for p in result.written}
    assert {"latency-percentiles.png", "throughput-over-time.png"} <= written
    assert (tmp_path / "out" / "latency-percentiles.png").is_file()


def test_charts_are_drawn_here_when_no_worker_can_be_forked(tmp_path, monkeypatch):
    class NoFork:
        def __init__(self, *_args, **_kwargs):
            raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(_report, "ProcessPoolExecutor", NoFork)
    result = write_report(load_run(FIXTURES / "complete"), tmp_path, workers=2)
    assert result.problems == ()
    assert (tmp_path / "latency-percentiles.png").is_file()
    assert (tmp_path / "latency-percentiles.svg").is_file()


def test_no_setup_name_appears_in_analysis_outside_the_seed_module():
    pattern = re.compile(
        "|".join([*map(re.escape, _seed.SEED_SETUPS), r"\bgunicorn\b", r"\bipc\b", r"\bdaphne\b"]),
        re.IGNORECASE,
    )
    for path in sorted((REPO / "analysis").glob("*.py")):
        if path.name == "_seed.py":
            continue
        found = [line for line in path.read_text().splitlines() if pattern.search(line)]
        assert not found, (path.name, found)


def test_latency_against_load_is_drawn_when_every_setup_saturated(run_copy, tmp_path):
    """Only saturation marks, no steady latency anywhere (the 2016 ipc layer at 300 req/s): the
    chart is drawn, with a log axis of its own, not lost to 'cannot be log-scaled'."""
    import json

    run_dir = run_copy("v2-complete")
    fixed_rate = [*run_dir.glob("*/*/latency/rep-*.json"), *run_dir.glob("*/*/sweep/*/rep-*.json")]
    for path in fixed_rate:
        document = json.loads(path.read_text())
        document["flags"], document["valid"] = ["rate_shortfall"], False
        document["achieved_rps"] = document["loadtest"]["effectiveRps"] = 7.0
        path.write_text(json.dumps(document))
    result = write_report(load_run(run_dir), tmp_path)
    assert not [p for p in result.problems if p.file.startswith("latency-vs-load")]
    assert (tmp_path / "latency-vs-load.png").is_file()
