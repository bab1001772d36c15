"""Channels over the shared-memory IPC channel layer (the seed's `ipc` setup)."""
import os

from testproject.settings.base import *  # noqa: F401,F403
from testproject.settings.base import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["channels"]

CONFIG = {
    # daphne and the workers meet in shared memory under this prefix.
    "prefix": os.environ.get("CHANNELS_BENCH_IPC_PREFIX", "channels-bench"),
    "channel_memory": 200 * 1024 * 1024,
}
# asgi_ipc 1.2 and later size their shared memory themselves and refuse channel_memory: the
# catalogue's sweep sets this to an empty value for them (a number sets the size in bytes).
MEMORY = os.environ.get("CHANNELS_BENCH_IPC_CHANNEL_MEMORY")
if MEMORY == "":
    del CONFIG["channel_memory"]
elif MEMORY is not None:
    CONFIG["channel_memory"] = int(MEMORY)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "asgi_ipc.IPCChannelLayer",
        "ROUTING": "testproject.urls.channel_routing",
        "CONFIG": CONFIG,
    },
}
