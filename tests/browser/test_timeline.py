"""An Infinite Campus partner admin confirms the rollover from the timeline, by keyboard."""

from datetime import UTC, datetime

import pytest
import time_machine
from playwright.sync_api import Page, expect

from bts_portal.demo import DEMO_PASSWORD, partner_username, seed_demo


@pytest.fixture
def demo(transactional_db):
    # The page reads the real clock; the seeded season is over by then and Prairie Creek waits
    # for its rollover confirmation whatever today is after 2026-07-30.
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, tzinfo=UTC), tick=False):
        seed_demo()


def test_the_rollover_is_confirmed_by_keyboard(live_server, page: Page, demo):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill(partner_username("prairie-creek"))
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/p/prairie-creek/")
    page.get_by_role("link", name="See your season timeline").click()
    expect(page).to_have_title("Prairie Creek Public Schools — season timeline · BTS Portal")
    expect(page.locator("[data-state]")).to_have_text("Awaiting rollover confirmation")

    button = page.get_by_role("button", name="Our Infinite Campus rollover is complete")
    button.focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_have_text("Thank you. The Infinite Campus rollover is recorded as complete.")
    expect(page.locator("[data-state]")).to_have_text("Active")
    expect(page.locator("#state-sentence")).to_have_text(
        "Your nightly roster sync is running. But no connection to your SIS is set up yet, so nothing is pulled; "
        "your partner success manager sets it up with you."
    )
    expect(button).to_have_count(0)
