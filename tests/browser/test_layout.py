"""The dashboards fit a phone as well as a desktop: nothing but the tables scrolls sideways."""

import pytest
from playwright.sync_api import expect

from tests.factories import AgentFactory, QueueFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PHONE, DESKTOP = (390, 844), (1440, 900)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_pages_fit_the_screen(open_page, viewport):
    queue = QueueFactory()
    agent = AgentFactory(queues=[queue])
    supervisor = UserFactory(roles=["supervisor"])
    queue.supervisors.add(supervisor)
    for user, path, control in (
        (agent.user, "/agent/", "button[data-status=available]"),
        (supervisor, "/supervisor/", "#agents tbody tr"),
    ):
        page = open_page(user, path, viewport=viewport)
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
        expect(page.locator(control).first).to_be_visible()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, viewport, overflow)
