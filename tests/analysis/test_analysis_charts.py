"""Charts: one look per setup that survives greyscale, a failing chart costs nothing else, and
no setup is named in analysis outside the seed module."""

from __future__ import annotations

import re

from analysis_helpers import FIXTURES, REPO

from analysis import _plots, _seed, _style, load_run, write_report


def test_each_setup_differs_in_line_style_and_marker_not_only_in_colour():
    names = [f"stack/setup-{i}" for i in range(4)]
    looks = _style.styles(names)
    assert len({(s.linestyle, s.marker) for s in looks.values()}) == 4
    assert len({s.colour for s in looks.values()}) == 4


def test_a_chart_that_fails_is_a_problem_and_the_rest_is_written(tmp_path, monkeypatch):
    def broken(_data):
        raise ValueError("drawn badly")

    charts = tuple(
        _plots.Chart(c.name, c.title, broken) if c.name == "throughput-vs-clients" else c
        for c in _plots.CHARTS
    )
    monkeypatch.setattr(_plots, "CHARTS", charts)
    result = write_report(load_run(FIXTURES / "complete"), tmp_path)
    problem = next(p for p in result.problems if p.file == "throughput-vs-clients.png")
    assert "ValueError: drawn badly" in problem.message
    assert not (tmp_path / "throughput-vs-clients.png").exists()
    assert (tmp_path / "latency-percentiles.png").is_file()
    assert "`throughput-vs-clients.png`: could not be drawn" in (tmp_path / "report.md").read_text()


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
