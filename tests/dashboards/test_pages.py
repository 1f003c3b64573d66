"""The dashboard pages: who may open them, and what the agent page is told about itself."""

import json

import pytest

from tests.factories import AgentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in ("/agent/", "/supervisor/"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_supervisor_page_is_for_supervisors_and_admins(client):
    for roles, expected in ((["supervisor"], 200), (["admin"], 200), (["agent"], 403), ([], 403)):
        client.force_login(UserFactory(roles=roles))
        assert client.get("/supervisor/").status_code == expected, roles


def test_the_agent_page_is_for_agents_and_carries_their_softphone(client, settings):
    settings.TELEPHONY_MODE = "simulated"
    client.force_login(UserFactory(roles=["supervisor"]))
    assert client.get("/agent/").status_code == 403
    agent = AgentFactory()
    client.force_login(agent.user)
    response = client.get("/agent/")
    assert response.status_code == 200
    script = response.content.split(b'id="page-data" type="application/json">')[1]
    page = json.loads(script.split(b"</script>")[0])
    assert page["agentId"] == agent.pk and page["identity"] == agent.softphone_identity
    assert b"twilio.min.js" not in response.content  # only loaded in Twilio mode
    settings.TELEPHONY_MODE = "twilio"
    assert b"vendor/twilio-voice-sdk/twilio.min.js" in client.get("/agent/").content


def _page_data(response) -> dict:
    script = response.content.split(b'id="page-data" type="application/json">')[1]
    return json.loads(script.split(b"</script>")[0])


def test_the_supervisor_page_has_a_softphone_only_with_an_agent_profile(client, settings):
    settings.TELEPHONY_MODE = "twilio"
    supervisor = UserFactory(roles=["supervisor"])
    client.force_login(supervisor)
    response = client.get("/supervisor/")
    assert _page_data(response)["hasSoftphone"] is False
    assert b"Listening in needs a softphone" in response.content
    assert b"twilio.min.js" not in response.content and b'href="/reports/"' in response.content
    AgentFactory(user=supervisor)
    response = client.get("/supervisor/")
    assert _page_data(response)["hasSoftphone"] is True
    assert b'id="line-hangup"' in response.content and b"twilio.min.js" in response.content


def test_the_home_page_links_supervisors_to_the_reports(client):
    client.force_login(UserFactory(roles=["agent"]))
    assert b'href="/reports/"' not in client.get("/").content
    client.force_login(UserFactory(roles=["supervisor"]))
    assert b'href="/reports/"' in client.get("/").content
