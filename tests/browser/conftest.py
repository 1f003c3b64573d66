"""Browser tests: Debian's Chromium driven by Playwright against the real ASGI application
(pages, API, `/ws/` and the long-poll) served by uvicorn in a thread, on the test database,
with the Twilio simulator playing Twilio. Chromium is required when REQUIRE_SERVICES=1."""

import os
import shutil
import socket
import threading
import time

import pytest
import uvicorn
from django.conf import settings
from django.test import Client

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        raise pytest.UsageError(f"REQUIRE_SERVICES=1 but Chromium is missing at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AsgiServer:
    """The project's ASGI application under uvicorn, in a thread of the test process (so it
    uses the test database and the settings the test changes)."""

    def __init__(self):
        from callcenter.asgi import application

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # As `manage.py serve` runs it: a channels-redis receive may ignore the cancel of a
        # graceful shutdown, so the shutdown is bounded.
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="asgi-server", daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the ASGI server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        from channels.layers import channel_layers  # noqa: TID251 - ends with the server

        self.server.should_exit = True
        self.thread.join(10)
        # The layer instance belongs to this server's event loop: later tests (other loops)
        # get a new one, even if a consumer of this server is still winding down.
        channel_layers.backends.clear()


@pytest.fixture
def asgi_server(transactional_db):
    with AsgiServer() as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Playwright's sync API keeps an event loop running on this
    thread while it lives: the module's own ORM calls are still plain synchronous code (hence
    DJANGO_ALLOW_ASYNC_UNSAFE, only meanwhile), and other modules must not inherit the loop."""
    from playwright.sync_api import expect, sync_playwright

    # Calls take simulated seconds of prompts and rings: wait for the page longer than 5 s.
    expect.set_options(timeout=20_000)

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(browser, asgi_server):
    """open_page(user, path) → a Playwright page signed in as `user`."""
    contexts = []

    def open_as(user, path: str, *, cuttable: bool = False, viewport=(1280, 900)):
        client = Client()
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        context.add_cookies(
            [{"name": name, "value": client.cookies[name].value, "url": asgi_server.url}]
        )
        if cuttable:
            context.add_init_script(SOCKET_CUTTER)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30000)
        page.goto(asgi_server.url + path)
        return page

    yield open_as
    for context in contexts:
        context.close()


# Lets a test cut the page's WebSockets (and refuse new ones) to exercise the fallback.
SOCKET_CUTTER = """
(() => {
  const Native = window.WebSocket;
  const open = [];
  window.__cutSockets = () => {
    window.__socketsCut = true;
    open.forEach((s) => s.close());
  };
  window.WebSocket = function (url, protocols) {
    if (window.__socketsCut) throw new Error("WebSockets are cut");
    const socket = new Native(url, protocols);
    open.push(socket);
    return socket;
  };
  window.WebSocket.OPEN = Native.OPEN;
})();
"""


@pytest.fixture
def call_center(asgi_server, settings):
    """The demo call center (seed_demo), always open, nobody logged in; the simulator plays
    Twilio against the ASGI server with one scripted kind of caller: presses 1 (Sales), waits
    patiently, talks until the agent side hangs up; a number an agent dials answers."""
    from django.core.management import call_command

    from callcenter.models import Agent, Queue
    from telephony.simulator.config import AgentBehaviour, CallerBehaviour, CustomerBehaviour
    from tests.simulation import simulated_twilio

    call_command("seed_demo", verbosity=0)
    Queue.objects.update(business_hours={}, max_wait_seconds=3600, wrap_up_seconds=30)
    Agent.objects.update(status="offline")
    with simulated_twilio(
        settings,
        asgi_server.url,
        seed=11,
        speed=4.0,
        callers=CallerBehaviour(
            patience_mean_seconds=100_000,
            menu_digits=("1",),
            menu_valid_probability=1.0,
            menu_invalid_probability=0.0,
            menu_hangup_probability=0.0,
            callback_probability=0.0,
            talk_median_seconds=100_000,
        ),
        agents=AgentBehaviour(
            miss_probability=0.0,
            reject_probability=0.0,
            answer_delay_median_seconds=1.0,
            hang_up_probability=1.0,
            talk_median_seconds=20.0,
        ),
        customers=CustomerBehaviour(  # numbers an agent dials: answer soon, talk until hung up
            answer_probability=1.0,
            answer_delay_median_seconds=1.0,
            talk_median_seconds=100_000,
            alone_patience_seconds=100_000,
        ),
    ) as simulator:
        yield simulator
