"""The chat panel of the agent page, two agents in two browsers: a conversation opened, typing
shown and expiring without a stop, a message arriving unread and read, a ping, and call
invitations (into a call, to a new call) that appear live and are declined."""

import pytest
from playwright.sync_api import expect

from messaging.models import CallInvitation, Message, Participant
from tests.factories import AgentFactory
from tests.messaging.conftest import connected_call

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _live(open_page, user):
    page = open_page(user, "/agent/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    return page


def test_two_agents_chat_ping_and_invite(open_page, settings):
    settings.MESSAGING_TYPING_TTL_SECONDS = 1
    ana = AgentFactory(user__first_name="Ana", user__last_name="Lima").user
    ben = AgentFactory(user__first_name="Ben", user__last_name="Ito").user
    colleagues = AgentFactory.create_batch(200)  # more than a page of the agents API
    ana_page, ben_page = _live(open_page, ana), _live(open_page, ben)

    expect(ana_page.locator("#colleague option")).to_have_count(1 + len(colleagues))
    ana_page.select_option("#colleague", str(ben.pk))
    ana_page.click("#start-chat")
    expect(ana_page.locator("#thread-title")).to_have_text("Ben Ito")
    row = ben_page.locator("#conversations li")
    expect(row).to_have_count(1)  # conversation.created, live
    expect(row).to_contain_text("Ana Lima")

    # Typing shows on Ben's page and expires there, though Ana never says she stopped.
    ana_page.type("#composer-body", "Hel")
    expect(row.locator(".typing")).to_have_text("typing…")
    expect(row.locator(".typing")).to_have_text("", timeout=5000)

    ana_page.fill("#composer-body", "Hello Ben")
    ana_page.click("#composer-send")
    expect(ana_page.locator("#thread-messages li")).to_have_count(1)
    expect(row.locator(".unread")).to_have_text("1")
    expect(ben_page.locator("#chat-unread")).to_have_text("(1 unread)")

    row.locator("button").click()
    expect(ben_page.locator("#thread-messages li").last).to_contain_text("Hello Ben")
    expect(row.locator(".unread")).to_have_text("")
    message = Message.objects.get()
    expect(ben_page.locator("#chat-unread")).to_have_text("")
    seat = Participant.objects.get(user=ben)
    assert seat.last_read_message_id == message.pk

    # Ben replies while Ana has the thread open: it appears there at once.
    ben_page.fill("#composer-body", "Hi Ana")
    ben_page.click("#composer-send")
    expect(ana_page.locator("#thread-messages li").last).to_contain_text("Hi Ana")

    # A ping from Ben shows on Ana's page; a second one at once is refused with the reason.
    ben_page.select_option("#colleague", str(ana.pk))
    ben_page.fill("#ping-text", "Need you on a call")
    ben_page.click("#send-ping")
    expect(ana_page.locator("#ping-note")).to_have_text("Ben Ito pinged you: Need you on a call")
    # The frame can beat the answer to Ben's request: wait for it, or it lands after the refusal.
    expect(ben_page.locator("#ping-note")).to_have_text("Ping sent.")
    ben_page.click("#send-ping")
    expect(ben_page.locator("#ping-note")).to_contain_text("again after")

    # Ben, on a call, invites Ana from the page: it appears live on hers; declining clears it.
    ben_page.click("#invite")
    expect(ben_page.locator("#ping-note")).to_have_text("You are not on a call.")
    connected_call(ben)
    ben_page.fill("#ping-text", "billing")
    ben_page.click("#invite")
    expect(ben_page.locator("#ping-note")).to_have_text("Invitation sent.")
    invite = ana_page.locator("#invitations .invitation")
    expect(invite).to_contain_text("Ben Ito invites you to join their call: billing")
    invite.get_by_role("button", name="Decline").click()
    expect(invite).to_have_count(0)
    assert CallInvitation.objects.get().status == "declined"

    # Ben invites Ana to a new call between them: offered as a call, declined too.
    ben_page.fill("#ping-text", "")
    ben_page.click("#invite-new")
    expect(ben_page.locator("#ping-note")).to_have_text("Call invitation sent.")
    expect(invite).to_contain_text("Ben Ito invites you to a call with them")
    invite.get_by_role("button", name="Decline").click()
    expect(invite).to_have_count(0)
    assert CallInvitation.objects.filter(call__isnull=True).get().status == "declined"
