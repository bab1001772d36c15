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



LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
