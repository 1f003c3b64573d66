"""Legs a page asks for itself are answered by its softphone and shown "on the line" until
left: an agent joins a colleague's customer call from a chat invitation, two agents call each
other from one, a supervisor listens in from the dashboard, an agent dials a number. The
simulator tells where each leg is (its /Simulator/Devices API, via telephony.simulated_device)."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from callcenter.choices import CallStage
from callcenter.models import Agent, Call
from telephony.models import Operation, OperationKind
from telephony.simulated_device import device_calls, device_registration
from tests.browser.pages import agent_page, ready_agent_page
from tests.simulation import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _agent(username: str) -> Agent:
    return Agent.objects.select_related("user").get(user__username=username)


def _conferences(agent: Agent) -> list[str | None]:
    """The conferences of the agent's answered legs, by the simulator."""
    legs = device_calls(agent.softphone_identity)
    return [leg.conference_name for leg in legs if not leg.awaiting_decision]


def _bob_on_a_customer_call(call_center, open_page):
    bob = _agent("bob")
    page = ready_agent_page(open_page, bob)
    traffic = call_center.start_traffic(1, 60)
    expect(page.locator("#offer")).to_be_visible()
    page.click("#accept")
    expect(page.locator("#call-stage")).to_have_text("connected")
    call = Call.objects.get(parent__isnull=True)
    wait_until(lambda: _conferences(bob) == [call.call_sid])
    return page, traffic, call


def _leave(page, agent: Agent):
    page.click("#line-hangup")
    expect(page.locator("#line")).to_be_hidden()
    wait_until(lambda: device_calls(agent.softphone_identity) == [])


def _still_talking(bob_page, call: Call, traffic):
    """Bob's customer call went on without the leg that left; then Bob ends it."""
    assert Call.objects.get(pk=call.pk).stage == CallStage.CONNECTED
    expect(bob_page.locator("#call-stage")).to_have_text("connected")
    bob_page.click("#hangup")
    expect(bob_page.locator("#wrap-up")).to_be_visible()
    traffic.result(30)


def test_an_agent_joins_a_colleagues_call_from_an_invitation_and_leaves(call_center, open_page):
    bob_page, traffic, call = _bob_on_a_customer_call(call_center, open_page)
    carol = _agent("carol")
    carol_page = agent_page(open_page, carol)

    bob_page.select_option("#colleague", str(carol.user_id))
    bob_page.fill("#ping-text", "a refund question")
    bob_page.click("#invite")
    expect(bob_page.locator("#ping-note")).to_have_text("Invitation sent.")
    invitation = carol_page.locator("#invitations .invitation")
    expect(invitation).to_contain_text("Bob Brown invites you to join their call")
    invitation.get_by_role("button", name="Join").click()

    wait_until(lambda: _conferences(carol) == [call.call_sid])  # the customer's conference
    # On the call now, Carol has its controls, after a reload too.
    expect(carol_page.locator("#current-call")).to_be_visible()
    carol_page.reload()
    expect(carol_page.locator("#current-call")).to_be_visible()

    carol_page.click("#leave")  # Bob and the customer go on
    wait_until(lambda: device_calls(carol.softphone_identity) == [])
    expect(carol_page.locator("#current-call")).to_be_hidden()
    _still_talking(bob_page, call, traffic)


def test_two_agents_call_each_other_from_an_invitation(call_center, open_page):
    carol, dave = _agent("carol"), _agent("dave")
    carol_page, dave_page = agent_page(open_page, carol), agent_page(open_page, dave)

    carol_page.select_option("#colleague", str(dave.user_id))
    carol_page.click("#invite-new")
    expect(carol_page.locator("#ping-note")).to_have_text("Call invitation sent.")
    dave_page.locator("#invitations .invitation").get_by_role("button", name="Call").click()

    # Dave's softphone is dialed first and holds the conference; Carol's rings into it.
    expect(dave_page.locator("#line-what")).to_have_text("a call with Carol Chen")
    wait_until(lambda: len(_conferences(carol)) == 1 and _conferences(carol) == _conferences(dave))
    expect(carol_page.locator("#idle-note")).to_be_hidden()

    _leave(dave_page, dave)  # either hanging up ends the call for the other
    wait_until(lambda: device_calls(carol.softphone_identity) == [])


def test_a_supervisor_listens_in_from_the_dashboard_and_leaves(call_center, open_page):
    bob_page, traffic, call = _bob_on_a_customer_call(call_center, open_page)
    supervisor = get_user_model().objects.get(username="supervisor")
    page = open_page(supervisor, "/supervisor/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    # The page takes no rings until asked: calls routed to Sam meanwhile ring as scripted.
    expect(page.locator("#device-state")).to_contain_text("rings only when you ask")
    sam = Agent.objects.get(user=supervisor)
    assert not device_registration(sam.softphone_identity).interactive

    bob_row = page.locator(f'#agents tr[data-agent-id="{_agent("bob").pk}"]')
    expect(bob_row.locator('[data-field="call"]')).to_contain_text("connected")
    bob_row.get_by_role("button", name="listen").click()
    expect(page.locator("#line-what")).to_have_text(f"listen · Bob Brown, call #{call.pk}")
    expect(page.locator("#device-state")).to_contain_text("ready")
    wait_until(lambda: _conferences(sam) == [call.call_sid])
    page.reload()  # the leg is still up: still Sam's to leave
    expect(page.locator("#line-what")).to_have_text("a call answered before this page loaded")

    _leave(page, sam)
    expect(page.locator("#idle-note")).to_be_visible()
    _still_talking(bob_page, call, traffic)


def test_a_supervisor_without_a_softphone_is_told_why_listening_in_fails(call_center, open_page):
    bob_page, traffic, call = _bob_on_a_customer_call(call_center, open_page)
    supervisor = get_user_model().objects.get(username="supervisor")
    Agent.objects.filter(user=supervisor).delete()
    page = open_page(supervisor, "/supervisor/")
    expect(page.locator("#softphone")).to_contain_text("Listening in needs a softphone")

    bob_row = page.locator(f'#agents tr[data-agent-id="{_agent("bob").pk}"]')
    bob_row.get_by_role("button", name="listen").click()
    expect(page.locator("#message")).to_contain_text("You need a softphone")
    _still_talking(bob_page, call, traffic)


def test_an_agent_calls_a_number_from_the_page(call_center, open_page):
    bob = _agent("bob")
    page = agent_page(open_page, bob)
    page.fill("#dial-to", "4155550123")
    page.click("#dial button")
    expect(page.locator("#message")).to_contain_text("E.164")
    assert not Operation.objects.filter(kind=OperationKind.DIAL_OUT).exists()

    customer = "+442071838750"
    page.fill("#dial-to", customer)
    page.click("#dial button")
    expect(page.locator("#current-call")).to_be_visible()
    expect(page.locator("#call-from")).to_have_text(customer)
    expect(page.locator("#line")).to_be_hidden()  # the call shows with its controls instead
    call = Call.objects.get(to_number=customer)
    wait_until(lambda: _conferences(bob) == [call.call_sid])

    page.click("#hangup")
    wait_until(lambda: device_calls(bob.softphone_identity) == [])
    wait_until(lambda: Call.objects.get(pk=call.pk).ended_at is not None)


def test_a_caller_transferred_to_an_agent_rings_their_page_and_is_answered(call_center, open_page):
    bob_page, traffic, call = _bob_on_a_customer_call(call_center, open_page)
    carol = _agent("carol")
    carol_page = agent_page(open_page, carol)

    bob_page.select_option("#transfer-kind", "agent")
    bob_page.fill("#transfer-to", str(carol.pk))
    bob_page.click("#transfer")
    offer = carol_page.locator("#transfer-offer")
    expect(offer).to_contain_text("Bob Brown transfers a caller to you (cold).")
    carol_page.click("#transfer-answer")
    expect(offer).to_be_hidden()
    wait_until(lambda: _conferences(carol) == [call.call_sid])  # with the customer
    wait_until(lambda: device_calls(_agent("bob").softphone_identity) == [])  # cold: Bob left
    # The call is Carol's now, with its controls; Bob's page lets go of it.
    expect(carol_page.locator("#current-call")).to_be_visible()
    expect(carol_page.locator("#line")).to_be_hidden()
    expect(bob_page.locator("#current-call")).to_be_hidden()
    carol_page.click("#hold")
    expect(carol_page.locator("#call-hold")).to_have_text("· on hold")

    carol_page.click("#hangup")
    wait_until(lambda: Call.objects.get(pk=call.pk).stage == CallStage.ENDED)
    wait_until(lambda: device_calls(carol.softphone_identity) == [])
    traffic.result(30)


def test_a_warm_transfer_talks_first_then_the_agent_leaves(call_center, open_page):
    bob_page, traffic, call = _bob_on_a_customer_call(call_center, open_page)
    carol = _agent("carol")
    carol_page = agent_page(open_page, carol)

    bob_page.select_option("#transfer-mode", "warm")
    bob_page.select_option("#transfer-kind", "agent")
    bob_page.fill("#transfer-to", str(carol.pk))
    bob_page.click("#transfer")
    expect(bob_page.locator("#call-hold")).to_have_text("· on hold")  # the customer waits
    offer = carol_page.locator("#transfer-offer")
    expect(offer).to_contain_text("Bob Brown transfers a caller to you (warm).")
    carol_page.click("#transfer-answer")
    wait_until(lambda: _conferences(carol) == [call.call_sid])
    assert device_calls(_agent("bob").softphone_identity) != []  # warm: Bob stays to talk

    bob_page.click("#leave")
    wait_until(lambda: device_calls(_agent("bob").softphone_identity) == [])
    expect(bob_page.locator("#current-call")).to_be_hidden()
    expect(carol_page.locator("#current-call")).to_be_visible()
    expect(carol_page.locator("#call-hold")).to_have_text("")  # back with the customer
    assert Call.objects.get(pk=call.pk).stage == CallStage.CONNECTED

    carol_page.click("#hangup")
    wait_until(lambda: Call.objects.get(pk=call.pk).stage == CallStage.ENDED)
    traffic.result(30)
