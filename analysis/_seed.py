"""The seed's published figures, all of them, as data.

Source: Django Channels load test of 2016-09-06, loadtesting/2016-09-06/ in the django/channels
repository: channels-latency.PNG, channels-throughput.PNG and the text of its Throughput section.
No raw data was published; "several tests were run for each setup and test type", with no count
or spread. Chart values are read off the images: the latency chart prints its bar labels; the
throughput chart's points are read off its axis, to +-100 requests.

This is the only module of analysis that names setups: the seed's three, as the 2016 stack's
setups of the catalogue (`2016/gunicorn`, `2016/redis`, `2016/ipc`).
"""

from __future__ import annotations

from dataclasses import dataclass

CITATION = (
    "Django Channels load test of 2016-09-06, loadtesting/2016-09-06/ in the django/channels "
    "repository: channels-latency.PNG, channels-throughput.PNG and the text of its Throughput "
    "section"
)
SEED_DATE = "2016-09-06"
REPETITIONS = "several per setup and test; no count or spread published"


@dataclass(frozen=True)
class SeedSetup:
    name: str
    description: str
    role: str
    versions: dict[str, str]  # the versions the seed names, keyed as the harness keys its pins


SEED_SETUPS = {
    setup.name: setup
    for setup in (
        SeedSetup(
            "2016/gunicorn",
            "gunicorn 19.6.0, plain WSGI: the control",
            "wsgi-control",
            {"gunicorn": "19.6.0"},
        ),
        SeedSetup(
            "2016/redis",
            "daphne 0.14.3 + runworker, asgi_redis 0.14.0 channel layer",
            "asgi-redis",
            {"daphne": "0.14.3", "asgi_redis": "0.14.0"},
        ),
        SeedSetup(
            "2016/ipc",
            "daphne 0.14.3 + runworker, asgi_ipc 1.1.0 channel layer",
            "asgi-shared-memory",
            {"daphne": "0.14.3", "asgi_ipc": "1.1.0"},
        ),
    )
}


@dataclass(frozen=True)
class Machine:
    instance_type: str
    vcpus: int
    memory_gib: float
    cpu: str


# EC2's published specifications of the seed's (previous-generation) instance types.
M3_2XLARGE = Machine("m3.2xlarge", 8, 30.0, "Intel Xeon E5-2670 v2 (Ivy Bridge), 2.5 GHz")
M3_LARGE = Machine("m3.large", 2, 7.5, "Intel Xeon E5-2670 v2 (Ivy Bridge), 2.5 GHz")
OS = "Ubuntu 16.04"
# loadtest of that time; the project's fabfile ran `loadtest -c 10 -t 90 [--rps N] URL`, never -k.
LOADTEST_VERSION = "1.x"
KEEPALIVE = False
CLIENTS = 10
FABFILE_DURATION_S = 90


# 1. Latency test (channels-latency.PNG, "Request latency at 300 rps"): loadtest --rps 300,
# source and targets m3.2xlarge. Two series only: there is no ipc series on this chart.
LATENCY_RPS = 300
LATENCY_SOURCE = M3_2XLARGE
LATENCY_TARGET = M3_2XLARGE
# loadtest's percentile lines ("50% 21 ms"), whole milliseconds.
LATENCY_CHART = (
    'The seed\'s chart "Request latency at 300 rps" has gunicorn and Redis only (no ipc).'
)
LATENCY_PERCENTILES_MS = {
    "2016/gunicorn": {"50": 2.0, "90": 3.0, "95": 3.0, "99": 10.0},
    "2016/redis": {"50": 21.0, "90": 70.0, "95": 85.0, "99": 118.0},
}


# 2. Throughput test (channels-throughput.PNG, "Throughput of Requests over 1 minute,
# Non-Accumulated"): loadtest left to throttle itself (closed loop, 10 clients, no keep-alive),
# source m3.large, targets m3.2xlarge; requests completed in each 5-second interval, points at
# 5, 10, ..., 55 s.
@dataclass(frozen=True)
class SeedSeries:
    first: float  # requests in the first 5-s interval
    last: float  # ... and in the last
    low: float  # the lowest and highest of the intervals
    high: float
    rps_first: float  # the same as requests per second
    rps_last: float
    shape: str


THROUGHPUT_BIN_S = 5.0
THROUGHPUT_POINTS_S = tuple(float(t) for t in range(5, 60, 5))
THROUGHPUT_READING_ERROR = 100.0  # requests per interval, reading the chart
THROUGHPUT_SOURCE = M3_LARGE
THROUGHPUT_TARGET = M3_2XLARGE
THROUGHPUT_PER_5S = {
    "2016/gunicorn": SeedSeries(7000, 7200, 7000, 7200, 1420, 1420, "flat"),
    "2016/redis": SeedSeries(3000, 3250, 3000, 3250, 620, 620, "flat"),
    "2016/ipc": SeedSeries(400, 100, 100, 400, 80, 20, "falling"),
}


# 3. Latency during the throughput test (the text of the Throughput section): "Gunicorn had a
# latency of 6 ms; daphne and Redis, 12 ms; daphne and IPC, 35 ms." These belong to the
# closed-loop test at 10 clients, not to the 300 rps test. The statistic is not stated; loadtest
# 1.x printed a mean latency, rounded, in its summary beside the percentile lines: the mean is the
# likely one.
CLOSED_LOOP_LATENCY_MS = {"2016/gunicorn": 6.0, "2016/redis": 12.0, "2016/ipc": 35.0}
CLOSED_LOOP_QUOTE = (
    "Gunicorn had a latency of 6 ms; daphne and Redis, 12 ms; daphne and IPC, 35 ms."
)
CLOSED_LOOP_STATISTIC = (
    "not stated; most likely loadtest 1.x's mean latency, which it printed rounded in its summary"
)
