"""WSGI entry point of the 2026 stack, for gunicorn's sync workers (HTTP only: no WebSocket)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.today.settings")
application = get_wsgi_application()
