"""The real command line (`python -m analysis ...` in a subprocess) on copies of the fixtures.

Expected numbers are computed here from the fixture JSON with the standard library, never taken
from the analysis package, so a wrong aggregation or a wrong verdict fails these tests.
"""

from __future__ import annotations

import hashlib
import re
import statistics
from pathlib import Path

from analysis_helpers import PNG_SIGNATURE, read_json, rep_files, rep_values, run_cli

REPORT_OUTPUTS = (
    "summary.json",
    "report.md",
    "latency.png",
    "throughput.png",
    "latency-percentiles.png",
    "seed-comparison.png",
)
SETUPS = ("gunicorn", "redis", "ipc")


def _tree_digest(run_dir: Path) -> dict[str, str]:
    return {
        path.relative_to(run_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
    }


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path


def _test_table(report: str, heading_start: str) -> dict[str, list[str]]:
    """Rows of the markdown table under the heading that starts with heading_start."""
    section = report.split(f"### {heading_start}", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in section.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


def _test_of(document: dict, setup: str, test: str = "latency", clients: int | None = None):
    return next(
        t
        for t in document["tests"]
        if t["setup"] == setup and t["test"] == test and t["clients"] == clients
    )


def test_report_on_a_complete_run_writes_every_output_and_leaves_the_run_alone(run_copy):
    run_dir = run_copy("complete")
    before = _tree_digest(run_dir)
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr
    for name in REPORT_OUTPUTS:
        assert (run_dir / name).is_file(), name
    for name in REPORT_OUTPUTS[2:]:
        _assert_png(run_dir / name)
    after = _tree_digest(run_dir)
    assert {name: after[name] for name in before} == before
    assert set(after) - set(before) == set(REPORT_OUTPUTS)


def test_summary_json_holds_the_fixture_medians_and_counts(run_copy):
    run_dir = run_copy("complete")
    assert run_cli("report", run_dir).returncode == 0
    summary = read_json(run_dir / "summary.json")
    assert summary["run_id"] == read_json(run_dir / "run.json")["run_id"]
    for setup in SETUPS:
        latency = _test_of(summary, setup)
        values = rep_values(run_dir, setup, "meanLatencyMs")
        assert latency["metrics"]["mean_ms"]["median"] == statistics.median(values)
        assert latency["metrics"]["mean_ms"]["min"] == min(values)
        assert latency["reps_valid"] == len(values)
        for clients in (1, 10):
            throughput = _test_of(summary, setup, "throughput", clients)
            rates = [
                read_json(p)["achieved_rps"]
                for p in rep_files(run_dir, setup, f"throughput/c{clients}")
            ]
            assert throughput["metrics"]["achieved_rps"]["median"] == statistics.median(rates)


def test_report_md_answers_the_question_with_the_fixture_numbers(run_copy):
    run_dir = run_copy("complete")
    assert run_cli("report", run_dir).returncode == 0
    report = (run_dir / "report.md").read_text()
    medians = {s: statistics.median(rep_values(run_dir, s, "meanLatencyMs")) for s in SETUPS}
    best, runner_up = sorted(medians, key=medians.__getitem__)[:2]
    gap = medians[runner_up] - medians[best]
    assert "## Which setup had the lowest latency at 300 rps?" in report
    assert (
        f"**{best}**, at {medians[best]:.1f} ms: {gap:.1f} ms "
        f"({gap / medians[runner_up] * 100:.1f}%) lower than **{runner_up}**"
    ) in report
    assert "**Can I trust it? Yes**" in report
    rows = _test_table(report, "Latency test at 300 rps")
    for setup in SETUPS:
        p99 = statistics.median(
            read_json(p)["loadtest"]["percentiles"]["99"] for p in rep_files(run_dir, setup)
        )
        assert rows[setup][1] == "3 of 3"
        assert rows[setup][4].startswith(f"{p99:.1f} (")
        assert rows[setup][5].startswith(f"{medians[setup]:.1f} (")
    for name in REPORT_OUTPUTS[2:]:
        assert f"]({name})" in report
    for needle in ("## Environment", "## Plan", "| asgi_ipc | 1.1.0 |", "8.2.1", "Debian 12"):
        assert needle in report
    assert "## Problems reading the run" not in report


def test_report_can_write_elsewhere_and_then_adds_nothing_to_the_run(run_copy, tmp_path):
    run_dir = run_copy("complete")
    before = _tree_digest(run_dir)
    output = tmp_path / "out" / "nested"
    result = run_cli("report", run_dir, "-o", output)
    assert result.returncode == 0, result.stderr
    assert _tree_digest(run_dir) == before
    assert sorted(p.name for p in output.iterdir()) == sorted(REPORT_OUTPUTS)


def test_report_shows_a_failed_setup_as_failed(run_copy):
    run_dir = run_copy("failed-setup")
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr
    report = (run_dir / "report.md").read_text()
    failure = read_json(run_dir / "run.json")["failure"]
    assert f"| ipc | failed | failed at loadtest: {failure} |" in report
    assert _test_table(report, "Latency test")["ipc"][1] == "no data (failed)"
    assert "ipc has no latency numbers" in report
    summary = read_json(run_dir / "summary.json")
    assert [s["state"] for s in summary["setups"]] == ["measured", "measured", "failed"]
    _assert_png(run_dir / "latency.png")


def test_report_lists_every_flagged_rep_and_keeps_it_out_of_the_median(run_copy):
    run_dir = run_copy("flagged")
    assert run_cli("report", run_dir).returncode == 0
    report = (run_dir / "report.md").read_text()
    flagged_section = report.split("## Flagged repetitions", 1)[1].split("\n## ", 1)[0]
    flagged_files = [
        path.relative_to(run_dir).as_posix()
        for path in sorted(run_dir.rglob("rep-*.json"))
        if not read_json(path)["valid"]
    ]
    assert len(flagged_files) == 6
    for file in flagged_files:
        assert f"`{file}`" in flagged_section
    assert "503 x12, ECONNREFUSED x3" in flagged_section
    assert "rate_shortfall: achieved 262.0 of 300 rps (87.3%)" in flagged_section
    rows = _test_table(report, "Latency test")
    valid = statistics.median(rep_values(run_dir, "gunicorn", "meanLatencyMs"))
    assert rows["gunicorn"][5].startswith(f"{valid:.1f} (")
    assert rows["ipc"][1] == "0 of 3, none valid: numbers from flagged reps"
    assert "**Can I trust it? No**" in report
    summary = read_json(run_dir / "summary.json")
    assert _test_of(summary, "ipc")["basis"] == "flagged only"


def test_report_reads_a_run_from_before_schema_version(run_copy):
    run_dir = run_copy("old-schema")
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "schema_version" in result.stderr
    report = (run_dir / "report.md").read_text()
    assert "## Problems reading the run" in report
    assert "(flags derived by analysis: the file has none)" in report
    assert "`gunicorn/latency/rep-1.json`: percentiles p50, p90, p95, p99 computed" in report
    # No throughput in this run: the chart is still written, saying so.
    _assert_png(run_dir / "throughput.png")


def test_report_on_a_damaged_run_names_each_file_writes_the_rest_and_exits_1(run_copy):
    run_dir = run_copy("malformed")
    result = run_cli("report", run_dir)
    assert result.returncode == 1
    damaged = (
        "hosts/localhost.json",
        "redis/latency/rep-2.json",
        "ipc/latency/rep-3.json",
        "gunicorn/latency/rep-1.json",
        "gunicorn/latency/rep-3.json",
    )
    report = (run_dir / "report.md").read_text()
    problems = report.split("## Problems reading the run", 1)[1].split("\n## ", 1)[0]
    for file in damaged:
        assert str(run_dir / file) in result.stderr
        assert f"`{file}`" in problems
    assert "not valid JSON (line" in problems
    for name in REPORT_OUTPUTS[2:]:
        _assert_png(run_dir / name)
    rows = _test_table(report, "Latency test")
    assert rows["redis"][1] == "2 of 2 (plan: 3)"


def _compare(base: Path, contender: Path, *extra: str | Path):
    result = run_cli("compare", base, contender, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _compare_row(markdown: str, test: str, setup: str, metric: str) -> list[str]:
    section = markdown.split(f"### {test}\n", 1)[1].split("\n### ", 1)[0]
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[:2] == [setup, metric]:
            return cells
    raise AssertionError(f"no row {setup} {metric} under {test}")


def test_compare_calls_the_ipc_change_real_and_gunicorn_noise(run_copy, tmp_path):
    base, contender = run_copy("complete"), run_copy("contender")
    output = tmp_path / "compare.md"
    markdown = _compare(base, contender, "-o", output)
    assert output.read_text() == markdown
    ipc = _compare_row(markdown, "latency", "ipc", "mean latency (ms)")
    before = statistics.median(rep_values(base, "ipc", "meanLatencyMs"))
    after = statistics.median(rep_values(contender, "ipc", "meanLatencyMs"))
    assert ipc[2].startswith(f"{before:.1f} (") and ipc[3].startswith(f"{after:.1f} (")
    assert ipc[4] == f"{(after / before - 1) * 100:+.1f}%"
    assert ipc[6] == "**real**: better"
    gunicorn = _compare_row(markdown, "latency", "gunicorn", "mean latency (ms)")
    assert gunicorn[6] == "within noise"
    rate = _compare_row(markdown, "throughput, 10 clients", "ipc", "achieved rate (req/s)")
    assert rate[6] == "**real**: better"
    assert "| pin: asgi_ipc | 1.1.0 | 1.4.2 |" in markdown
    assert "Percentile bootstrap" in markdown and "seed 20160906" in markdown


def test_compare_is_deterministic(run_copy):
    base, contender = run_copy("complete"), run_copy("contender")
    assert _compare(base, contender) == _compare(base, contender)


def test_compare_of_a_run_with_itself_finds_no_difference(run_copy):
    base = run_copy("complete")
    markdown = _compare(base, base)
    assert "No differences found" in markdown
    assert "**real**" not in markdown.split("## How", 1)[0]


def test_compare_refuses_verdicts_on_too_few_valid_reps(run_copy):
    markdown = _compare(run_copy("complete"), run_copy("flagged"))
    assert _compare_row(markdown, "latency", "gunicorn", "mean latency (ms)")[6].startswith(
        "too few reps (3 and 2"
    )
    assert _compare_row(markdown, "latency", "ipc", "mean latency (ms)")[6] == (
        "no valid reps in contender"
    )


def test_seed_writes_its_chart_and_a_table_with_the_run_medians(run_copy):
    run_dir = run_copy("complete")
    result = run_cli("seed", run_dir)
    assert result.returncode == 0, result.stderr
    _assert_png(run_dir / "seed-comparison.png")
    for setup, seed_ms in (("gunicorn", 6), ("redis", 12), ("ipc", 35)):
        median = statistics.median(rep_values(run_dir, setup, "meanLatencyMs"))
        row = next(line for line in result.stdout.splitlines() if line.startswith(f"| {setup} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == str(seed_ms)
        assert cells[2].startswith(f"{median:.1f} (")
        assert cells[3] == f"{median / seed_ms:.2f}x"


def test_bad_input_exits_2_with_a_message_naming_the_path(tmp_path):
    missing = tmp_path / "no-such-run"
    result = run_cli("report", missing)
    assert result.returncode == 2
    assert str(missing) in result.stderr and "no such directory" in result.stderr
    result = run_cli("compare", tmp_path, missing)
    assert result.returncode == 2
    assert re.search(r"not a run directory", result.stderr)
    assert run_cli().returncode == 2
    assert run_cli("--help").returncode == 0
