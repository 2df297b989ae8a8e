"""The data review sign-off: from the data review day, a checklist the partner answers "all good" or
"something is off"; "something is off" opens a support request the partner success manager sees in
admin and by email. Answers are kept per school year.

First day of school Wed 2026-08-19 in Chicago → data review day Fri 2026-08-14.
"""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core import mail

from partners.models import AuditEvent, PartnerMembership, SchoolYear
from season.models import DataReviewAnswer, SupportRequest
from season.services import DataReviewError, data_review_answer
from syncs.models import RosterRecord
from tests.factories import MembershipFactory, PartnerFactory, ScheduleFactory, StaffFactory

REVIEW_DAY = datetime(2026, 8, 14, 14, tzinfo=UTC)  # 09:00 in Chicago
DAY_BEFORE = datetime(2026, 8, 13, 14, tzinfo=UTC)
ALL_GOOD = {"answer": "all_good", "rosters_ok": "on", "schools_ok": "on", "grades_ok": "on", "replaces": ""}


@pytest.fixture
def partner(school_year, settings):
    settings.BTS_SUPPORT_EMAIL = "support@bts.example.org"
    manager = StaffFactory(username="psm", email="psm@bts.example.org")
    partner = PartnerFactory(name="Grand Bend", slug="grand-bend", time_zone="America/Chicago", success_manager=manager)
    ScheduleFactory(partner=partner, school_year=school_year, first_day_of_school=date(2026, 8, 19))
    # An applied roster to check (without one, "all good" is refused: see below).
    RosterRecord.objects.create(partner=partner, entity="orgs", sourced_id="255901", data={"name": "Grand Bend ISD"})
    return partner


@pytest.fixture
def admin(client, partner):
    user = MembershipFactory(partner=partner, user__username="it@grand-bend.example.org").user
    client.force_login(user)
    return user


def test_before_the_review_day_the_page_says_when_and_refuses_answers(client, admin):
    with time_machine.travel(DAY_BEFORE, tick=False):
        page = client.get("/p/grand-bend/data-review/")
        assert "Friday, August 14, 2026" in page.content.decode()
        assert page.context["form"] is None
        assert client.post("/p/grand-bend/data-review/", ALL_GOOD).status_code == 403
        assert "data-review-panel" not in client.get("/p/grand-bend/").content.decode()
    assert DataReviewAnswer.objects.count() == 0


def test_from_the_review_day_the_checklist_links_to_the_roster_and_all_good_signs_off(client, admin, partner):
    with time_machine.travel(REVIEW_DAY, tick=False):
        home = client.get("/p/grand-bend/").content.decode()
        assert "Today is your data review day" in home
        page = client.get("/p/grand-bend/data-review/").content.decode()
        assert page.count('href="/p/grand-bend/roster/"') == 3
        response = client.post("/p/grand-bend/data-review/", ALL_GOOD, follow=True)
    assert "Thank you: your data review is signed off." in response.content.decode()
    answer = DataReviewAnswer.objects.get()
    assert (answer.partner, answer.answer, answer.answered_by, answer.details) == (partner, "all_good", admin, "")
    assert SupportRequest.objects.count() == 0 and mail.outbox == []
    assert AuditEvent.objects.filter(action="season.data_review_answered", partner=partner).count() == 1


def test_all_good_is_refused_before_any_roster_is_applied(client, admin, partner):
    RosterRecord.objects.filter(partner=partner).update(active=False)
    with time_machine.travel(REVIEW_DAY, tick=False):
        response = client.post("/p/grand-bend/data-review/", ALL_GOOD, follow=True)
        off = client.post(
            "/p/grand-bend/data-review/",
            {"answer": "something_off", "details": "Nothing has arrived yet.", "replaces": ""},
            follow=True,
        )
    assert (
        "There is no roster to check yet: no sync has been applied for your district. Answer \u201csomething is "
        "off\u201d to tell your partner success manager, or come back once a sync is applied."
    ) in response.content.decode()
    assert list(DataReviewAnswer.objects.values_list("answer", flat=True)) == ["something_off"]
    assert off.status_code == 200


def test_all_good_needs_every_check_ticked(client, admin):
    with time_machine.travel(REVIEW_DAY, tick=False):
        response = client.post("/p/grand-bend/data-review/", {**ALL_GOOD, "grades_ok": ""})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "grades_ok": ["Tick this to answer \u201call good\u201d, or choose \u201csomething is off\u201d"]
    }
    assert DataReviewAnswer.objects.count() == 0


def test_something_off_needs_details(client, admin):
    with time_machine.travel(REVIEW_DAY, tick=False):
        response = client.post("/p/grand-bend/data-review/", {"answer": "something_off", "details": "  "})
    assert response.context["form"].errors == {
        "details": ["Tell us what is off, so your partner success manager can fix it."]
    }
    assert DataReviewAnswer.objects.count() == 0


def test_something_off_opens_a_support_request_the_manager_sees_by_email_and_in_admin(
    client, admin, partner, admin_client_, django_capture_on_commit_callbacks
):
    details = "Grade 9 at Grand Bend High is missing."
    with time_machine.travel(REVIEW_DAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/p/grand-bend/data-review/",
            {"answer": "something_off", "rosters_ok": "on", "schools_ok": "on", "details": details},
        )
    request = SupportRequest.objects.select_related("answer").get()
    assert (request.partner, request.status, request.answer.details, request.answer.grades_ok) == (
        partner,
        SupportRequest.Status.OPEN,
        details,
        False,
    )
    assert [(m.subject, sorted(m.to)) for m in mail.outbox] == [
        ("Grand Bend: data review \u2014 something is off", ["psm@bts.example.org", "support@bts.example.org"])
    ]
    assert details in mail.outbox[0].body
    assert f"/admin/season/supportrequest/{request.pk}/change/" in mail.outbox[0].body
    listing = admin_client_.get("/admin/season/supportrequest/?status__exact=open").content.decode()
    assert details in listing and "Grand Bend" in listing


def test_resolving_a_support_request_is_guarded_and_audited(client, admin, partner, admin_client_, staff_user):
    with time_machine.travel(REVIEW_DAY, tick=False):
        client.post("/p/grand-bend/data-review/", {"answer": "something_off", "details": "Wrong school"})
    request = SupportRequest.objects.get()
    for _ in range(2):
        admin_client_.post(
            "/admin/season/supportrequest/", {"action": "resolve", "_selected_action": [request.pk]}, follow=True
        )
    request.refresh_from_db()
    assert (request.status, request.resolved_by) == (SupportRequest.Status.RESOLVED, staff_user)
    assert AuditEvent.objects.filter(action="season.support_request_resolved").count() == 1


def test_an_answer_given_while_someone_else_answered_is_not_recorded(partner, school_year, admin):
    colleague = MembershipFactory(partner=partner, user__username="kim@grand-bend.example.org").user
    with time_machine.travel(REVIEW_DAY, tick=False):
        first = data_review_answer(
            partner=partner, school_year=school_year, by=colleague, answer="all_good", rosters_ok=True,
            schools_ok=True, grades_ok=True, replaces=None,
        )  # fmt: skip
    with pytest.raises(
        DataReviewError, match="^kim@grand-bend.example.org answered at 2026-08-14 09:00 CDT while you were reading"
    ):
        data_review_answer(
            partner=partner, school_year=school_year, by=admin, answer="something_off", rosters_ok=False,
            schools_ok=True, grades_ok=True, details="late", replaces=None,
        )  # fmt: skip
    with pytest.raises(DataReviewError, match="You already answered at"):
        data_review_answer(
            partner=partner, school_year=school_year, by=colleague, answer="something_off", rosters_ok=False,
            schools_ok=True, grades_ok=True, details="late", replaces=None,
        )  # fmt: skip
    again = data_review_answer(
        partner=partner, school_year=school_year, by=admin, answer="something_off", rosters_ok=False,
        schools_ok=True, grades_ok=True, details="Found a gap", replaces=first.pk,
    )  # fmt: skip
    assert list(DataReviewAnswer.objects.order_by("id")) == [first, again]
    assert SupportRequest.objects.get().answer == again


def test_a_double_submitted_form_records_one_answer_without_a_warning(client, admin):
    with time_machine.travel(REVIEW_DAY, tick=False):
        client.post("/p/grand-bend/data-review/", ALL_GOOD)
        response = client.post("/p/grand-bend/data-review/", ALL_GOOD, follow=True)
    text = response.content.decode()
    assert "Thank you: your data review is signed off." in text and "already answered" not in text
    assert DataReviewAnswer.objects.count() == 1


@pytest.mark.parametrize("replaces", ["abc", "-3", "1e3", "99999999999999999999", "<script>"])
def test_a_tampered_page_records_nothing_and_says_so(client, admin, replaces):
    with time_machine.travel(REVIEW_DAY, tick=False):
        response = client.post("/p/grand-bend/data-review/", {**ALL_GOOD, "replaces": replaces}, follow=True)
    assert "This page was out of date, so nothing was recorded. Please answer again." in response.content.decode()
    assert response.context["form"]["replaces"].value() is None  # the reloaded page works again
    assert DataReviewAnswer.objects.count() == 0


def test_details_are_kept_only_with_something_is_off(client, admin):
    with time_machine.travel(REVIEW_DAY, tick=False):
        client.post("/p/grand-bend/data-review/", {**ALL_GOOD, "details": "typed, then changed my mind"})
    assert DataReviewAnswer.objects.get().details == ""


def test_viewers_read_and_other_partners_get_404(client, partner, school_year):
    viewer = MembershipFactory(partner=partner, role=PartnerMembership.Role.VIEWER).user
    client.force_login(viewer)
    with time_machine.travel(REVIEW_DAY, tick=False):
        assert "A partner admin of Grand Bend signs off" in client.get("/p/grand-bend/data-review/").content.decode()
        assert client.post("/p/grand-bend/data-review/", ALL_GOOD).status_code == 403
        PartnerFactory(slug="elsewhere")
        assert client.get("/p/elsewhere/data-review/").status_code == 404


def test_answers_are_kept_per_school_year(client, admin, partner, school_year):
    with time_machine.travel(REVIEW_DAY, tick=False):
        client.post("/p/grand-bend/data-review/", ALL_GOOD)
    SchoolYear.objects.filter(pk=school_year.pk).update(is_current=False)
    next_year = SchoolYear.objects.create(
        label="2027-28",
        planning_deadline=date(2027, 4, 24),
        global_pause_start=date(2027, 6, 11),
        global_resume_date=date(2027, 7, 29),
        is_current=True,
    )
    ScheduleFactory(partner=partner, school_year=next_year, first_day_of_school=date(2027, 8, 18))
    with time_machine.travel(datetime(2027, 8, 13, 14, tzinfo=UTC), tick=False):
        client.force_login(admin)
        page = client.get("/p/grand-bend/data-review/")
    assert page.context["current"] is None
    assert DataReviewAnswer.objects.get().school_year == school_year


def test_staff_resolve_a_support_request_with_a_note_in_admin(client, admin, admin_client_, staff_user):
    with time_machine.travel(REVIEW_DAY, tick=False):
        client.post("/p/grand-bend/data-review/", {"answer": "something_off", "details": "Wrong school"})
    request = SupportRequest.objects.get()
    url = f"/admin/season/supportrequest/{request.pk}/change/"
    page = admin_client_.get(url).content.decode()
    assert "Wrong school" in page and "rosters look correct: no" in page
    refused = admin_client_.post(url, {"resolution": "Fixed the school mapping"})
    assert refused.context["adminform"].form.errors == {"resolve": ["Tick this to resolve the request with your note."]}
    admin_client_.post(url, {"resolution": "Fixed the school mapping", "resolve": "on"})
    request.refresh_from_db()
    assert (request.status, request.resolution, request.resolved_by) == (
        SupportRequest.Status.RESOLVED,
        "Fixed the school mapping",
        staff_user,
    )
    assert AuditEvent.objects.filter(action="season.support_request_resolved").count() == 1


def test_a_page_opened_before_someone_resolved_the_request_changes_nothing(client, admin, admin_client_, staff_user):
    with time_machine.travel(REVIEW_DAY, tick=False):
        client.post("/p/grand-bend/data-review/", {"answer": "something_off", "details": "Wrong school"})
    request = SupportRequest.objects.get()
    url = f"/admin/season/supportrequest/{request.pk}/change/"
    admin_client_.post(url, {"resolution": "Fixed", "resolve": "on"})
    stale = admin_client_.post(url, {"resolution": "Fixed again", "resolve": "on"}, follow=True)
    assert stale.status_code == 200
    assert f"Support request {request.pk} was resolved by {staff_user} already; nothing changed." in (
        stale.content.decode()
    )
    request.refresh_from_db()
    assert request.resolution == "Fixed"
    assert AuditEvent.objects.filter(action="season.support_request_resolved").count() == 1


@pytest.mark.parametrize(
    ("answer", "checks", "details", "message"),
    [
        (
            "all_good",
            (True, True, False),
            "",
            "Tick all three checks to answer \u201call good\u201d, or tell us what is off.",
        ),
        ("something_off", (True, True, True), "  ", "Tell us what is off, so your partner success manager can fix it."),
        ("maybe", (True, True, True), "", "Choose \u201call good\u201d or \u201csomething is off\u201d."),
    ],
)
def test_the_service_refuses_an_inconsistent_answer_in_words(
    partner, school_year, admin, answer, checks, details, message
):
    with pytest.raises(DataReviewError) as refused:
        data_review_answer(
            partner=partner, school_year=school_year, by=admin, answer=answer, rosters_ok=checks[0],
            schools_ok=checks[1], grades_ok=checks[2], details=details,
        )  # fmt: skip
    assert str(refused.value) == message
    assert DataReviewAnswer.objects.count() == 0
