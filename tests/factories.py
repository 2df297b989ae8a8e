"""factory_boy factories shared by the suite."""

from datetime import date

import factory
from django.contrib.auth import get_user_model

from partners.models import Partner, PartnerMembership, SchoolYear


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"person{n}@district.example.org")
    email = factory.LazyAttribute(lambda u: u.username if "@" in u.username else f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class SchoolYearFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SchoolYear
        django_get_or_create = ["label"]

    label = "2026-27"
    planning_deadline = date(2026, 4, 25)
    global_pause_start = date(2026, 6, 12)
    global_resume_date = date(2026, 7, 30)
    is_current = True


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"District {n}")
    slug = factory.Sequence(lambda n: f"district-{n}")
    integration_type = Partner.IntegrationType.API
    sis = Partner.Sis.POWERSCHOOL
    time_zone = "America/Chicago"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerMembership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = PartnerMembership.Role.ADMIN


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "syncs.PartnerSchedule"

    partner = factory.SubFactory(PartnerFactory)
    school_year = factory.SubFactory(SchoolYearFactory)


def open_break(partner, **fields):
    """An open circuit break of ``partner`` on a held sync run, written straight to the database
    (no service: nothing holds the partner until a service or reconciliation settles its state)."""
    from django.utils import timezone

    from circuit_breaks.models import CircuitBreak
    from syncs.models import SyncRun

    run = SyncRun.objects.create(
        partner=partner,
        local_date=date(2026, 8, 3),
        source=SyncRun.Source.COMMAND,
        outcome=SyncRun.Outcome.HELD,
        started_at=timezone.now(),
    )
    return CircuitBreak.objects.create(partner=partner, run=run, checksum="0" * 64, **fields)
