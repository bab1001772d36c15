"""The seed's published numbers (seed/loadtesting-2016-09-06.rst) next to a run's."""

from __future__ import annotations

from ._format import markdown_table, number, spread_text
from ._model import HEADLINE_LATENCY, LATENCY_TEST, Run
from ._summary import TestSummary

SEED_DATE = "2016-09-06"
SEED_RPS = 300
SEED_LATENCY_MS = {"gunicorn": 6.0, "redis": 12.0, "ipc": 35.0}
SEED_HARDWARE = "source and targets EC2 m3.2xlarge, Ubuntu 16.04"
# The versions the seed names in its supervisor configs, keyed as the harness keys its pins.
SEED_VERSIONS = {
    "gunicorn": "19.6.0",
    "daphne": "0.14.3",
    "asgi_redis": "0.14.0",
    "asgi_ipc": "1.1.0",
}


def _pin(run: Run, package: str) -> str | None:
    wanted = package.lower().replace("-", "_")
    for name, version in run.meta.pins.items():
        if name.lower().replace("-", "_") == wanted:
            return version
    return None


def seed_markdown(run: Run, summaries: list[TestSummary], heading: str = "##") -> str:
    """A self-contained markdown section: latencies, then what differs from the seed's setup."""
    by_setup = {s.setup: s for s in summaries if s.test == LATENCY_TEST}
    rows = []
    for setup, seed_ms in SEED_LATENCY_MS.items():
        summary = by_setup.get(setup)
        spread = summary.metrics.get(HEADLINE_LATENCY) if summary else None
        if summary is None or spread is None:
            status = run.setup_status(setup)
            rows.append([setup, f"{seed_ms:g}", f"no data ({status.state})", "", ""])
            continue
        ratio = f"{spread.median / seed_ms:.2f}x"
        reps = f"{len(summary.valid_reps)} of {len(summary.reps)}"
        value = spread_text(spread)
        if summary.basis != "valid":
            value += ", flagged reps only"
        rows.append([setup, f"{seed_ms:g}", value, ratio, reps])
    rate = run.latency_rps()
    lines = [
        f"{heading} Next to the seed ({SEED_DATE})",
        "",
        f"The seed published one latency per setup at {SEED_RPS} rps ({SEED_HARDWARE}) and no raw "
        "data; it does not say which statistic, so this run's loadtest mean latency is shown "
        "(median over valid repetitions, min-max in brackets).",
        "",
        markdown_table(
            [
                "setup",
                "seed (ms)",
                f"this run at {number(rate)} rps (ms)",
                "run / seed",
                "valid reps",
            ],
            rows,
        ),
        "",
    ]
    lines.extend(_differences(run, rate))
    return "\n".join(lines) + "\n"


def _differences(run: Run, rate: float | None) -> list[str]:
    notes = []
    if rate != SEED_RPS:
        notes.append(
            f"- Rate: this run measured at {number(rate)} rps, the seed at {SEED_RPS}; "
            "the numbers are not like for like."
        )
    targets = sorted(
        {h.instance_type or h.cpu_model or "unknown" for h in run.hosts_with_role("target")}
    )
    if targets:
        notes.append(f"- Targets: {', '.join(targets)}; the seed's were m3.2xlarge.")
    for package, seed_version in SEED_VERSIONS.items():
        pinned = _pin(run, package)
        if pinned != seed_version:
            notes.append(f"- {package}: {pinned or 'not pinned'} here, {seed_version} in the seed.")
    if _pin(run, "asgi_ipc") == SEED_VERSIONS["asgi_ipc"]:
        notes.append(
            "- asgi_ipc 1.1.0 has the global semaphore lock fixed in 1.4.0; the seed's "
            "ipc latency includes that bug."
        )
    if not notes:
        return []
    return ["What differs from the seed's setup:", "", *notes, ""]
