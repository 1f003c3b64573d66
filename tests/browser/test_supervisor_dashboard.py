"""The supervisor dashboard stays live: a caller appears in a queue, is answered and ends
without a reload; with the WebSocket cut the page keeps updating through the fallback."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from callcenter.choices import AgentStatus
from callcenter.models import Agent, Call, Queue
from callcenter.services import agent_set_status

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_call_waits_is_answered_and_ends_live(call_center, open_page):
    supervisor = get_user_model().objects.get(username="supervisor")
    sales = Queue.objects.get(name="Sales")
    bob = Agent.objects.get(user__username="bob")
    page = open_page(supervisor, "/supervisor/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    waiting = page.locator(f'#queues tr[data-queue-id="{sales.pk}"] [data-field="waiting"]')
    expect(waiting).to_have_text("0")

    traffic = call_center.start_traffic(1, 60)
    expect(waiting).to_have_text("1")  # nobody is available: the caller waits
    expect(page.locator("#waiting tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Priority +1").click()
    expect(page.locator("#waiting tbody tr td").nth(3)).to_have_text("1")

    agent_set_status(agent_id=bob.pk, status=AgentStatus.AVAILABLE)
    bob_row = page.locator(f'#agents tr[data-agent-id="{bob.pk}"]')
    expect(bob_row.locator('[data-field="status"]')).to_have_text("available")
    expect(bob_row.locator('[data-field="activity"]')).to_have_text("on_call")
    expect(bob_row.locator('[data-field="call"]')).to_contain_text("connected")
    expect(waiting).to_have_text("0")
    # Bob's softphone hangs up after the talk: wrap-up, then the page shows him free again.
    expect(bob_row.locator('[data-field="activity"]')).to_have_text(
        re.compile("wrap_up|idle"), timeout=60_000
    )
    expect(bob_row.locator('[data-field="call"]')).to_have_text("")
    traffic.result(30)


def test_the_page_updates_through_the_fallback_after_the_socket_is_cut(call_center, open_page):
    supervisor = get_user_model().objects.get(username="supervisor")
    carol = Agent.objects.get(user__username="carol")
    page = open_page(supervisor, "/supervisor/", cuttable=True)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    status = page.locator(f'#agents tr[data-agent-id="{carol.pk}"] [data-field="status"]')
    expect(status).to_have_text("offline")

    page.evaluate("window.__cutSockets()")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "fallback")
    agent_set_status(agent_id=carol.pk, status=AgentStatus.AWAY, reason="training")
    expect(status).to_have_text("away (training)", timeout=20_000)


def test_a_waiting_caller_is_moved_to_another_queue(call_center, open_page):
    supervisor = get_user_model().objects.get(username="supervisor")
    sales, support = Queue.objects.get(name="Sales"), Queue.objects.get(name="Support")
    page = open_page(supervisor, "/supervisor/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")

    def waiting(queue):
        return page.locator(f'#queues tr[data-queue-id="{queue.pk}"] [data-field="waiting"]')

    traffic = call_center.start_traffic(1, 60)
    expect(waiting(sales)).to_have_text("1")
    page.locator("#waiting tbody tr select").select_option(label="Support")
    expect(waiting(support)).to_have_text("1")
    expect(waiting(sales)).to_have_text("0")
    call = Call.objects.get(parent__isnull=True)
    assert (call.queue_id, call.stage) == (support.pk, "waiting")
    traffic.cancel()
