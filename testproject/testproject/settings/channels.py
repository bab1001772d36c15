"""Channels over a Redis channel layer (the seed's `redis` setup)."""
from testproject.settings.base import *  # noqa: F401,F403
from testproject.redis_address import redis_url
from testproject.settings.base import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["channels"]

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "asgi_redis.RedisChannelLayer",
        "ROUTING": "testproject.urls.channel_routing",
        "CONFIG": {
            "hosts": [redis_url()],
        },
    },
}
