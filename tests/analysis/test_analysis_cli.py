"""The real command line (`python -m analysis ...` in a subprocess) on copies of the fixtures.

Expected numbers are computed here from the fixture JSON (the standard library and the reference
hdrhistogram package), never taken from the analysis package, so a wrong aggregation or a wrong
verdict fails these tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from pathlib import Path

from analysis_helpers import PNG_SIGNATURE, read_json, rep_files, rep_values, run_cli
from hdrh.histogram import HdrHistogram

REQUIRED_CHARTS = (
    "latency-percentiles",
    "latency-vs-load",
    "throughput-over-time",
    "throughput-vs-clients",
    "seed-comparison",
)
OPTIONAL_CHARTS = ("then-and-now", "websocket")


def _outputs(charts: tuple[str, ...]) -> set[str]:
    return {"summary.json", "report.md"} | {f"{c}.{ext}" for c in charts for ext in ("png", "svg")}


def _tree_digest(run_dir: Path) -> dict[str, str]:
    return {
        path.relative_to(run_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
    }


def _assert_charts(run_dir: Path, charts: tuple[str, ...]) -> None:
    for chart in charts:
        assert (run_dir / f"{chart}.png").read_bytes()[:8] == PNG_SIGNATURE, chart
        assert b"<svg" in (run_dir / f"{chart}.svg").read_bytes()[:400], chart


def _section(report: str, heading: str) -> str:
    return report.split(heading, 1)[1].split("\n## ", 1)[0]


def _table(report: str, heading_start: str) -> dict[str, list[str]]:
    """Rows of the markdown table under the heading that starts with heading_start, keyed by
    their first cell (continuation rows of a setup are keyed "setup/basis")."""
    section = report.split(f"### {heading_start}", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, list[str]] = {}
    last = ""
    for line in section.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        last = cells[0] or last
        rows[cells[0] or f"{last}/{cells[3]}"] = cells
    return rows


def _decoded(path: Path, name: str) -> HdrHistogram:
    return HdrHistogram.decode(read_json(path)["harness"]["histograms"][name]["encoded"])


def test_report_on_a_schema_1_run_writes_every_output_and_leaves_the_run_alone(run_copy):
    run_dir = run_copy("complete")
    before = _tree_digest(run_dir)
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr
    after = _tree_digest(run_dir)
    assert {name: after[name] for name in before} == before
    assert set(after) - set(before) == _outputs(REQUIRED_CHARTS)
    _assert_charts(run_dir, REQUIRED_CHARTS)


def test_report_on_two_stacks_adds_then_and_now_and_websocket_and_opens_with_them(run_copy):
    run_dir = run_copy("v2-two-stacks")
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr
    _assert_charts(run_dir, REQUIRED_CHARTS + OPTIONAL_CHARTS)
    report = (run_dir / "report.md").read_text()
    sections = re.findall(r"^## (.+)$", report, flags=re.MULTILINE)
    assert sections[0] == "Then and now: 2016 vs 2026"
    rows = {
        row.split("|")[1].strip(): row
        for row in _section(report, "## Then and now").splitlines()
        if row.startswith("| asgi") or row.startswith("| wsgi")
    }
    assert "saturated at" in rows["asgi-shared-memory"]
    gunicorn = [
        _decoded(p, "latency_corrected").get_value_at_percentile(50) / 1000
        for p in rep_files(run_dir, "2026/gunicorn")
    ]
    assert f"{statistics.median(gunicorn):.2f} (" in rows["wsgi-control"]


def test_summary_json_holds_exact_medians_and_the_valid_counts(run_copy):
    run_dir = run_copy("v2-complete")
    assert run_cli("report", run_dir).returncode == 0
    summary = read_json(run_dir / "summary.json")
    assert summary["summary_schema_version"] == 2
    assert summary["status"] == "complete"
    tests = {
        (t["setup"], t["test"], t["clients"], t["rate"], t["fraction"]): t for t in summary["tests"]
    }
    redis = tests[("2016/redis", "latency", None, None, None)]
    p99 = [
        _decoded(p, "latency_corrected").get_value_at_percentile(99) / 1000
        for p in rep_files(run_dir, "2016/redis")
    ]
    assert redis["metrics"]["latency_corrected:p99"]["median"] == statistics.median(p99)
    assert redis["metrics"]["latency_corrected:p99"]["range_coverage"] == 0.75
    ipc = tests[("2016/ipc", "latency", None, None, None)]
    assert ipc["reps_valid"] == 0 and ipc["saturated_at_rps"] is not None
    closed = tests[("2016/gunicorn", "throughput", 50, None, None)]
    flagged = [read_json(p)["valid"] for p in rep_files(run_dir, "2016/gunicorn", "throughput/c50")]
    assert closed["reps_valid"] == sum(flagged) == 2
    assert summary["lowest_latency"]["best"] == "2016/gunicorn"
    assert summary["lowest_latency"]["trust"] == "limited"


def test_report_md_answers_with_the_exact_numbers_and_the_saturated_setup(run_copy):
    run_dir = run_copy("v2-complete")
    assert run_cli("report", run_dir).returncode == 0
    report = (run_dir / "report.md").read_text()
    assert report.startswith(
        "# Load test report: 20261129T090000Z-2c0a\n\n**Final status: complete**"
    )
    medians = {
        setup: statistics.median(
            _decoded(p, "latency_corrected").get_value_at_percentile(50) / 1000
            for p in rep_files(run_dir, setup)
        )
        for setup in ("2016/gunicorn", "2016/redis")
    }
    answer = _section(report, "## The answer")
    best = medians["2016/gunicorn"]
    assert f"2016/gunicorn had the lowest latency: p50 latency (corrected) {best:.2f} ms" in answer
    assert f"{medians['2016/redis'] / medians['2016/gunicorn']:.2f}x lower" in answer
    assert "2016/ipc could not sustain 300 req/s: it saturated at" in answer
    assert "Can I trust it? Only as far as its repetitions go" in answer
    rows = _table(report, "Latency test at 300 req/s")
    assert rows["2016/ipc"][3] == "saturated"
    assert rows["2016/gunicorn"][3] == "corrected"
    assert rows["2016/gunicorn/uncorrected"][3] == "uncorrected"
    assert rows["2016/gunicorn/loadtest"][3] == "loadtest"
    loadtest_p50 = statistics.median(
        read_json(p)["loadtest"]["percentiles"]["50"] for p in rep_files(run_dir, "2016/redis")
    )
    assert rows["2016/redis/loadtest"][4].startswith(f"{loadtest_p50:.0f} (")
    for chart in REQUIRED_CHARTS:
        assert f"]({chart}.png)" in report and f"]({chart}.svg)" in report
    assert "## Problems reading the run" not in report
    assert "## What the repetitions can support" in report


def test_report_lists_flagged_reps_with_the_rule_books_words_and_numbers(run_copy):
    run_dir = run_copy("v2-complete")
    assert run_cli("report", run_dir).returncode == 0
    flagged = _section((run_dir / "report.md").read_text(), "## Flagged repetitions")
    files = [
        p.relative_to(run_dir).as_posix()
        for p in sorted(run_dir.rglob("rep-*.json"))
        if not read_json(p)["valid"]
    ]
    assert files
    for file in files:
        assert f"`{file}`" in flagged
    assert "rate_shortfall: completed less than the rate asked (achieved" in flagged
    assert "generator_limited: the load generator, not the server, limited the rate" in flagged


def test_report_writes_elsewhere_when_asked_and_then_adds_nothing_to_the_run(run_copy, tmp_path):
    run_dir = run_copy("complete")
    before = _tree_digest(run_dir)
    output = tmp_path / "out" / "nested"
    result = run_cli("report", run_dir, "-o", output)
    assert result.returncode == 0, result.stderr
    assert _tree_digest(run_dir) == before
    assert {p.name for p in output.iterdir()} == _outputs(REQUIRED_CHARTS)


def test_report_reads_schema_1_runs_old_and_failed(run_copy):
    run_dir = run_copy("failed-setup")
    assert run_cli("report", run_dir).returncode == 0
    report = (run_dir / "report.md").read_text()
    failure = read_json(run_dir / "run.json")["failure"]
    assert f"failed at loadtest: {failure}" in report
    old = run_copy("old-schema")
    result = run_cli("report", old)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "schema_version" in result.stderr
    report = (old / "report.md").read_text()
    assert "flagged by analysis with the rule book" in report
    assert "loadtest percentiles p50, p90, p95, p99 computed from histogramMs" in report


def test_an_interrupted_run_with_a_failed_setup_reads_well(run_copy):
    run_dir = run_copy("v2-variants")
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr
    report = (run_dir / "report.md").read_text()
    assert "**Final status: interrupted**" in report
    setups = _section(report, "## Setups")
    assert "| 2016/redis |" in setups and "failed: every repetition failed" in setups
    assert "not run: the run ended (interrupted) before this setup" in setups
    assert "2016/redis is not ranked" in _section(report, "## The answer")
    sweep = _section(report, "## Version sweeps")
    assert "| 2016/ipc@asgi_ipc=1.4.2 | asgi_ipc=1.4.2 |" in sweep
    assert "| 2016/ipc | base | saturated at" in sweep


def test_report_on_a_damaged_run_names_each_file_writes_the_rest_and_exits_1(run_copy):
    run_dir = run_copy("malformed")
    result = run_cli("report", run_dir)
    assert result.returncode == 1
    report = (run_dir / "report.md").read_text()
    problems = _section(report, "## Problems reading the run")
    for file in (
        "hosts/localhost.json",
        "redis/latency/rep-2.json",
        "ipc/latency/rep-3.json",
        "gunicorn/latency/rep-1.json",
        "gunicorn/latency/rep-3.json",
    ):
        assert str(run_dir / file) in result.stderr
        assert f"`{file}`" in problems
    _assert_charts(run_dir, REQUIRED_CHARTS)
    assert _table(report, "Latency test")["2016/redis"][1] == "2 of 2 valid (plan: 3)"


def test_the_bin_option_rebins_throughput_over_time(run_copy):
    run_dir = run_copy("v2-complete")
    assert run_cli("report", run_dir, "--bin", "2").returncode == 0
    section = _section((run_dir / "report.md").read_text(), "## Throughput over time")
    row = next(line for line in section.splitlines() if line.startswith("| 2016/redis | 10 |"))
    found = [int(v.replace(",", "")) for v in row.split("|")[4].split(";")]
    per_rep = []
    for path in rep_files(run_dir, "2016/redis", "throughput/c10"):
        completed = read_json(path)["harness"]["timeline"]["completed"]
        per_rep.append([sum(completed[i * 20 : (i + 1) * 20]) for i in range(4)])  # 8 s: 4 bins
    assert found == [statistics.median(bins[i] for bins in per_rep) for i in range(4)]
    bad = run_cli("report", run_dir, "--bin", "0")
    assert bad.returncode == 2 and "must be above 0" in bad.stderr
    before = _tree_digest(run_dir)
    odd = run_cli("report", run_dir, "--bin", "0.25")
    assert odd.returncode == 2 and "a whole multiple of it (for example 0.1, 0.5, 1" in odd.stderr
    assert _tree_digest(run_dir) == before


def test_without_bin_a_timeline_that_does_not_divide_5_s_gets_the_nearest_interval(run_copy):
    run_dir = run_copy("v2-variants")
    for path in run_dir.glob("*/*/throughput/c10/rep-*.json"):
        document = read_json(path)
        document["harness"]["timeline"]["bin_s"] = 0.3
        path.write_text(json.dumps(document))
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr
    assert "uses 5.1-s intervals instead of 5 s" in result.stderr
    section = _section((run_dir / "report.md").read_text(), "## Throughput over time")
    assert (
        "requests per 5.1 s" in section and "Note: the run's timelines count per 0.3 s" in section
    )


def test_headline_prints_the_one_paragraph_answer(run_copy):
    run_dir = run_copy("v2-complete")
    result = run_cli("headline", run_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    text = lines[0]
    assert text.startswith("Run 20261129T090000Z-2c0a ended complete.")
    assert "2016/gunicorn had the lowest latency" in text and "Can I trust it?" in text
    assert "62 of 72 repetitions valid" in text or "of 72 repetitions valid" in text
    assert list(run_dir.glob("*.png")) == []  # headline writes nothing


def _compare(base: Path, contender: Path, *extra: str | Path) -> str:
    result = run_cli("compare", base, contender, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _real_lines(markdown: str) -> list[str]:
    return [
        line
        for line in _section(markdown, "## Real differences").splitlines()
        if line.startswith("- ")
    ]


def test_compare_states_method_differences_before_any_verdict(run_copy):
    markdown = _compare(run_copy("complete"), run_copy("v2-complete"))
    assert markdown.index("## What differs in method") < markdown.index("## Real differences")
    assert "| results schema | 1 | 2 |" in markdown
    assert "| latency basis | loadtest's whole ms only | harness HdrHistograms |" in markdown


def test_compare_of_a_run_with_itself_finds_nothing(run_copy):
    run_dir = run_copy("v2-complete")
    markdown = _compare(run_dir, run_dir)
    assert _real_lines(markdown) == []
    assert "Nothing recorded differs" in markdown
    assert "**real**" not in markdown.split('## How "real"', 1)[0]


def test_compare_finds_the_planted_difference_and_only_it(run_copy, tmp_path):
    output = tmp_path / "compare.md"
    markdown = _compare(run_copy("v2-compare-base"), run_copy("v2-compare-planted"), "-o", output)
    assert output.read_text() == markdown
    real = _real_lines(markdown)
    assert len(real) == 2
    assert all(line.startswith("- 2016/redis, latency:") and "worse" in line for line in real)
    assert "Holm's correction over all 8 tested cells" in markdown


def test_compare_with_three_reps_says_it_cannot_show_anything(run_copy):
    base, contender = run_copy("complete"), run_copy("contender")
    markdown = _compare(base, contender)
    assert _real_lines(markdown) == []
    assert "**These runs cannot show a difference at all**" in markdown
    assert "| pin: asgi_ipc | 1.1.0 | 1.4.2 |" in markdown
    assert markdown == _compare(base, contender)  # deterministic


def test_seed_prints_each_published_figure_next_to_the_same_statistic(run_copy):
    run_dir = run_copy("complete")
    result = run_cli("seed", run_dir)
    assert result.returncode == 0, result.stderr
    _assert_charts(run_dir, ("seed-comparison",))
    out = result.stdout
    assert "channels-latency.PNG, channels-throughput.PNG" in out
    closed = _section(out.replace("\n# ", "\n## "), "# 3. Latency during the closed-loop test")
    for bare, seed_ms in (("gunicorn", 6), ("redis", 12), ("ipc", 35)):
        mean = statistics.median(rep_values(run_dir, bare, "meanLatencyMs", "throughput/c10"))
        row = next(line for line in closed.splitlines() if line.startswith(f"| 2016/{bare} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == str(seed_ms)
        assert cells[2].startswith(f"{mean:.1f} (")
        assert cells[3] == f"{mean / seed_ms:.2f}x"
    latency = _section(out.replace("\n# ", "\n## "), "# 1. Latency at 300 req/s")
    p99 = statistics.median(
        read_json(p)["loadtest"]["percentiles"]["99"] for p in rep_files(run_dir, "redis")
    )
    row = next(line for line in latency.splitlines() if line.startswith("| 2016/redis | p99 |"))
    assert f"| 118 | {p99:.0f} (" in row
    assert "| 2016/ipc | p" not in latency  # the seed's latency chart has no ipc


def test_bad_input_exits_2_with_a_message_naming_the_path(tmp_path):
    missing = tmp_path / "no-such-run"
    result = run_cli("report", missing)
    assert result.returncode == 2
    assert str(missing) in result.stderr and "no such directory" in result.stderr
    result = run_cli("compare", tmp_path, missing)
    assert result.returncode == 2
    assert re.search(r"not a run directory", result.stderr)
    assert run_cli("headline", missing).returncode == 2
    assert run_cli().returncode == 2
    assert run_cli("--help").returncode == 0
