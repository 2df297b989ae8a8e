"""Staff open the review queue, open the demo's held rollover and approve it without deletions;
the partner's roster page then shows the new records and the deletions still pending."""

from datetime import UTC, datetime

import pytest
import time_machine
from playwright.sync_api import Page, expect

from bts_portal.demo import STAFF_USERNAME, partner_username, seed_demo
from tests.browser.conftest import sign_in


@pytest.fixture
def demo(transactional_db):
    with time_machine.travel(datetime(2026, 11, 30, 15, 0, tzinfo=UTC), tick=False):
        seed_demo()


def test_staff_approve_the_held_rollover_without_deletions(live_server, page: Page, demo):
    sign_in(page, live_server.url, STAFF_USERNAME)
    page.goto(f"{live_server.url}/admin/circuit_breaks/circuitbreak/")
    row = page.locator("#result_list tbody tr").filter(has_text="Grand Bend ISD")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("users: 8 of 10 updated = 80.0 % > 75 %")
    expect(row).to_contain_text("Open")
    row.get_by_role("link", name="Grand Bend ISD").click()

    expect(page.locator("#break-cause")).to_contain_text("Term change or rollover")
    expect(page.locator("#break-samples")).to_contain_text("grades: “09” → “10”")
    page.get_by_role("button", name="Approve without deletions").click()
    expect(page.locator(".messagelist")).to_contain_text("Approved without deletions")
    expect(page.locator("#break-status")).to_contain_text("Approved without deletions by staff")

    page.context.clear_cookies()  # a new session: the partner admin now
    sign_in(page, live_server.url, partner_username("grand-bend"))
    page.goto(f"{live_server.url}/p/grand-bend/roster/")
    expect(page.locator("#hold-notice")).to_contain_text("Some removals from your roster are on hold for review")
    pending = page.locator("#pending-deletions")
    expect(pending).to_contain_text("enrollments: 24 records")
    expect(pending).to_contain_text("classes: 2 records")
    # The new school year's records are in: every student and teacher now counts in grade 10.
    grade_ten = page.locator("table tbody tr").filter(has=page.locator("th", has_text="10"))
    expect(grade_ten.first).to_contain_text("8")
