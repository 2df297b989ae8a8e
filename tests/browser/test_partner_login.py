"""A demo partner signs in with the keyboard and sees its home page with the 2026–27 dates."""

import pytest
from playwright.sync_api import Page, expect

from bts_portal.demo import DEMO_PASSWORD, partner_username, seed_demo


@pytest.fixture
def demo(transactional_db):
    seed_demo()


def test_a_demo_partner_signs_in_and_sees_its_season(live_server, page: Page, demo):
    page.goto(f"{live_server.url}/p/lakeview-unified/")
    expect(page).to_have_title("Sign in · BTS Portal")
    page.get_by_label("Email or username").fill(partner_username("lakeview-unified"))
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_label("Password").press("Enter")

    expect(page).to_have_url(f"{live_server.url}/p/lakeview-unified/")
    expect(page).to_have_title("Lakeview Unified School District · BTS Portal")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lakeview Unified School District")
    expect(page.get_by_role("heading", name="School year 2026-27: your season")).to_be_visible()
    dates = page.locator("dl.key-dates time")
    expect(dates).to_have_text(
        [
            "Saturday, April 25, 2026",
            "Friday, June 12, 2026",
            "Thursday, July 30, 2026",
            "Wednesday, August 12, 2026",
            "Monday, August 17, 2026",
        ]
    )
    expect(page.get_by_text("Sunday, August 2, 2026, 00:00")).to_be_visible()  # PowerSchool data, 72 h later
    expect(page.get_by_text("PowerSchool", exact=True)).to_be_visible()


def test_a_wrong_password_is_explained_and_the_username_kept(live_server, page: Page, demo):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill(partner_username("kona-coast"))
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That email or username and password do not match an account. The password is case-sensitive."
    )
    expect(page.get_by_label("Email or username")).to_have_value(partner_username("kona-coast"))
