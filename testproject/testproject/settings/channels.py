"""Channels over a Redis channel layer (the seed's `redis` setup)."""
import os

from testproject.settings.base import *  # noqa: F401,F403
from testproject.settings.base import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["channels"]

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "asgi_redis.RedisChannelLayer",
        "ROUTING": "testproject.urls.channel_routing",
        "CONFIG": {
            "hosts": [os.environ.get("CHANNELS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")],
        },
    },
}
