"""redis_server: Debian's redis, bound where asked and never everywhere, answering PING."""

from __future__ import annotations

import re

import pytest

REDIS_CONF = "/etc/redis/redis.conf"


@pytest.fixture(scope="module")
def redis_conf(host) -> str:
    return host.file(REDIS_CONF).content_string


@pytest.fixture(scope="module")
def redis_port(inventory_vars) -> int:
    return int(inventory_vars.get("redis_server_port", 6379))


@pytest.fixture(scope="module")
def redis_password(inventory_vars) -> str:
    return str(inventory_vars.get("redis_server_password", ""))


@pytest.fixture(scope="module")
def redis_bind(redis_conf) -> str:
    # The bind address is a template on some hosts (the container's own address): read the result.
    binds = re.findall(r"^bind\s+(.+?)\s*$", redis_conf, re.M)
    assert len(binds) == 1, f"expected one bind line in {REDIS_CONF}, found {binds}"
    return binds[0]


def test_redis_installed_from_debian(host):
    assert host.package("redis-server").is_installed


def test_redis_conf_sets_each_address_setting_once(redis_conf, redis_port):
    # redis applies the last of repeated lines; a stale first one misleads whoever reads the file.
    assert re.findall(r"^port\s+(\d+)\s*$", redis_conf, re.M) == [str(redis_port)]


def test_redis_server_running(host):
    assert host.process.filter(comm="redis-server"), "no redis-server process"


def test_redis_listens_on_its_address_only(host, redis_bind, redis_port):
    assert redis_bind not in {"0.0.0.0", "::", "*"}
    assert host.socket(f"tcp://{redis_bind}:{redis_port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{redis_port}").is_listening


def test_redis_answers_ping(host, redis_bind, redis_port, redis_password):
    reply = host.run(
        "REDISCLI_AUTH=%s redis-cli -h %s -p %s ping", redis_password, redis_bind, str(redis_port)
    )
    assert reply.rc == 0, reply.stderr
    assert reply.stdout.strip() == "PONG"


def test_redis_with_password_refuses_anonymous_clients(
    host, redis_bind, redis_port, redis_password
):
    if not redis_password:
        pytest.skip("no password on this host")
    reply = host.run("redis-cli -h %s -p %s ping", redis_bind, str(redis_port))
    assert "NOAUTH" in reply.stdout + reply.stderr
