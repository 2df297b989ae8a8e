"""Every ``--json`` command prints exactly one JSON object on stdout, whatever the mail backend:
with Django's console backend, the mail a command causes (sent in-process here: the suite runs
tasks eagerly, and these tests commit for real) is printed on stderr.

DESIGN.md: "JSON printed by a command is one object on stdout; errors go to stderr with a non-zero
exit."
"""

import json
import shutil

import pytest
import time_machine
from django.core.management import call_command

from bts_portal.demo import write_term_change
from circuit_breaks.models import CircuitBreak, PolicyOverride
from partners.models import Plan
from tests.factories import MembershipFactory, PartnerFactory, StaffFactory
from tests.fixtures import GRAND_BEND

pytestmark = pytest.mark.django_db(transaction=True)
CONSOLE = "django.core.mail.backends.console.EmailBackend"


@pytest.fixture(autouse=True)
def _console_mail(settings):
    settings.EMAIL_BACKEND = CONSOLE


def _one_object(capsys) -> tuple[dict, str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_reconcile_syncs_json_stays_one_object_while_a_pause_notice_is_printed(school_year, capsys):
    partner = PartnerFactory(name="Lakeview", slug="lakeview", time_zone="America/Los_Angeles", integration_type="api")
    MembershipFactory(partner=partner, user__username="it@lakeview.example.org")
    with time_machine.travel("2026-06-12T04:59:00Z", tick=False):  # the real time: notices are due
        call_command("reconcile_syncs", "--json")
    data, err = _one_object(capsys)
    assert data["transitions"] == []  # 21:59 on 06-11 in Los Angeles: the day before the pause
    assert data["notices_sent"] == {"pause": 1, "transition": 0}
    assert "Subject: Lakeview: nightly roster sync pauses on Friday, June 12" in err
    call_command("reconcile_syncs", "--at", "2026-06-12T07:00:00Z", "--json")
    data, _ = _one_object(capsys)
    assert [(t["partner"], t["from"], t["to"]) for t in data["transitions"]] == [("lakeview", "active", "paused")]


def test_sync_schedule_json_is_one_object(school_year, capsys):
    PartnerFactory(slug="lakeview", time_zone="America/Los_Angeles", integration_type="api")
    call_command("sync_schedule", "lakeview", "--json")
    data, _ = _one_object(capsys)
    assert (data["partner"], data["pause_start"], data["resume_date"]) == ("lakeview", "2026-06-12", "2026-07-30")


def test_ingest_and_decide_json_stay_one_object_while_mail_is_printed(school_year, capsys, tmp_path):
    manager = StaffFactory(username="psm", email="psm@bts.example.org")
    partner = PartnerFactory(name="Grand Bend", slug="grand-bend", time_zone="America/Chicago", success_manager=manager)
    Plan.objects.create(partner=partner, school_year=school_year, roster_contact_email="data@grand-bend.example.org")
    PolicyOverride.objects.create(partner=partner, entity="", small_population=10)
    with time_machine.travel("2026-08-03T15:00:00Z", tick=False):
        call_command("ingest_snapshot", "grand-bend", str(GRAND_BEND), "--json")
        data, _ = _one_object(capsys)
        assert data["outcome"] == "applied"
        night2 = tmp_path / "night2"
        write_term_change(GRAND_BEND, night2)
        call_command("ingest_snapshot", "grand-bend", str(night2), "--json")
        data, _ = _one_object(capsys)
        assert data["outcome"] == "held"
        cb = CircuitBreak.objects.get(pk=data["circuit_break"])
        call_command("decide_break", str(cb.pk), "ask-partner", "--by", "psm", "--json")
        data, err = _one_object(capsys)
        assert (data["action"], data["status"], data["asked_at"]) == (
            "ask-partner",
            "open",
            "2026-08-03T15:00:00+00:00",
        )
        assert "To: data@grand-bend.example.org" in err
    shutil.rmtree(night2)
