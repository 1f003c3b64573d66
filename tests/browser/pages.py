"""Steps the browser tests share."""

from playwright.sync_api import expect


def agent_page(open_page, agent, **options):
    """The agent's page, live, its softphone registered."""
    page = open_page(agent.user, "/agent/", **options)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    expect(page.locator("#device-state")).to_contain_text("ready")
    return page


def ready_agent_page(open_page, agent, **options):
    """The agent's page, the agent available for calls."""
    page = agent_page(open_page, agent, **options)
    page.click("button[data-status=available]")
    expect(page.locator("#my-status")).to_have_text("available")
    return page
