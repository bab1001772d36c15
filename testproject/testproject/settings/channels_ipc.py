"""Channels over the shared-memory IPC channel layer (the seed's `ipc` setup)."""
import os

from testproject.settings.base import *  # noqa: F401,F403
from testproject.settings.base import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["channels"]

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "asgi_ipc.IPCChannelLayer",
        "ROUTING": "testproject.urls.channel_routing",
        "CONFIG": {
            # daphne and the workers meet in shared memory under this prefix.
            "prefix": os.environ.get("CHANNELS_BENCH_IPC_PREFIX", "channels-bench"),
            "channel_memory": 200 * 1024 * 1024,
        },
    },
}
