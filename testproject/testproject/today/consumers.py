"""The WebSocket consumers, each as small as it gets: the server stack is what is measured.

Channels 4.2+ runs close_old_connections in a worker thread around every message it dispatches
(channels.db.aclose_old_connections), database or not: that cost is part of the stack measured.
"""

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


class EchoConsumer(AsyncWebsocketConsumer):
    """/ws/echo/: every frame straight back, text as text and bytes as bytes."""

    # No channel layer: get_channel_layer() answers None for an alias that is not configured, so
    # the consumer neither creates a channel nor listens on one.
    channel_layer_alias = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


class FanoutConsumer(AsyncWebsocketConsumer):
    """/ws/fanout/<group>/: a member of the group; a frame it receives goes to the whole group
    through the channel layer's group_send, and reaches every member unchanged (the sender too).
    """

    group_name = ""

    async def connect(self) -> None:
        self.group_name = self.scope["url_route"]["kwargs"]["group"]
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(
                self.group_name, {"type": "fanout.message", "text": text_data}
            )

    async def fanout_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


class HoldConsumer(AsyncWebsocketConsumer):
    """/ws/connect/: accepts (the base class's connect does) and holds; nothing else."""

    channel_layer_alias = None
