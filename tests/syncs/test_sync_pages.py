"""The partner's sync pages: upload a package, see runs and problems, review the roster."""

import io
import zipfile

import pytest

from partners.models import PartnerMembership
from syncs.ingest import sync_ingest
from syncs.models import SyncRun
from tests.factories import MembershipFactory, PartnerFactory, SyncRunFactory
from tests.fixtures import GRAND_BEND


def _zip(folder=GRAND_BEND, break_users=False) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.glob("*.csv")):
            data = path.read_bytes()
            if break_users and path.name == "users.csv":
                data = data.replace(b"givenName", b"firstName")
            archive.writestr(path.name, data)
    buffer.seek(0)
    buffer.name = "export.zip"
    return buffer


@pytest.fixture
def gb(db):
    return PartnerFactory(name="Grand Bend ISD", slug="gb", integration_type="file_sharing", sis="other")


@pytest.fixture
def gb_admin(client, gb):
    user = MembershipFactory(partner=gb).user
    client.force_login(user)
    return user


def test_an_upload_applies_and_shows_the_run(client, gb_admin, gb):
    response = client.post("/p/gb/sync/", {"package": _zip()}, follow=True)
    run = SyncRun.objects.get()
    assert (run.outcome, run.source, run.by) == ("applied", "upload", gb_admin)
    assert response.redirect_chain == [(f"/p/gb/sync/runs/{run.pk}/", 302)]
    text = response.content.decode()
    assert f"<title>Grand Bend ISD — sync run {run.pk} · BTS Portal</title>" in text
    assert f"Run {run.pk}: Applied. First sync of this partner: applied." in text


def test_check_only_shows_the_decision_and_applies_nothing(client, gb_admin, gb):
    response = client.post("/p/gb/sync/", {"package": _zip(), "check_only": "on"})
    assert "Check only: this package would be applied." in response.content.decode()
    assert SyncRun.objects.count() == 0


def test_a_broken_package_is_reported_by_file_line_and_column(client, gb_admin, gb):
    response = client.post("/p/gb/sync/", {"package": _zip(break_users=True)}, follow=True)
    text = response.content.decode()
    assert "Sync run" in text and "Rejected" in text
    assert "<td>users.csv</td><td>1</td><td>9</td>" in text
    assert "Column 9 of the header must be “givenName”, not “firstName”." in text


def test_too_big_or_not_a_zip_is_refused_with_a_message(client, gb_admin, gb, settings):
    settings.BTS_PACKAGE_MAX_COMPRESSED = 100
    response = client.post("/p/gb/sync/", {"package": _zip()})
    assert response.context["form"].errors["package"][0].startswith("The file is ")
    settings.BTS_PACKAGE_MAX_COMPRESSED = 10**9
    text = io.BytesIO(b"sourcedId\n1\n")
    text.name = "users.csv"
    response = client.post("/p/gb/sync/", {"package": text})
    assert response.context["form"].errors["package"] == [
        "Upload a .zip file (the CSV files of one OneRoster export, zipped)."
    ]
    assert SyncRun.objects.count() == 0


def test_a_viewer_cannot_upload(client, gb):
    client.force_login(MembershipFactory(partner=gb, role=PartnerMembership.Role.VIEWER).user)
    assert client.post("/p/gb/sync/", {"package": _zip()}).status_code == 403
    assert "Send a OneRoster package" not in client.get("/p/gb/sync/").content.decode()


def test_another_partners_run_is_404(client, gb_admin, gb):
    other = PartnerFactory(slug="other")
    run = SyncRunFactory(partner=other, outcome="applied")
    assert client.get(f"/p/gb/sync/runs/{run.pk}/").status_code == 404
    assert client.get(f"/p/other/sync/runs/{run.pk}/").status_code == 404


def test_the_roster_page_counts_by_school_and_grade_and_finds_people(client, gb_admin, gb):
    sync_ingest(partner=gb, path=GRAND_BEND)
    response = client.get("/p/gb/roster/")
    [school] = response.context["schools"]
    assert (school.name, school.grades, school.totals) == (
        "Grand Bend High School",
        {"09": [8, 2, 2]},  # the 2 teachers counted in the grade of the classes they teach
        [8, 2, 2],
    )
    found = client.get("/p/gb/roster/?q=archer").context["matches"]
    assert [(m["sourcedId"], m["givenName"], m["familyName"]) for m in found] == [("604863", "Mary", "Archer")]
    # Full names, in any order and case, and a name with an id.
    for query in ["Mary Archer", "archer mary", "MARY 604863"]:
        found = client.get("/p/gb/roster/", {"q": query}).context["matches"]
        assert [m["sourcedId"] for m in found] == ["604863"], query
    assert client.get("/p/gb/roster/", {"q": "Mary Hughes"}).context["matches"] == []
    # A control character is dropped: alone, it is no search at all; in a name, it is ignored.
    assert client.get("/p/gb/roster/", {"q": "\x00"}).context["matches"] is None
    assert [m["sourcedId"] for m in client.get("/p/gb/roster/", {"q": "arc\x00her"}).context["matches"]] == ["604863"]


def test_a_partner_admin_downloads_the_raw_package_and_it_is_audited(client, gb_admin, gb):
    from partners.models import AuditEvent

    run = sync_ingest(partner=gb, path=GRAND_BEND).run
    page = client.get(f"/p/gb/sync/runs/{run.pk}/").content.decode()
    assert f'href="/p/gb/sync/runs/{run.pk}/package/">download the package</a>' in page
    response = client.get(f"/p/gb/sync/runs/{run.pk}/package/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="gb-run-{run.pk}-{run.checksum[:12]}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("users.csv") == (GRAND_BEND / "users.csv").read_bytes()
    event = AuditEvent.objects.get(action="sync.package_downloaded")
    assert (event.actor, event.partner) == (gb_admin, gb)


def test_a_viewer_cannot_download_a_package(client, gb):
    run = sync_ingest(partner=gb, path=GRAND_BEND).run
    client.force_login(MembershipFactory(partner=gb, role=PartnerMembership.Role.VIEWER).user)
    assert "download the package" not in client.get(f"/p/gb/sync/runs/{run.pk}/").content.decode()
    assert client.get(f"/p/gb/sync/runs/{run.pk}/package/").status_code == 403


def test_the_run_page_says_when_problems_were_cut_to_the_first_thousand(client, gb_admin, gb):
    run = sync_ingest(partner=gb, path=GRAND_BEND).run
    problem = {"file": "users.csv", "line": 2, "column": 4, "field": "x", "value": "", "message": "m.", "level": "row"}
    SyncRun.objects.filter(pk=run.pk).update(problems=[problem] * 1000, problem_count=1234)
    text = client.get(f"/p/gb/sync/runs/{run.pk}/").content.decode()
    assert "Problems found: 1234 (the first 1000 are listed, package-level problems first)" in text


def test_staff_upload_a_package_for_any_partner_in_admin(admin_client_, gb, staff_user):
    changelist = admin_client_.get("/admin/syncs/syncrun/").content.decode()
    assert 'href="/admin/syncs/syncrun/upload/"' in changelist
    checked = admin_client_.post(
        "/admin/syncs/syncrun/upload/", {"partner": gb.pk, "package": _zip(), "check_only": "on"}
    )
    assert "Check only: this package would be applied" in checked.content.decode()
    assert SyncRun.objects.count() == 0
    response = admin_client_.post("/admin/syncs/syncrun/upload/", {"partner": gb.pk, "package": _zip()}, follow=True)
    run = SyncRun.objects.get()
    assert (run.partner, run.outcome, run.source, run.by) == (gb, "applied", "upload", staff_user)
    assert response.redirect_chain == [(f"/admin/syncs/syncrun/{run.pk}/change/", 302)]
    assert f'href="/p/gb/sync/runs/{run.pk}/package/">Download export.zip</a>' in response.content.decode()
    assert admin_client_.get(f"/p/gb/sync/runs/{run.pk}/package/").status_code == 200


def test_the_admin_upload_page_is_staff_only(client, gb_admin):
    response = client.get("/admin/syncs/syncrun/upload/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
