"""A partner user sees only the partners they belong to, on every partner page."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse


def _partner_url_names(resolver=None, namespace=""):
    """Every named route in the whole URL tree that takes a partner ``slug``."""
    names = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names += _partner_url_names(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name and "<slug:slug>" in str(entry.pattern):
            names.append(f"{namespace}{entry.name}")
    return names


PARTNER_URL_NAMES = _partner_url_names()


# What a member gets on a GET of their own partner's page (POST-only actions answer 405 to GET).
OWN_PARTNER_GET_STATUS = {
    "syncs:rollover_complete": 405,
    "partners:plan_summary": 302,
    "syncs:run": 404,  # run 999999 does not exist, for anyone
    "syncs:run_package": 404,
    "season:partner_feed": 405,  # POST only
}
# Routes that take more than the slug.
EXTRA_KWARGS = {"syncs:run": {"run_id": 999999}, "syncs:run_package": {"run_id": 999999}}


@pytest.mark.parametrize("url_name", PARTNER_URL_NAMES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_404_to_a_user_of_another_partner(client, member_a, partner_b, school_year, url_name, method):
    client.force_login(member_a)
    response = getattr(client, method)(
        reverse(url_name, kwargs={"slug": partner_b.slug, **EXTRA_KWARGS.get(url_name, {})})
    )
    assert response.status_code == 404
    assert b"Harbor City" not in response.content


@pytest.mark.parametrize("url_name", PARTNER_URL_NAMES)
def test_it_serves_the_member_their_own_partner(client, member_a, partner_a, school_year, url_name):
    client.force_login(member_a)
    response = client.get(reverse(url_name, kwargs={"slug": partner_a.slug, **EXTRA_KWARGS.get(url_name, {})}))
    assert response.status_code == OWN_PARTNER_GET_STATUS.get(url_name, 200)


def test_the_checks_above_find_the_partner_pages():
    assert {"partners:home", "syncs:timeline", "syncs:rollover_complete"} <= set(PARTNER_URL_NAMES)


def test_it_redirects_a_single_partner_user_home_to_their_partner(client, member_a, partner_a, partner_b):
    client.force_login(member_a)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/p/lakeview/"


def test_staff_see_every_partner(client, staff_user, partner_a, partner_b, school_year):
    client.force_login(staff_user)
    home = client.get("/")
    assert [p.slug for p in home.context["partners"]] == ["harbor-city", "lakeview"]
    assert client.get("/p/harbor-city/").status_code == 200


def test_it_sends_anonymous_visitors_to_sign_in(client, partner_a):
    response = client.get("/p/lakeview/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/p/lakeview/"


def test_the_partner_home_shows_the_partner_and_current_year_dates(client, member_a, school_year):
    client.force_login(member_a)
    response = client.get("/p/lakeview/")
    text = response.content.decode()
    assert "<title>Lakeview Unified · BTS Portal</title>" in text
    assert "PowerSchool" in text
    assert "America/Los_Angeles" in text
    assert "School year 2026-27: your season" in text
    assert "Nightly syncs stop (global pause)" in text
    assert '<time datetime="2026-04-25">Saturday, April 25, 2026</time>' in text
    assert '<time datetime="2026-06-12">Friday, June 12, 2026</time>' in text
    assert '<time datetime="2026-07-30">Thursday, July 30, 2026</time>' in text
