"""WebSocket URLs of the 2026 project."""

from django.urls import path, re_path

from testproject.today.consumers import EchoConsumer, FanoutConsumer, HoldConsumer

# A group name as channels_redis accepts it (letters, digits, "-", "_", "."; under 100
# characters), so that a bad name is a 404 at the handshake, not an error in the layer.
websocket_urlpatterns = [
    path("ws/echo/", EchoConsumer.as_asgi()),
    re_path(r"^ws/fanout/(?P<group>[A-Za-z0-9_.-]{1,80})/$", FanoutConsumer.as_asgi()),
    path("ws/connect/", HoldConsumer.as_asgi()),
]
