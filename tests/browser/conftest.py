"""Playwright on Debian's Chromium (``/usr/bin/chromium``; Playwright cannot download browsers here)."""

import os

import pytest
from playwright.sync_api import Page

from bts_portal.demo import DEMO_PASSWORD

CHROMIUM = os.environ.get("BTS_CHROMIUM", "/usr/bin/chromium")

# pytest-django's live_server runs beside Playwright's event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def sign_in(page: Page, base: str, username: str) -> None:
    """Sign in on the login page as a demo user (password ``DEMO_PASSWORD``) and wait to land."""
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
