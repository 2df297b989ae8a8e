"""Recompute roster digests with the row digest (standard columns after sourcedId, status and
dateLastModified, in file order), so the first night after this change is not a false update."""

import hashlib

from django.db import migrations

# Frozen copy of syncs.oneroster.NAMES at the time of this migration, minus the first three columns.
COMPARED = {
    "orgs": ["name", "type", "identifier", "parentSourcedId"],
    "academicSessions": ["title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"],
    "courses": ["schoolYearSourcedId", "title", "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes"],
    "classes": [
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ],
    "users": [
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ],
    "enrollments": [
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ],
    "demographics": [
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ],
}


def recompute(apps, schema_editor):
    RosterRecord = apps.get_model("syncs", "RosterRecord")
    batch = []
    for record in RosterRecord.objects.only("id", "entity", "data").iterator(chunk_size=5000):
        text = "\x1f".join(record.data.get(column, "") for column in COMPARED.get(record.entity, []))
        record.digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        batch.append(record)
        if len(batch) == 5000:
            RosterRecord.objects.bulk_update(batch, ["digest"])
            batch = []
    RosterRecord.objects.bulk_update(batch, ["digest"])


class Migration(migrations.Migration):
    dependencies = [("syncs", "0006_run_problem_count_roster_version")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
