"""Where the channel layer's Redis is: the one place both stacks' settings read it from.

The address may hold a password, so the harness hands the programs a path to a file only their
account can read (CHANNELS_BENCH_REDIS_URL_FILE) rather than the URL itself in the supervisord
config; CHANNELS_BENCH_REDIS_URL is for running a server by hand. Python 3.4+ (the 2016 stack).
"""
import os

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url(environ=os.environ):
    path = environ.get("CHANNELS_BENCH_REDIS_URL_FILE")
    if path:
        with open(path) as handle:
            return handle.read().strip()
    return environ.get("CHANNELS_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
