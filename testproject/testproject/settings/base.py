"""Settings shared by every setup: the smallest Django that serves one view."""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A benchmark fixture, never a real site: the key only has to be stable across processes.
SECRET_KEY = os.environ.get("CHANNELS_BENCH_SECRET_KEY", "channels-bench-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "testproject",
]
MIDDLEWARE = []
ROOT_URLCONF = "testproject.urls"
DATABASES = {}
USE_TZ = True



def channel_layer_url():
    """The redis URL of the channel layer. It may hold a password, so the harness hands the
    programs a path to a file only their account can read (CHANNELS_BENCH_REDIS_URL_FILE)
    rather than the URL itself in the supervisord config; CHANNELS_BENCH_REDIS_URL is for
    running by hand."""
    path = os.environ.get("CHANNELS_BENCH_REDIS_URL_FILE")
    if path:
        with open(path) as handle:
            return handle.read().strip()
    return os.environ.get("CHANNELS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
