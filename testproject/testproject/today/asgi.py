"""ASGI entry point of the 2026 stack: Django's view over HTTP, the consumers over WebSocket.

daphne, uvicorn, gunicorn's uvicorn worker, granian and hypercorn all load
testproject.today.asgi:application from the project directory.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.today.settings")
# Django's setup first: the routing imports Channels' consumers, which need the settings loaded.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from testproject.today.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
