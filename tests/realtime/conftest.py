"""Helpers for driving `/ws/` in process: the project's real ASGI application (origin check,
session auth, the consumer) over the configured channel layer (Redis in CI)."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from callcenter.asgi import application
from realtime import transport

ORIGIN = b"http://localhost"


def logged_in(user):
    """`user` with a session cookie for the handshake (made here: async code cannot)."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    user.ws_cookie = f"{name}={client.cookies[name].value}".encode()
    return user


def communicator(
    user=None, query: str = "", origin: bytes | None = ORIGIN
) -> WebsocketCommunicator:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        headers.append((b"cookie", user.ws_cookie))
    return WebsocketCommunicator(application, f"/ws/{query}", headers=headers)


async def open_socket(user, query: str = "?after=0") -> tuple[WebsocketCommunicator, list[dict]]:
    """A connected socket and the frames it got up to and including `ready`."""
    ws = communicator(user, query)
    connected, code = await ws.connect()
    assert connected, code
    frames = []
    while not frames or frames[-1]["type"] != "ready":
        frames.append(await ws.receive_json_from(timeout=5))
    return ws, frames


def run(coroutine_function):
    """Run an async test body; sync code it awaits through database_sync_to_async runs on this
    thread (so it shares the test's database connection)."""
    async_to_sync(coroutine_function)()
    assert transport.wait_idle(5)


@pytest.fixture(autouse=True)
def _flush_pushes():
    yield
    transport.wait_idle(5)
