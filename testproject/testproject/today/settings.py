"""Settings of the 2026 stack: the smallest Django that serves the view and the consumers.

The channel layer is chosen by the environment, so that one project serves every setup:
CHANNELS_BENCH_LAYER = redis | redis-pubsub | memory, and the Redis address comes from
testproject.redis_address (a 0600 file the harness writes, as for the 2016 settings). An unknown
layer stops the server at start with the valid choices named.
"""

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from testproject import redis_address

# A benchmark fixture, never a real site: the key only has to be stable across processes.
SECRET_KEY = os.environ.get("CHANNELS_BENCH_SECRET_KEY", "channels-bench-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["channels"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "testproject.today.urls"
WSGI_APPLICATION = "testproject.today.wsgi.application"
ASGI_APPLICATION = "testproject.today.asgi.application"
DATABASES: dict[str, Any] = {}
TIME_ZONE = "UTC"
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# The layers a setup can name, with their backends. The memory layer lives inside one process:
# group messages never reach a consumer in another process, so it fits one-process setups only.
LAYER_BACKENDS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    "redis-pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "memory": "channels.layers.InMemoryChannelLayer",
}
DEFAULT_LAYER = "redis"


def redis_url(environ: Mapping[str, str]) -> str:
    """Where Redis is (the address may carry a password): testproject.redis_address reads it."""
    return str(redis_address.redis_url(environ))


def channel_layers(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """CHANNEL_LAYERS for the layer CHANNELS_BENCH_LAYER names (redis when unset)."""
    layer = environ.get("CHANNELS_BENCH_LAYER", DEFAULT_LAYER)
    if layer not in LAYER_BACKENDS:
        raise ImproperlyConfigured(
            f"CHANNELS_BENCH_LAYER={layer!r} is not a channel layer of this project: "
            f"choose one of {', '.join(LAYER_BACKENDS)}"
        )
    config: dict[str, Any] = {"BACKEND": LAYER_BACKENDS[layer]}
    if layer != "memory":
        # The library's defaults otherwise (capacity 100 per channel, expiry 60 s): the stack
        # as it ships is what is measured.
        config["CONFIG"] = {"hosts": [redis_url(environ)]}
    return {"default": config}


CHANNEL_LAYERS = channel_layers(os.environ)
