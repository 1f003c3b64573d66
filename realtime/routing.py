"""WebSocket routes of the ASGI application. The `/ws/` consumer arrives with the realtime
layer (event log, replay by seq); until then every WebSocket connection is refused."""

websocket_urlpatterns: list = []
