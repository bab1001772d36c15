"""The catalogue's rules (roles/channels_setup/filter_plugins/channels_catalogue.py): names,
rows with their stack's defaults, version-sweep variants, and the supervisord programs."""

from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError


def fourth_setup(catalogue: dict) -> dict:
    extra = {
        "stacks": {
            "2016": {
                "setups": {
                    "gunicorn-2w": copy.deepcopy(catalogue["stacks"]["2016"]["setups"]["gunicorn"])
                }
            }
        }
    }
    extra["stacks"]["2016"]["setups"]["gunicorn-2w"]["programs"][0]["processes"] = 2
    return extra


def test_setup_all_is_every_setup_of_the_stack_in_catalogue_order(catalogue_filters, catalogue):
    assert catalogue_filters.catalogue_resolve(catalogue, "all") == [
        "2016/gunicorn",
        "2016/redis",
        "2016/ipc",
    ]


def test_a_bare_name_is_the_stacks(catalogue_filters, catalogue):
    assert catalogue_filters.catalogue_resolve(catalogue, "ipc") == ["2016/ipc"]
    assert catalogue_filters.catalogue_resolve(catalogue, "2016/ipc") == ["2016/ipc"]


def test_setups_win_over_setup_and_keep_their_order(catalogue_filters, catalogue):
    names = catalogue_filters.catalogue_resolve(catalogue, "all", ["2016/ipc", "gunicorn"])
    assert names == ["2016/ipc", "2016/gunicorn"]
    assert catalogue_filters.catalogue_resolve(catalogue, None, "ipc,redis") == [
        "2016/ipc",
        "2016/redis",
    ]


@pytest.mark.parametrize(
    ("setups", "stack", "message"),
    [
        (
            ["2016/bogus"],
            "2016",
            "Unknown setup '2016/bogus': stack 2016 has 2016/gunicorn, 2016/redis, 2016/ipc",
        ),
        (["1999/ipc"], "2016", "Unknown stack '1999' in setup '1999/ipc': choose one of 2016"),
        (["ipc"], "1999", "Unknown stack '1999': choose one of 2016"),
        (["ipc", "2016/ipc"], "2016", "setup asked for twice: 2016/ipc"),
        ([], "2016", "No setup asked for"),
        (["2016/ipc@asgi_ipc"], "2016", "is not a variant"),
    ],
)
def test_a_bad_name_fails_naming_the_valid_ones(
    catalogue_filters, catalogue, setups, stack, message
):
    with pytest.raises(AnsibleFilterError) as error:
        catalogue_filters.catalogue_resolve(catalogue, None, setups, stack)
    assert message in str(error.value)


def test_an_extra_catalogue_adds_a_setup(catalogue_filters, catalogue):
    merged = catalogue_filters.catalogue_merge(catalogue, fourth_setup(catalogue))
    assert catalogue_filters.catalogue_resolve(merged, "all")[-1] == "2016/gunicorn-2w"
    # The repository's catalogue itself is untouched.
    assert "gunicorn-2w" not in catalogue["stacks"]["2016"]["setups"]


def test_a_row_takes_its_stacks_defaults_and_pins(catalogue_filters, catalogue):
    row = catalogue_filters.catalogue_row(catalogue, "2016/redis")
    assert row["tests"] == ["latency", "throughput"] and row["urls"] == {"http": "/"}
    assert row["needs"] == ["redis"] and row["channel_layer"] == "redis"
    assert row["pins"]["daphne"] == "0.14.3" and row["variant"] is None
    assert [p["processes_via"] for p in row["programs"]] == [None, "numprocs"]


def test_a_row_shares_nothing_with_the_catalogue(catalogue_filters, catalogue):
    """A role changes its row (the programs' commands, the environment); the catalogue, and the
    next row read from it, stay as written."""
    before = copy.deepcopy(catalogue)
    row = catalogue_filters.catalogue_row(catalogue, "2016/redis")
    row["environment"]["X"] = "1"
    row["programs"][0]["command"] = "changed"
    row["tests"].append("websocket")
    row["urls"]["http"] = "/changed"
    assert catalogue == before
    again = catalogue_filters.catalogue_row(catalogue, "2016/redis")
    assert "X" not in again["environment"] and again["urls"] == {"http": "/"}
    assert again["tests"] == ["latency", "throughput"]


def test_a_variant_brings_its_companions(catalogue_filters, catalogue):
    swept = copy.deepcopy(catalogue)
    swept["stacks"]["2016"]["sweeps"] = {
        "asgi_ipc": {"1.4.2": {"pins": {"asgiref": "1.1.2"}, "environment": {"X": "1"}}}
    }
    row = catalogue_filters.catalogue_row(swept, "2016/ipc@asgi_ipc=1.4.2")
    assert row["pins"]["asgi_ipc"] == "1.4.2" and row["pins"]["asgiref"] == "1.1.2"
    assert row["environment"] == {"X": "1"} and row["variant"] == "asgi_ipc=1.4.2"
    with pytest.raises(AnsibleFilterError, match=r"choose one of 1\.4\.2"):
        catalogue_filters.catalogue_row(swept, "2016/ipc@asgi_ipc=9.9")


def test_the_ipc_sweep_brings_the_asgiref_1_generation(catalogue_filters, catalogue):
    """asgi_ipc 1.4.2 cannot run under channels 0.17: the variant pins the generation it needs,
    adds Twisted 17's own dependencies (kept apart from the stack's pins, which -e overrides may
    change), installs incremental first and describes itself."""
    row = catalogue_filters.catalogue_row(catalogue, "2016/ipc@asgi_ipc=1.4.2")
    assert row["pins"]["asgi_ipc"] == "1.4.2" and row["pins"]["channels"] == "1.1.8"
    assert set(row["added_pins"]) >= {"incremental", "constantly", "automat"}
    assert not set(row["added_pins"]) & set(catalogue["stacks"]["2016"]["pins"])
    assert row["install_first"] == ["incremental"]
    assert "asgiref 1.x" in row["description"]
    assert row["environment"]["CHANNELS_BENCH_IPC_CHANNEL_MEMORY"] == ""
    plain = catalogue_filters.catalogue_row(catalogue, "2016/ipc@asgi_ipc=1.1.0")
    assert plain["added_pins"] == {} and plain["install_first"] == []
    assert plain["pins"] == catalogue["stacks"]["2016"]["pins"]


def test_install_first_must_name_a_pinned_package(catalogue_filters, catalogue):
    swept = copy.deepcopy(catalogue)
    swept["stacks"]["2016"]["sweeps"]["asgi_ipc"]["1.4.2"]["install_first"] = ["setuptools_scm"]
    with pytest.raises(AnsibleFilterError, match="install_first names setuptools_scm"):
        catalogue_filters.catalogue_row(swept, "2016/ipc@asgi_ipc=1.4.2")


def test_a_sweep_names_one_variant_per_value(catalogue_filters):
    assert catalogue_filters.catalogue_sweep(["2016/ipc"], "asgi_ipc:1.1.0,1.4.2") == [
        "2016/ipc@asgi_ipc=1.1.0",
        "2016/ipc@asgi_ipc=1.4.2",
    ]
    assert catalogue_filters.catalogue_sweep(["2016/ipc"], None) == ["2016/ipc"]


def test_programs_render_with_the_seeds_commands(catalogue_filters, catalogue):
    row = catalogue_filters.catalogue_row(catalogue, "2016/gunicorn")
    [program] = catalogue_filters.supervisor_programs(row, "0.0.0.0", 80)
    assert program["command"] == "gunicorn testproject.wsgi_no_channels -b 0.0.0.0:80"
    assert program["section"] == "program:gunicorn" and program["numprocs"] == 1


def test_more_processes_go_the_programs_own_way(catalogue_filters, catalogue):
    gunicorn = catalogue_filters.catalogue_row(catalogue, "2016/gunicorn")
    [program] = catalogue_filters.supervisor_programs(
        gunicorn, "127.0.0.1", 8000, 2, {"gunicorn": 2}
    )
    assert program["command"].endswith(" -w 2") and program["numprocs"] == 1
    redis = catalogue_filters.catalogue_row(catalogue, "2016/redis")
    daphne, worker = catalogue_filters.supervisor_programs(
        redis, "127.0.0.1", 8000, 1, {"worker": 3}
    )
    assert worker["numprocs"] == 3 and worker["process_name"].endswith("%(process_num)02d")
    assert daphne["numprocs"] == 1 and daphne["process_name"] is None


def test_an_fcgi_program_gets_a_socket_and_numbered_processes(catalogue_filters, catalogue):
    extra = {
        "stacks": {
            "2016": {
                "setups": {
                    "daphne-n": {
                        "description": "d",
                        "group": "g",
                        "programs": [
                            {
                                "name": "daphne",
                                "kind": "fcgi-program",
                                "processes": "cores",
                                "command": "daphne --fd 0 testproject.asgi:channel_layer",
                            }
                        ],
                    }
                }
            }
        }
    }
    row = catalogue_filters.catalogue_row(
        catalogue_filters.catalogue_merge(catalogue, extra), "2016/daphne-n"
    )
    [program] = catalogue_filters.supervisor_programs(row, "127.0.0.1", 8000, 2)
    assert program["section"] == "fcgi-program:g"  # a group of its own, the setup's group
    assert program["socket"] == "tcp://127.0.0.1:8000" and program["numprocs"] == 2
    # supervisord binds it, so the program needs no right to bind a privileged port.
    assert program["binds_port"] is False


def test_only_the_program_that_binds_the_port_is_marked(catalogue_filters, catalogue):
    # Marked programs keep CAP_NET_BIND_SERVICE below port 1024; the worker gets nothing.
    row = catalogue_filters.catalogue_row(catalogue, "2016/redis")
    daphne, worker = catalogue_filters.supervisor_programs(row, "0.0.0.0", 80)
    assert (daphne["binds_port"], worker["binds_port"]) == (True, False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"daphne": 2}, "daphne runs as exactly one process"),
        ({"worker": 0}, "processes must be a whole number >= 1"),
    ],
)
def test_impossible_process_counts_fail(catalogue_filters, catalogue, overrides, message):
    row = catalogue_filters.catalogue_row(catalogue, "2016/redis")
    with pytest.raises(AnsibleFilterError, match=message):
        catalogue_filters.supervisor_programs(row, "127.0.0.1", 8000, 1, overrides)


def test_more_workers_than_cores_fail(catalogue_filters, catalogue):
    row = catalogue_filters.catalogue_row(catalogue, "2016/gunicorn")
    with pytest.raises(AnsibleFilterError, match="more than the 1 cores"):
        catalogue_filters.supervisor_programs(row, "127.0.0.1", 8000, 1, {"gunicorn": 2})


def test_setups_come_as_a_json_list_from_the_command_line(catalogue_filters, catalogue):
    assert catalogue_filters.catalogue_resolve(
        catalogue, None, '["2016/gunicorn", "2016/ipc"]'
    ) == ["2016/gunicorn", "2016/ipc"]


def test_a_sweep_leaves_setups_whose_stack_cannot_sweep_it(catalogue_filters, catalogue):
    names = ["2016/gunicorn", "2026/daphne"]
    assert catalogue_filters.catalogue_sweep(names, "layer:redis,memory", catalogue) == [
        "2016/gunicorn",
        "2026/daphne@layer=redis",
        "2026/daphne@layer=memory",
    ]
    with pytest.raises(AnsibleFilterError, match="no setup asked for can sweep layer"):
        catalogue_filters.catalogue_sweep(["2016/gunicorn"], "layer:memory", catalogue)
    with pytest.raises(AnsibleFilterError, match="choose one of redis, redis-pubsub, memory"):
        catalogue_filters.catalogue_sweep(["2026/daphne"], "layer:rabbitmq", catalogue)
