"""The agent dashboard drives a real call: the simulated softphone rings on the page, the agent
accepts, holds, resumes, hangs up and completes wrap-up; offers still arrive when the
WebSocket is cut (the long-poll fallback); a voicemail is offered, taken and finished there."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callcenter.models import Agent, Call, Queue, Voicemail
from callcenter.services import agent_set_status
from routing.models import Reservation, ReservationStatus, WorkKind
from routing.services import routing_run
from telephony.models import Operation, OperationKind, OperationStatus
from tests.browser.pages import agent_page, ready_agent_page
from tests.factories import ended_call

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _succeeded(kind) -> bool:
    return Operation.objects.filter(kind=kind, status=OperationStatus.SUCCEEDED).exists()


def test_accept_hold_hang_up_and_wrap_up(call_center, open_page):
    bob = Agent.objects.get(user__username="bob")
    page = ready_agent_page(open_page, bob)

    traffic = call_center.start_traffic(1, 60)
    expect(page.locator("#offer")).to_be_visible()
    expect(page.locator("#offer-queue")).to_have_text("Sales")
    page.reload()  # while it rings
    expect(page.locator("#offer-queue")).to_have_text("Sales")
    page.click("#accept")
    expect(page.locator("#current-call")).to_be_visible()
    expect(page.locator("#call-stage")).to_have_text("connected")
    expect(page.locator("#call-from")).not_to_have_text("unknown")  # own call: number shown

    page.click("#hold")
    expect(page.locator("#call-hold")).to_have_text("· on hold")
    page.click("#record")
    expect(page.locator("#record")).to_have_text("Stop recording")
    page.reload()  # hold and recording are the call's, not the page's
    expect(page.locator("#call-hold")).to_have_text("· on hold")
    expect(page.locator("#unhold")).to_be_visible()
    expect(page.locator("#record")).to_have_text("Stop recording")
    page.click("#record")
    expect(page.locator("#record")).to_have_text("Record")
    page.click("#unhold")
    expect(page.locator("#call-hold")).to_have_text("")
    assert _succeeded(OperationKind.HOLD) and _succeeded(OperationKind.UNHOLD)

    page.click("#hangup")
    expect(page.locator("#wrap-up")).to_be_visible()
    expect(page.locator("#my-activity")).to_have_text("wrap-up")
    page.select_option("#disposition", "resolved")
    page.fill("#notes", "Refund issued")
    page.click("#ready")
    expect(page.locator("#my-activity")).to_have_text("idle")
    expect(page.locator("#idle-note")).to_be_visible()
    expect(page.locator("#recent tbody tr")).to_have_count(1)
    expect(page.locator("#recent tbody tr").first).to_contain_text("resolved")

    call = Call.objects.get(parent__isnull=True)
    assert (call.agent_id, call.disposition, call.notes) == (bob.pk, "resolved", "Refund issued")
    assert call.answered_at is not None and call.ended_at is not None
    traffic.result(30)


def test_an_offer_arrives_through_the_fallback_when_the_socket_is_cut(call_center, open_page):
    bob = Agent.objects.get(user__username="bob")
    page = ready_agent_page(open_page, bob, cuttable=True)
    page.evaluate("window.__cutSockets()")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "fallback")

    traffic = call_center.start_traffic(1, 60)
    expect(page.locator("#offer")).to_be_visible()
    page.click("#reject")
    expect(page.locator("#offer")).to_be_hidden()
    traffic.cancel()
    # A supervisor sets Bob away: no frame reaches the page without its socket, the poll does.
    agent_set_status(agent_id=bob.pk, status="away", reason="set by supervisor")
    expect(page.locator("#my-status")).to_have_text("away (set by supervisor)")


def test_a_voicemail_is_offered_taken_and_finished_on_the_page(call_center, open_page):
    bob = Agent.objects.get(user__username="bob")
    page = ready_agent_page(open_page, bob)
    Agent.objects.filter(pk=bob.pk).update(last_seen_at=timezone.now())  # the page is open
    sales = Queue.objects.get(name="Sales")
    call = ended_call(sales, outcome="voicemail", from_number="+14155550142")
    Voicemail.objects.create(
        call=call,
        queue=sales,
        enqueued_at=timezone.now() - timedelta(minutes=2),
        recording_sid="RE" + "5" * 32,
        recording_url="/static/dashboards/vendor/none.mp3",
        duration_seconds=12,
    )
    # Bob's click on "available" also starts a routing run, after its commit. Whichever run
    # claims the voicemail, the other skips its locked rows, so this run may make no offer and
    # return before the winner commits: the offer on the page is what shows it committed.
    routing_run()
    expect(page.locator("#offer-kind")).to_have_text("Voicemail from")
    expect(page.locator("#offer-from")).to_have_text("+14155550142")
    offers = Reservation.objects.filter(kind=WorkKind.VOICEMAIL, call=call)
    assert list(offers.values_list("agent_id", "status")) == [(bob.pk, ReservationStatus.OFFERED)]
    page.reload()  # the offer rings on: the page learns it again
    expect(page.locator("#offer-kind")).to_have_text("Voicemail from")
    page.click("#accept")
    expect(page.locator("#voicemail")).to_be_visible()
    page.reload()  # taken, it stays mine until done
    expect(page.locator("#voicemail")).to_be_visible()
    expect(page.locator("#voicemail-from")).to_have_text("+14155550142")
    expect(page.locator("#my-activity")).to_have_text("on-call")
    page.click("#voicemail-done")
    expect(page.locator("#wrap-up")).to_be_visible()
    voicemail = Voicemail.objects.get(call=call)
    assert voicemail.status == "done" and voicemail.agent_id == bob.pk


def test_my_queues_follow_their_callers_live(call_center, open_page):
    bob = Agent.objects.get(user__username="bob")
    page = agent_page(open_page, bob)  # offline: a caller in his queue waits
    sales = Queue.objects.get(name="Sales")
    waiting = page.locator(f'#queues tr[data-queue-id="{sales.pk}"] [data-field="waiting"]')
    expect(waiting).to_have_text("0")
    traffic = call_center.start_traffic(1, 60)
    expect(waiting).to_have_text("1")  # the queue's frames, not Bob's own
    traffic.cancel()
