"""WSGI entry point for gunicorn, the control: plain Django, no Channels loaded."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings.base")
application = get_wsgi_application()
