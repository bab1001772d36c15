"""The bench playbooks' filters (filter_plugins/bench.py): the plan checked and typed, the order
of passes, the series of one pass, and how several sources share it."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from tests.unit.conftest import ROOT

GOOD = {
    "warmup_s": "3",
    "repetitions": 3,
    "latency_rps": "300",
    "latency_duration_s": 15,
    "throughput_clients": "[1, 10, 50]",
    "throughput_duration_s": 8.0,
    "keepalive": "false",
    "request_timeout_ms": "10000",
    "reference_duration_s": 3,
    "sweep_rps": [],
    "sweep_fractions": "0.5,1.0",
    "sweep_duration_s": 8,
    "calibrate_delays_ms": [20],
    "calibrate_rps": "10",
    "calibrate_duration_s": 10,
    "tests": [],
    "ws_duration_s": 8,
    "ws_echo_connections": 20,
    "ws_echo_rate": 200,
    "ws_fanout_groups": 2,
    "ws_fanout_subscribers": 10,
    "ws_fanout_rate": 20,
    "ws_connect_steps": [100, 200],
    "ws_connect_hold_s": 3,
}


def test_values_from_the_command_line_are_parsed_not_coerced(bench_filters):
    plan = bench_filters.bench_plan(GOOD)
    assert plan["warmup_s"] == 3.0 and plan["repetitions"] == 3
    assert plan["throughput_clients"] == [1, 10, 50] and plan["keepalive"] is False
    assert plan["sweep_fractions"] == [0.5, 1.0] and plan["sweep_rps"] == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("latency_rps", "inf", "loadtest_latency_rps must be a finite number above 0"),
        ("latency_rps", "0", "loadtest_latency_rps must be a finite number above 0"),
        ("latency_rps", "100001", "at most 100000"),
        ("warmup_s", "abc", "loadtest_warmup_s must be a finite number at least 0"),
        ("keepalive", "maybe", "loadtest_keepalive must be true or false"),
        ("request_timeout_ms", "abc", "loadtest_request_timeout_ms must be a whole number"),
        ("repetitions", "2.5", "loadtest_repetitions must be a whole number"),
        ("repetitions", True, "loadtest_repetitions must be a whole number"),
        ("throughput_clients", "[]", "not empty"),
        ("throughput_clients", "[1, 0]", "each at least 1"),
        ("latency_duration_s", "nan", "loadtest_latency_duration_s must be a finite number"),
        ("tests", '["latency", "bogus"]', "loadtest_tests must be a list of tests among latency"),
        ("calibrate_delays_ms", "[20, -1]", "loadtest_calibrate_delays_ms must be a list"),
    ],
)
def test_a_bad_value_fails_naming_what_is_wanted(bench_filters, name, value, message):
    with pytest.raises(AnsibleFilterError) as error:
        bench_filters.bench_plan({**GOOD, name: value})
    assert message in str(error.value)


def test_a_calibration_that_would_queue_is_refused(bench_filters):
    with pytest.raises(AnsibleFilterError, match="busy 60% of the time"):
        bench_filters.bench_plan({**GOOD, "calibrate_rps": "30", "calibrate_delays_ms": [20]})


def test_every_problem_is_named_at_once(bench_filters):
    with pytest.raises(AnsibleFilterError) as error:
        bench_filters.bench_plan({**GOOD, "warmup_s": "x", "keepalive": "maybe"})
    assert "loadtest_warmup_s" in str(error.value) and "loadtest_keepalive" in str(error.value)


RUN_ID_PATTERN = yaml.safe_load((ROOT / "playbooks" / "vars" / "run_id.yml").read_text())[
    "bench_run_id_pattern"
]


@pytest.mark.parametrize(
    "run_id",
    [
        "../escaped",
        "20261128T180511Z-3F9A",
        "x",
        "20261128T180511Z-3f9a/..",
        "20261128T180511Z-3f9a\n",
    ],
)
def test_a_run_id_must_have_the_harness_form(bench_filters, run_id):
    with pytest.raises(AnsibleFilterError, match="is not of the form"):
        bench_filters.bench_run_id(run_id, RUN_ID_PATTERN)
    assert bench_filters.bench_run_id("20261128T180511Z-3f9a", RUN_ID_PATTERN) == (
        "20261128T180511Z-3f9a"
    )


SETUPS = ["2016/gunicorn", "2016/redis", "2016/ipc"]


def test_a_sequential_order_is_one_pass_per_setup(bench_filters):
    passes = bench_filters.bench_passes(SETUPS, 3)
    assert passes == [{"setup": s, "round": 1, "reps": [1, 2, 3]} for s in SETUPS]


def test_an_interleaved_order_visits_every_setup_each_round_from_its_seed(bench_filters):
    passes = bench_filters.bench_passes(SETUPS, 4, "interleaved", 7)
    assert passes == bench_filters.bench_passes(SETUPS, 4, "interleaved", 7)
    rounds = [[p["setup"] for p in passes if p["round"] == r] for r in range(1, 5)]
    assert all(sorted(visit) == sorted(SETUPS) for visit in rounds)
    assert len({tuple(visit) for visit in rounds}) > 1  # shuffled, not the same each round
    assert all(p["reps"] == [p["round"]] for p in passes)
    assert bench_filters.bench_passes(SETUPS, 4, "interleaved", 8) != passes


PLAN = {
    **GOOD,
    "tests": [],
    "warmup_s": 3.0,
    "latency_rps": 300.0,
    "latency_duration_s": 15.0,
    "throughput_clients": [1, 10],
    "throughput_duration_s": 8.0,
    "reference_duration_s": 3.0,
    "sweep_rps": [150.0],
    "sweep_fractions": [0.5],
    "sweep_duration_s": 8.0,
}


def test_a_series_runs_latency_then_wrk_and_throughput_per_client_count_then_the_sweep(
    bench_filters,
):
    series = bench_filters.bench_series(
        {"round": 2, "reps": [1, 2]}, PLAN, ["latency", "throughput"]
    )
    assert [m["output"] for m in series] == [
        "latency/rep-1.json",
        "latency/rep-2.json",
        "throughput/c1/reference-2.json",
        "throughput/c1/rep-1.json",
        "throughput/c1/rep-2.json",
        "throughput/c10/reference-2.json",
        "throughput/c10/rep-1.json",
        "throughput/c10/rep-2.json",
        "sweep/r150/rep-1.json",
        "sweep/r150/rep-2.json",
        "sweep/f0.5/rep-1.json",
        "sweep/f0.5/rep-2.json",
    ]
    assert bench_filters.bench_measured_s(series) == pytest.approx(
        2 * 18 + 2 * (3 + 2 * 11) + 4 * 11
    )


def test_sources_share_a_rate_evenly_and_clients_as_whole_numbers(bench_filters):
    assert bench_filters.bench_split_clients(10, 3) == [4, 3, 3]
    assert bench_filters.bench_split_clients(1, 2) == [1, 0]
    series = bench_filters.bench_series({"round": 1, "reps": [1]}, PLAN, ["latency", "throughput"])
    first = bench_filters.bench_source_series(series, ["a", "b"], "a")
    second = bench_filters.bench_source_series(series, ["a", "b"], "b")
    assert first[0]["rps"] == 150.0 and second[0]["rps"] == 150.0
    # wrk measures the server's limit from the first source only, with every client.
    assert [m["test"] for m in second].count("reference") == 0
    assert [m["clients"] for m in first if m["test"] == "reference"] == [1, 10]
    # One client cannot be split: the second source sits that measurement out.
    assert [m.get("clients") for m in second if m["test"] == "throughput"] == [5]


def test_several_sources_get_the_same_schedule(bench_filters):
    series = [{"duration_s": 2, "warmup_s": 1}, {"duration_s": 3}]
    scheduled = bench_filters.bench_schedule(series, 1000.0, 10.0)
    assert [m["start_at"] for m in scheduled] == [1000.0, 1013.0]


def test_the_plans_tests_narrow_a_setups_and_calibrate_on_its_own(bench_filters):
    latency_only = bench_filters.bench_series(
        {"round": 1, "reps": [1]},
        {**PLAN, "tests": ["latency"], "sweep_fractions": []},
        ["latency", "throughput"],
    )
    assert {m["test"] for m in latency_only} == {"latency", "sweep"}
    calibration = bench_filters.bench_series(
        {"round": 1, "reps": [1, 2]},
        {
            **PLAN,
            "tests": ["calibrate"],
            "calibrate_delays_ms": [20, 5],
            "calibrate_rps": 10.0,
            "calibrate_duration_s": 10.0,
        },
        ["latency", "throughput"],
        "http://127.0.0.1:8000/",
    )
    assert [m["output"] for m in calibration] == [
        "calibrate/d0/rep-1.json",
        "calibrate/d5/rep-1.json",
        "calibrate/d20/rep-1.json",
        "calibrate/d0/rep-2.json",
        "calibrate/d5/rep-2.json",
        "calibrate/d20/rep-2.json",
    ]
    assert calibration[-1]["url"] == "http://127.0.0.1:8000/calibrate/20ms"
    assert {m["rps"] for m in calibration} == {10.0}


def test_a_setups_websocket_tests_run_at_its_websocket_urls_from_one_source(bench_filters):
    plan = bench_filters.bench_plan(GOOD)
    urls = {"http": "/", "ws_echo": "/ws/echo/", "ws_fanout": "/ws/fanout/{group}/",
            "ws_connect": "/ws/connect/"}  # fmt: skip
    series = bench_filters.bench_series(
        {"round": 1, "reps": [1]}, {**plan, "sweep_fractions": []},
        ["latency", "ws-echo", "ws-fanout", "ws-connect"], "http://127.0.0.1:8000/", urls,
    )  # fmt: skip
    websocket = bench_filters.bench_runner_series(series, "wsbench")
    assert [m["test"] for m in websocket] == ["ws-echo", "ws-fanout", "ws-connect"]
    assert websocket[0]["url"] == "ws://127.0.0.1:8000/ws/echo/"
    assert websocket[1]["url"] == "ws://127.0.0.1:8000/ws/fanout/{group}/"
    assert websocket[0]["connections"] == 20 and websocket[2]["steps"] == [100, 200]
    assert [m["test"] for m in bench_filters.bench_runner_series(series, "loadtest")] == ["latency"]
    second = bench_filters.bench_source_series(series, ["a", "b"], "b")
    assert [m["test"] for m in second] == ["latency"]
    with pytest.raises(AnsibleFilterError, match="no ws_echo URL"):
        bench_filters.bench_series({"round": 1, "reps": [1]}, plan, ["ws-echo"], urls={})


def test_each_variant_gets_its_virtualenv_with_its_added_packages_apart(
    bench_filters, catalogue_filters, catalogue
):
    names = ["2016/gunicorn", "2016/ipc@asgi_ipc=1.1.0", "2016/ipc@asgi_ipc=1.4.2"]
    rows = catalogue_filters.catalogue_rows(catalogue, names)
    venvs = bench_filters.bench_venvs(rows, "/opt/s")
    assert [venv["path"] for venv in venvs] == [
        "/opt/s/2016",
        "/opt/s/2016@asgi_ipc=1.1.0",
        "/opt/s/2016@asgi_ipc=1.4.2",
    ]
    newer = venvs[2]
    assert newer["pins"]["channels"] == "1.1.8" and "incremental" not in newer["pins"]
    assert newer["added_pins"]["incremental"] == "17.5.0"
    assert newer["install_first"] == ["incremental"]
    assert venvs[0]["added_pins"] == {} and venvs[0]["install_first"] == []


def test_the_runs_owner_is_the_controller_not_the_tasks_short_lived_worker(tmp_path):
    """A task runs in a fork of ansible-playbook (same command line) that ends with the task: the
    owner recorded must be the controller, or a concurrent run calls the live run abandoned."""
    import subprocess
    import sys

    # A process named like the controller forks a worker, which asks for the owner.
    script = tmp_path / "ansible-playbook"
    plugin = str(ROOT / "filter_plugins/bench.py")
    script.write_text(
        "import importlib.util, os, sys\n"
        f"spec = importlib.util.spec_from_file_location('b', {plugin!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "read, write = os.pipe()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    os.write(write, str(module.bench_controller_pid()).encode()); os._exit(0)\n"
        "os.waitpid(child, 0)\n"
        "print(os.getpid(), os.read(read, 64).decode(), child)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    controller, owner, worker = out.stdout.split()
    assert owner == controller != worker


def test_the_fleet_image_is_the_first_every_stack_of_the_run_lists(
    bench_filters, catalogue_filters, catalogue
):
    def image(*names):
        return bench_filters.bench_fleet_image(catalogue_filters.catalogue_rows(catalogue, names))

    assert image("2026/daphne") == {
        "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
        "openssl1": False,
    }
    both = image("2026/daphne", "2016/gunicorn")
    assert both == image("2016/ipc") == {
        "name": "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-*",
        "openssl1": True,
    }
    rows = catalogue_filters.catalogue_rows(catalogue, ["2016/gunicorn", "2026/daphne"])
    rows["2026/daphne"]["ec2_images"] = ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-*"]
    with pytest.raises(AnsibleFilterError, match=r"share no EC2 image.*2016: ubuntu"):
        bench_filters.bench_fleet_image(rows)
