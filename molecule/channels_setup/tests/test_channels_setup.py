"""channels_setup: each of the seed's setups running under supervisord and answering HTTP 200."""

from __future__ import annotations

import re

import pytest

VENV = "/opt/channels-bench/stacks/2016"
SUPERVISORCTL = (
    "/opt/channels-bench/supervisor/bin/supervisorctl"
    " -c /etc/channels-bench/supervisor/supervisord.conf"
)
CONF_D = "/etc/channels-bench/supervisor/conf.d"
# The seed's port: below 1024, so the program that binds it starts as root and drops to the
# programs' account with setpriv, keeping only CAP_NET_BIND_SERVICE.
PORT = 80
URL = f"http://127.0.0.1:{PORT}/"
SETPRIV = (
    "setpriv --reuid=django-channels --regid=django-channels --init-groups"
    " --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service"
    " --bounding-set=-all,+net_bind_service -- "
)
NET_BIND_SERVICE = 1 << 10

# What each setup runs: its supervisord group, programs, and the seed's command lines.
SETUPS = {
    "gunicorn": {
        "group": "django_http",
        "programs": ["gunicorn"],
        "commands": [f"{SETPRIV}gunicorn testproject.wsgi_no_channels -b 0.0.0.0:{PORT}"],
    },
    "redis": {
        "group": "django_channels",
        "programs": ["daphne", "worker"],
        "commands": [
            f"{SETPRIV}daphne -b 0.0.0.0 -p {PORT} testproject.asgi:channel_layer",
            "python manage.py runworker",
        ],
    },
    "ipc": {
        "group": "django_channels",
        "programs": ["daphne", "worker"],
        "commands": [
            f"{SETPRIV}daphne -b 0.0.0.0 -p {PORT} testproject.asgi_for_ipc:channel_layer",
            "python manage.py runworker --settings=testproject.settings.channels_ipc",
        ],
    },
}


@pytest.fixture(scope="module")
def setup_name(inventory_vars) -> str:
    # 2016/gunicorn -> gunicorn: the key of SETUPS.
    return str(inventory_vars["channels_setup_name"]).split("/", 1)[1]


@pytest.fixture(scope="module")
def setup(setup_name) -> dict:
    return SETUPS[setup_name]


def test_stack_at_its_pins(pip_freeze, catalogue, canonical):
    pins = catalogue["stacks"]["2016"]["pins"]
    frozen = pip_freeze(f"{VENV}/bin/python")
    wrong = {
        name: frozen.get(canonical(name))
        for name, version in pins.items()
        if frozen.get(canonical(name)) != version
    }
    assert not wrong, f"installed versions differing from the pins: {wrong}"


def test_only_this_setups_group_configured(host, setup):
    configured = host.check_output("ls %s", CONF_D).split()
    assert configured == [f"{setup['group']}.conf"]


def test_group_renders_the_seeds_command_lines(host, setup):
    conf = host.file(f"{CONF_D}/{setup['group']}.conf").content_string
    commands = re.findall(r"^command\s*=\s*(.+?)\s*$", conf, re.M)
    assert commands == setup["commands"]
    assert re.search(rf"^\[group:{setup['group']}\]$", conf, re.M)


def test_every_program_running(host, setup):
    status = host.run(f"{SUPERVISORCTL} status").stdout
    for program in setup["programs"]:
        assert re.search(rf"^{setup['group']}:{program}\s+RUNNING\s", status, re.M), status


def test_programs_run_as_the_unprivileged_account(host, setup):
    for program in setup["programs"]:
        pid = host.check_output(f"{SUPERVISORCTL} pid %s", f"{setup['group']}:{program}")
        assert host.check_output("ps -o user= -p %s", pid) == "django-channels"


def test_only_the_program_that_binds_the_port_keeps_one_capability(host, setup):
    for program, command in zip(setup["programs"], setup["commands"], strict=True):
        pid = host.check_output(f"{SUPERVISORCTL} pid %s", f"{setup['group']}:{program}")
        status = host.file(f"/proc/{pid}/status").content_string
        caps = {
            key: int(value, 16)
            for key, value in re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status, re.M)
        }
        wanted = NET_BIND_SERVICE if command.startswith(SETPRIV) else 0
        assert caps["CapEff"] == wanted, (program, caps)
        assert caps["CapPrm"] == wanted, (program, caps)


def test_no_machine_wide_port_range_changed(host):
    sysctl = host.file("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert sysctl.content_string.strip() == "1024"


def test_setup_listens_on_its_port(host):
    assert host.socket(f"tcp://0.0.0.0:{PORT}").is_listening


def test_setup_answers_http_200(host):
    code = host.check_output("curl -s -o /dev/null -w %%{http_code} --max-time 10 %s", URL)
    assert code == "200"


def test_redis_answers_ping_where_the_setup_needs_it(host, setup_name):
    if setup_name != "redis":
        assert not host.package("redis-server").is_installed
        return
    assert host.check_output("redis-cli -h 127.0.0.1 -p 6379 ping") == "PONG"
