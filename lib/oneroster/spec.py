"""The OneRoster 1.1 CSV tables: the files, their standard columns in order, and each column's
requiredness and type (IMS OneRoster v1.1 CSV binding §3)."""

ENTITIES = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics")


MODES = ("bulk", "delta", "absent")


STATUSES = ("active", "tobedeleted")


# (column, required, kind). kinds: str, id, ids (comma list), bool, date, datetime, year, enum:<a|b>,
# ref:<entity>, refs:<entity> (comma list of references).
_COMMON = [
    ("sourcedId", True, "id"),
    ("status", False, "enum:active|tobedeleted"),
    ("dateLastModified", False, "datetime"),
]


COLUMNS: dict[str, list[tuple[str, bool, str]]] = {
    "orgs": _COMMON
    + [
        ("name", True, "str"),
        ("type", True, "enum:department|school|district|local|state|national"),
        ("identifier", False, "str"),
        ("parentSourcedId", False, "ref:orgs"),
    ],
    "academicSessions": _COMMON
    + [
        ("title", True, "str"),
        ("type", True, "enum:gradingPeriod|semester|schoolYear|term"),
        ("startDate", True, "date"),
        ("endDate", True, "date"),
        ("parentSourcedId", False, "ref:academicSessions"),
        ("schoolYear", True, "year"),
    ],
    "courses": _COMMON
    + [
        ("schoolYearSourcedId", False, "ref:academicSessions"),
        ("title", True, "str"),
        ("courseCode", False, "str"),
        ("grades", False, "str"),
        ("orgSourcedId", True, "ref:orgs"),
        ("subjects", False, "str"),
        ("subjectCodes", False, "str"),
    ],
    "classes": _COMMON
    + [
        ("title", True, "str"),
        ("grades", False, "str"),
        ("courseSourcedId", True, "ref:courses"),
        ("classCode", False, "str"),
        ("classType", True, "enum:homeroom|scheduled"),
        ("location", False, "str"),
        ("schoolSourcedId", True, "ref:orgs"),
        ("termSourcedIds", True, "refs:academicSessions"),
        ("subjects", False, "str"),
        ("subjectCodes", False, "str"),
        ("periods", False, "str"),
    ],
    "users": _COMMON
    + [
        ("enabledUser", True, "bool"),
        ("orgSourcedIds", True, "refs:orgs"),
        ("role", True, "enum:administrator|aide|guardian|parent|proctor|relative|student|teacher"),
        ("username", True, "str"),
        ("userIds", False, "str"),
        ("givenName", True, "str"),
        ("familyName", True, "str"),
        ("middleName", False, "str"),
        ("identifier", False, "str"),
        ("email", False, "str"),
        ("sms", False, "str"),
        ("phone", False, "str"),
        ("agentSourcedIds", False, "refs:users"),
        ("grades", False, "str"),
        ("password", False, "str"),
    ],
    "enrollments": _COMMON
    + [
        ("classSourcedId", True, "ref:classes"),
        ("schoolSourcedId", True, "ref:orgs"),
        ("userSourcedId", True, "ref:users"),
        ("role", True, "enum:administrator|proctor|student|teacher"),
        ("primary", False, "bool"),
        ("beginDate", False, "date"),
        ("endDate", False, "date"),
    ],
    "demographics": _COMMON
    + [
        ("birthDate", False, "date"),
        ("sex", False, "enum:male|female"),
        ("americanIndianOrAlaskaNative", False, "bool"),
        ("asian", False, "bool"),
        ("blackOrAfricanAmerican", False, "bool"),
        ("nativeHawaiianOrOtherPacificIslander", False, "bool"),
        ("white", False, "bool"),
        ("demographicRaceTwoOrMoreRaces", False, "bool"),
        ("hispanicOrLatinoEthnicity", False, "bool"),
        ("countryOfBirthCode", False, "str"),
        ("stateOfBirthAbbreviation", False, "str"),
        ("cityOfBirth", False, "str"),
        ("publicSchoolResidenceStatus", False, "str"),
    ],
}


# The standard column names of each entity, in file order: a row is a tuple in this order.
NAMES: dict[str, tuple[str, ...]] = {entity: tuple(c for c, _, _ in columns) for entity, columns in COLUMNS.items()}


# The columns OneRoster 1.1 types as lists (CSV binding §3: several values in one field, separated
# by commas, e.g. a class's ``termSourcedIds`` or a user's ``grades``): compared as lists, so an
# SIS that exports them in another order or spacing each night changes nothing.
LIST_COLUMNS = frozenset(
    {"orgSourcedIds", "termSourcedIds", "agentSourcedIds", "grades", "subjects", "subjectCodes", "periods"}
)


def canonical_list(value: str) -> str:
    """A list value as it is compared: its items split on commas, stripped, empty ones left out,
    sorted, joined by commas (``"b, a,"`` → ``"a,b"``; duplicates are kept). Only values with a
    comma are rewritten: the reader strips every value, so one without a comma is its own form.
    What a record stores keeps the file's value."""
    return ",".join(sorted(filter(None, map(str.strip, value.split(",")))))
