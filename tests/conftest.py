"""Suite-wide fixtures. Browser fixtures live in tests/browser/conftest.py."""

import pytest

from tests.factories import MembershipFactory, PartnerFactory, SchoolYearFactory, StaffFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def school_year(db):
    return SchoolYearFactory()


@pytest.fixture
def staff_user(db):
    return StaffFactory()


@pytest.fixture
def partner_a(db):
    return PartnerFactory(name="Lakeview Unified", slug="lakeview", time_zone="America/Los_Angeles")


@pytest.fixture
def partner_b(db):
    return PartnerFactory(name="Harbor City", slug="harbor-city", time_zone="America/New_York")


@pytest.fixture
def member_a(partner_a):
    return MembershipFactory(partner=partner_a, user__username="pat@lakeview.example.org").user


@pytest.fixture
def admin_client_(db, staff_user):
    """Its own client, signed in as a staff superuser (Django admin), beside the ``client`` fixture."""
    from django.test import Client

    staff_user.is_superuser = True
    staff_user.save()
    admin = Client()
    admin.force_login(staff_user)
    return admin


@pytest.fixture(autouse=True)
def _private_folders(settings, tmp_path):
    """Each test writes inbox drops and stored packages under its own temporary folder."""
    settings.BTS_INBOX_ROOT = tmp_path / "inbox"
    settings.MEDIA_ROOT = tmp_path / "media"
