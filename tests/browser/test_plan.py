"""A demo partner plans its season in the browser; staff approve; the schedule follows."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from bts_portal.demo import STAFF_USERNAME, partner_username, seed_demo
from tests.browser.conftest import sign_in


@pytest.fixture
def demo(transactional_db):
    seed_demo()


def test_a_partner_fixes_a_date_submits_and_staff_approve(live_server, page: Page, demo):
    base = live_server.url
    sign_in(page, base, partner_username("lakeview-unified"))
    page.goto(f"{base}/p/lakeview-unified/")
    page.get_by_role("link", name="BTS planning form").click()
    expect(page).to_have_title("Lakeview Unified School District — BTS plan 2026-27 · BTS Portal")

    page.get_by_label("Primary contact: name").fill("Ana Ruiz")
    page.get_by_label("Primary contact: email").fill("ana@lakeview-unified.example.org")
    page.get_by_label("Large roster changes contact: name").fill("Ben Cho")
    page.get_by_label("Large roster changes contact: email").fill("ben@lakeview-unified.example.org")
    page.get_by_label("Large roster changes contact: phone").fill("555-0101")
    page.get_by_label("First day of school").fill("2026-08-17")
    page.get_by_label("Custom pause dates").check()
    page.get_by_label("Custom pause start").fill("2026-06-12")
    page.get_by_label("Custom resume date").fill("2026-08-15")  # PowerSchool data would land after day one
    page.get_by_label("I understand that support will switch on").check()
    page.get_by_label("I understand that new-year data can take up to 72 hours").check()
    page.get_by_label("We will check enrollment, section and teacher data").check()
    page.get_by_label("Schools and grades that must be visible").fill("Lakeview High 9-12")
    page.get_by_role("button", name="Submit the plan").click()

    error = page.locator("#id_custom_resume_date").locator("xpath=..").get_by_text("PowerSchool data would appear")
    expect(error).to_have_text(
        "PowerSchool data would appear 72 hours after the resume, on Tuesday, August 18, 2026: after the first day "
        "of school (Monday, August 17, 2026). Resume earlier."
    )
    expect(page.get_by_label("Large roster changes contact: name")).to_have_value("Ben Cho")
    expect(page.get_by_label("Schools and grades that must be visible")).to_have_value("Lakeview High 9-12")
    expect(page.get_by_label("Custom pause dates")).to_be_checked()

    page.get_by_label("Custom resume date").fill("2026-08-09")
    page.get_by_role("button", name="Submit the plan").click()

    expect(page).to_have_title("Lakeview Unified School District — BTS plan summary · BTS Portal")
    expect(page.locator("#plan-timeline tbody th")).to_have_text(
        [
            "Nightly syncs stop",
            "Nightly syncs resume",
            "PowerSchool data expected by",
            "Data review day",
            "First day of school",
        ]
    )
    expect(page.locator("#plan-timeline tbody td")).to_have_text(
        [
            "Friday, June 12, 2026",
            "Sunday, August 9, 2026",
            "Wednesday, August 12, 2026, 00:00",
            "Wednesday, August 12, 2026",
            "Monday, August 17, 2026",
        ]
    )

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, STAFF_USERNAME)
    page.goto(f"{base}/admin/partners/plan/")
    page.get_by_role("row", name="Lakeview Unified School District").get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Approve and apply to the sync schedule")
    page.get_by_role("button", name="Go").click()
    expect(
        page.get_by_text("Approved the plan of Lakeview Unified School District; its sync schedule is set.")
    ).to_be_visible()

    out = StringIO()
    call_command("sync_schedule", "lakeview-unified", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["source"], data["pause_start"], data["resume_date"]) == ("custom", "2026-06-12", "2026-08-09")
