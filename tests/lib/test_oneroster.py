"""Reading and validating OneRoster 1.1 CSV packages (the Grand Bend sample and broken copies)."""

import csv
import shutil
import unicodedata
import zipfile
from pathlib import Path

import pytest

from lib.oneroster import Limits, PackageError, read_package
from tests.fixtures import GRAND_BEND, GRAND_BEND_COUNTS


@pytest.fixture
def package(tmp_path):
    """A writable copy of the Grand Bend sample; returns its folder."""
    folder = tmp_path / "grand-bend"
    shutil.copytree(GRAND_BEND, folder)
    (folder / "SOURCE.md").unlink()
    return folder


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _problems(snapshot):
    return [(p.file, p.line, p.column, p.message, p.level) for p in snapshot.problems]


def test_the_grand_bend_sample_reads_whole():
    snapshot = read_package(GRAND_BEND)
    assert not snapshot.rejected
    assert snapshot.problems == []
    assert {entity: len(rows) for entity, rows in snapshot.records.items()} == GRAND_BEND_COUNTS
    assert set(snapshot.modes.values()) == {"bulk"}
    teachers = [u for u in snapshot.records["users"].values() if u["role"] == "teacher"]
    assert len(teachers) == 2  # their rows carry one extra, empty field


def test_a_re_encoded_copy_reads_the_same(package, tmp_path):
    for path in package.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        text = unicodedata.normalize("NFD", text.replace("Mary", "Marý")).replace("\n", "\r\n")
        path.write_bytes("\ufeff".encode() + text.encode("utf-8"))
    original = tmp_path / "original"
    shutil.copytree(package, original)
    for path in original.glob("*.csv"):
        raw = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
        path.write_text(unicodedata.normalize("NFC", raw), encoding="utf-8")
    assert read_package(package).records == read_package(original).records
    assert read_package(package).records["users"]["604863"]["givenName"] == "Marý"


def test_a_zip_reads_like_the_folder(package, tmp_path):
    archive = tmp_path / "grand-bend.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in package.glob("*.csv"):
            out.write(path, f"export/{path.name}")
    assert read_package(archive).records == read_package(package).records


def test_windows_paths_and_any_extension_case_read_like_the_folder(package, tmp_path):
    """PowerShell's Compress-Archive stores ``export\\users.csv``; some tools write ``.CSV``: both
    read as the spec's files, with no notice (nothing is wrong with the data)."""
    archive = tmp_path / "windows.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in package.glob("*.csv"):
            out.write(path, f"export\\{path.stem}.CSV")
    snapshot = read_package(archive)
    assert snapshot.problems == []
    assert snapshot.records == read_package(package).records


@pytest.mark.parametrize("as_zip", [True, False], ids=["zip", "folder"])
def test_a_file_name_in_the_wrong_case_is_read_with_a_notice(package, tmp_path, as_zip):
    (package / "academicSessions.csv").rename(package / "academicsessions.csv")
    source = package
    if as_zip:
        source = tmp_path / "lower.zip"
        with zipfile.ZipFile(source, "w") as out:
            for path in package.glob("*.csv"):
                out.write(path, path.name)
    snapshot = read_package(source)
    assert _problems(snapshot) == [
        (
            "academicSessions.csv",
            0,
            0,
            "academicsessions.csv was read as academicSessions.csv; the OneRoster spelling is "
            "academicSessions.csv (name it so in the next export).",
            "notice",
        )
    ]
    assert not snapshot.rejected
    assert snapshot.records == read_package(GRAND_BEND).records


def test_one_file_in_two_spellings_is_refused(package, tmp_path):
    archive = tmp_path / "twice.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in package.glob("*.csv"):
            out.write(path, path.name)
        out.write(package / "users.csv", "USERS.csv")
    with pytest.raises(
        PackageError,
        match=r"^The zip holds users.csv as USERS.csv, users.csv: each file may be there once; send one export per "
        r"package.$",
    ):
        read_package(archive)


def test_rows_of_only_commas_are_blank_lines_with_one_notice_per_file(package):
    """Excel leaves ",,,,,," rows below the data when rows were cleared: blank lines, not rejected rows."""
    for name in ("users.csv", "orgs.csv"):
        text = (package / name).read_text(encoding="utf-8")
        end = "" if text.endswith("\n") else "\n"  # the sample's users.csv has no final line end
        (package / name).write_text(text + end + ",,,,,,,,,,,,,,,,,,,\n,,,,\n , ,\n", encoding="utf-8")
    snapshot = read_package(package)
    assert not snapshot.rejected
    assert snapshot.records == read_package(GRAND_BEND).records
    assert (snapshot.rows_read["users"], snapshot.rows_dropped["users"]) == (10, 0)
    assert _problems(snapshot) == [
        (
            "orgs.csv",
            4,
            0,
            "Rows holding only commas or spaces (3 lines, the first on line 4) were skipped as blank lines; a "
            "spreadsheet program leaves such rows where rows were cleared.",
            "notice",
        ),
        (
            "users.csv",
            12,
            0,
            "Rows holding only commas or spaces (3 lines, the first on line 12) were skipped as blank lines; a "
            "spreadsheet program leaves such rows where rows were cleared.",
            "notice",
        ),
    ]


def test_ids_stay_strings(package):
    _edit(package, "orgs.csv", "255901,,,Grand Bend ISD", "00123,,,Grand Bend ISD")
    _edit(package, "orgs.csv", "Grand Bend High School,school,,255901", "Grand Bend High School,school,,00123")
    _edit(package, "courses.csv", "09,255901,English", "09,00123,English")
    _edit(package, "courses.csv", "09,255901,Algebra", "09,00123,Algebra")
    snapshot = read_package(package)
    assert "00123" in snapshot.records["orgs"]
    assert snapshot.records["orgs"]["255901001"]["parentSourcedId"] == "00123"


def test_a_wrong_header_rejects_the_package(package):
    _edit(package, "users.csv", "givenName,familyName", "firstName,familyName")
    snapshot = read_package(package)
    assert snapshot.rejected
    assert _problems(snapshot) == [
        ("users.csv", 1, 9, "Column 9 of the header must be “givenName”, not “firstName”.", "package")
    ]


def _reorder(folder: Path, name: str, order: list[str]) -> None:
    """Rewrite ``name`` with its columns in ``order`` (names; the others follow in file order)."""
    path = folder / name
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    positions = [header.index(column) for column in order]
    positions += [index for index in range(len(header)) if index not in positions]
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out, lineterminator="\n").writerows(
            [[row[i] if i < len(row) else "" for i in positions] for row in rows]
        )


def test_columns_in_another_order_are_read_by_name_with_a_notice(package):
    _reorder(package, "users.csv", ["familyName", "givenName", "email", "sourcedId"])
    _reorder(package, "orgs.csv", ["sourcedId", "status", "dateLastModified", "name", "metadata.city", "type"])
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert snapshot.records == read_package(GRAND_BEND).records
        assert _problems(snapshot) == [
            (
                "orgs.csv",
                1,
                5,
                "The columns are not in the OneRoster order (column 5 is “metadata.city”, where the spec has "
                "“type”); they were read by name. Export them in the spec's order next time.",
                "notice",
            ),
            (
                "users.csv",
                1,
                1,
                "The columns are not in the OneRoster order (column 1 is “familyName”, where the spec has "
                "“sourcedId”); they were read by name. Export them in the spec's order next time.",
                "notice",
            ),
        ]


def test_a_bad_row_in_a_reordered_file_is_located_at_its_own_column(package):
    _reorder(package, "users.csv", ["familyName", "givenName", "email", "sourcedId"])
    _edit(package, "users.csv", "student,Mary Archer", "pupil,Mary Archer")
    snapshot = read_package(package)
    assert (
        "users.csv",
        2,
        9,
        "role must be one of administrator, aide, guardian, parent, proctor, relative, student, teacher.",
        "row",
    ) in _problems(snapshot)
    assert snapshot.dropped_ids["users"] == {"604863"}
    # A reference problem is located at the file's column too (orgSourcedIds is column 8 there).
    _edit(package, "users.csv", "pupil,Mary Archer", "student,Mary Archer")
    _edit(package, "users.csv", "604874,,,true,255901001,", "604874,,,true,NOPE,")
    assert ("users.csv", 3, 8, "orgSourcedIds NOPE does not match any orgs record.", "row") in _problems(
        read_package(package)
    )


def test_every_header_problem_of_every_file_is_reported_at_once(package):
    _edit(package, "users.csv", "sourcedId,status", "sourcedid,status")
    _edit(package, "users.csv", "givenName,familyName", "firstName,familyName")
    _edit(package, "users.csv", ",password", ",password,email")
    _edit(package, "orgs.csv", "name,type,identifier", "name,kind,identifier")
    _edit(package, "courses.csv", "title,courseCode", "title,notes,courseCode")
    snapshot = read_package(package)
    assert snapshot.rejected
    assert _problems(snapshot) == [
        ("orgs.csv", 1, 5, "Column 5 of the header must be “type”, not “kind”.", "package"),
        (
            "courses.csv",
            1,
            6,
            "Column 6 of the header, “notes”, is not a courses column; extension columns go to the right of the "
            "standard ones, named metadata.….",
            "package",
        ),
        (
            "users.csv",
            1,
            1,
            "Column 1 of the header is “sourcedid”; the OneRoster name is “sourcedId” (names are case-sensitive).",
            "package",
        ),
        ("users.csv", 1, 9, "Column 9 of the header must be “givenName”, not “firstName”.", "package"),
        (
            "users.csv",
            1,
            19,
            "“email” is in columns 13 and 19 of the header; each column may appear once.",
            "package",
        ),
    ]


@pytest.mark.parametrize(("separator", "what"), [(";", "semicolons (;)"), ("\t", "tabs")])
def test_a_file_separated_by_semicolons_or_tabs_is_named_so(package, separator, what):
    orgs = package / "orgs.csv"
    orgs.write_text(orgs.read_text(encoding="utf-8").replace(",", separator), encoding="utf-8")
    [problem] = read_package(package).problems
    assert (problem.file, problem.line, problem.column, problem.level) == ("orgs.csv", 1, 1, "package")
    assert problem.message == (
        f"orgs.csv is separated by {what}, not commas: OneRoster files are comma-separated. Export it again "
        "with commas between the fields (in Excel: Save As “CSV UTF-8 (Comma delimited)”)."
    )


def test_extension_columns_on_the_right_are_ignored():
    snapshot = read_package(GRAND_BEND)
    assert "metadata.city" not in snapshot.records["orgs"]["255901"]


def test_a_declared_file_that_is_missing_rejects_the_package(package):
    (package / "classes.csv").unlink()
    snapshot = read_package(package)
    assert _problems(snapshot) == [
        ("classes.csv", 0, 0, "The manifest declares classes.csv as bulk, but the package has no such file.", "package")
    ]


def test_a_zero_byte_file_rejects_the_package(package):
    (package / "demographics.csv").write_bytes(b"")
    assert _problems(read_package(package)) == [
        ("demographics.csv", 0, 0, "demographics.csv is empty (zero bytes).", "package")
    ]


def test_a_row_with_a_filled_extra_field_is_dropped(package):
    _edit(package, "users.csv", "(950) 336 6601,,09,", "(950) 336 6601,,09,,surprise")
    snapshot = read_package(package)
    assert not snapshot.rejected
    assert _problems(snapshot)[0] == ("users.csv", 2, 19, "The row has 19 fields but the header has 18.", "row")
    assert "604863" not in snapshot.records["users"]
    # Its enrollments and demographics no longer resolve, so they are dropped too, each reported.
    assert snapshot.rows_dropped == {
        "orgs": 0,
        "academicSessions": 0,
        "courses": 0,
        "classes": 0,
        "users": 1,
        "enrollments": 4,
        "demographics": 1,
    }
    assert len(snapshot.problems) == 6
    assert _problems(snapshot)[1] == (
        "enrollments.csv",
        2,
        6,
        "userSourcedId 604863 refers to a users row that was left out (see its problems in users.csv); fix that "
        "row first.",
        "row",
    )


def test_a_trailing_separator_is_read_when_every_typed_value_stands_in_its_column(package):
    """The Ed-Fi sample's teacher rows end with one comma too many; their email address, role and
    flag prove that nothing shifted, so they are read whole (on the fast path too)."""
    _edit(package, "users.csv", "(950) 336 6601,,09,", "(950) 336 6601,,09,,")
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert snapshot.problems == []
        assert snapshot.records["users"]["604863"]["email"] == "Mary.Archer@studentgps.org"
        assert snapshot.records["users"]["207270"]["email"] == "Kelley.Christian@studentgps.org"
        assert (snapshot.rows_read["users"], snapshot.rows_dropped["users"]) == (10, 0)


def test_what_a_trial_of_real_exports_found_about_extra_fields(package):
    """A comma in an extension column moves nothing the roster keeps; an org row with one comma
    too many reads whole; a bad flag on a row with a trailing comma is reported as a bad flag."""
    _edit(
        package,
        "orgs.csv",
        "255901001,,,Grand Bend High School,school,,255901,,,,,",
        "255901001,,,Grand Bend High School,school,,255901,,,Austin, TX,,",
    )
    _edit(package, "orgs.csv", "255901,,,Grand Bend ISD,district,,,,,,,", "255901,,,Grand Bend ISD,district,,,,,,,,")
    _edit(package, "users.csv", "207270,,,true,", "207270,,,Y,")
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert snapshot.records["orgs"] == read_package(GRAND_BEND).records["orgs"]
        assert [p for p in _problems(snapshot) if p[0] != "enrollments.csv"] == [
            ("users.csv", 10, 4, "enabledUser must be true or false.", "row")
        ]


@pytest.mark.parametrize(
    ("file", "old", "new", "line", "column", "field", "value", "message"),
    [
        (
            "users.csv",
            "(950) 336 6601,,09,",
            "(950) 336, 6601,,09,",
            2,
            15,
            "phone",
            "(950) 336, 6601",
            "The row has 19 fields but the header has 18, and agentSourcedIds starts with a space (“ 6601”): probably "
            "an unquoted comma in phone (“(950) 336, 6601”)? The row is left out; quote values that hold commas.",
        ),
        (
            "classes.csv",
            ",Algebra I,02052,2",
            ",Algebra I, Honors,02052,2",
            3,
            12,
            "subjects",
            "Algebra I, Honors",
            "The row has 15 fields but the header has 14: probably an unquoted comma in subjects (“Algebra I, "
            "Honors”)? The row is left out; quote values that hold commas.",
        ),
    ],
    ids=["phone", "filled-extra-field"],
)
def test_the_likely_comma_is_named_where_it_is(package, file, old, new, line, column, field, value, message):
    _edit(package, file, old, new)
    assert _the_problem_of(package, file)[0] == (line, column, field, value, message, "row")


def test_a_row_read_with_a_trailing_separator_must_resolve_its_optional_references(package):
    """The district row with one comma too many and a parent that matches nothing: the parent may
    be a value one column off, so the row is left out rather than kept with a warning."""
    _edit(
        package, "orgs.csv", "255901,,,Grand Bend ISD,district,,,,,,,", "255901,,,Grand Bend ISD,district,,NOPE,,,,,,"
    )
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert _problems(snapshot)[0] == (
            "orgs.csv",
            2,
            7,
            "parentSourcedId NOPE does not match any orgs record; the row has more fields than the header, so the "
            "value may stand one column off (an unquoted comma?): the row is left out.",
            "row",
        )
        assert snapshot.dropped_ids["orgs"] == {"255901"}


@pytest.mark.parametrize(
    ("file", "old", "new", "column", "field", "value", "message"),
    [
        (
            # An unquoted "Ortega, Jr.": every field after it moves one to the right, and the last
            # (an empty password) becomes an empty extra field.
            "users.csv",
            ",Mary,Archer,",
            ",Mary,Ortega, Jr.,",
            10,
            "familyName",
            "Ortega, Jr.",
            "The row has 19 fields but the header has 18, and sms holds “Mary.Archer@studentgps.org”, which is "
            "not a phone number: probably an unquoted comma in familyName (“Ortega, Jr.”)? The row is left out; "
            "quote values that hold commas.",
        ),
        (
            # The same with no space after the comma and an identifier: email holds the identifier.
            "users.csv",
            ",Mary,Archer,,,Mary.Archer@",
            ",Mary,Archer,Jr,,12345,Mary.Archer@",
            7,
            "username",
            "Mary Archer",
            "The row has 19 fields but the header has 18, and email holds “12345”, which is not an email "
            "address: probably an unquoted comma in one of username, userIds, givenName, familyName? The row "
            "is left out; quote values that hold commas.",
        ),
        (
            # Nothing typed after the comma: the row reads the same either way, so it is left out.
            "courses.csv",
            ",Algebra I,02052",
            ",Algebra I,Geometry,",
            9,
            "subjects",
            "Algebra I,Geometry",
            "The row has 11 fields but the header has 10; the extra one is empty, but a comma inside a value "
            "would give the same fields: probably an unquoted comma in subjects (“Algebra I,Geometry”)? The row "
            "is left out; quote values that hold commas.",
        ),
        (
            "demographics.csv",
            "604863,,,1997-05-30,female,false,true,false,false,false,false,true,,,,",
            "604863,,,1997-05-30,female,false,true,false,false,false,false,true,US,ID,Boise, Ada County,",
            15,
            "cityOfBirth",
            "Boise, Ada County",
            "The row has 17 fields but the header has 16, and publicSchoolResidenceStatus starts with a space "
            "(“ Ada County”): probably an unquoted comma in cityOfBirth (“Boise, Ada County”)? The row is left "
            "out; quote values that hold commas.",
        ),
        (
            "users.csv",
            "(950) 336 6601,,09,",
            "(950) 336 6601,,09,,,,",
            19,
            "",
            "",
            "The row has 21 fields but the header has 18: 3 more fields, all empty, are too many to tell trailing "
            "separators from commas inside values, so the row is left out; export it without the extra commas.",
        ),
    ],
    ids=["comma-space", "email-holds-identifier", "nothing-typed-after", "leading-space", "many-extra"],
)
def test_a_row_shifted_by_an_unquoted_comma_is_left_out_and_named(
    package, file, old, new, column, field, value, message
):
    _edit(package, file, old, new)
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert not snapshot.rejected
        [problem] = [p for p in snapshot.problems if p.file == file]
        assert (problem.line, problem.column, problem.field, problem.value, problem.message, problem.level) == (
            2 if file != "courses.csv" else 3,
            column,
            field,
            value,
            message,
            "row",
        )
        assert snapshot.rows_dropped[file.removesuffix(".csv")] == 1
        # The applied record is kept as it was: a row left out is not a deletion.
        sourced_id = "ENG-1" if file == "courses.csv" else "604863"
        assert snapshot.dropped_ids[file.removesuffix(".csv")] == {sourced_id}


@pytest.mark.parametrize(
    ("file", "old", "new", "line", "column", "message"),
    [
        ("users.csv", "604863,,,true,", "604863,,,yes,", 2, 4, "enabledUser must be true or false."),
        ("academicSessions.csv", "2020-08-17,2021-05-28", "2020-08-17,2021-02-30", 2, 7, "endDate is not a real date."),
        (
            "academicSessions.csv",
            "2020-08-17,2021-05-28",
            "2021-08-17,2021-05-28",
            2,
            7,
            "endDate (2021-05-28) is before startDate (2021-08-17).",
        ),
        (
            "orgs.csv",
            "Grand Bend ISD,district",
            "Grand Bend ISD,county",
            2,
            5,
            "type must be one of department, school, district, local, state, national.",
        ),
        ("users.csv", ",Mary,Archer,", ",,Archer,", 2, 9, "givenName is required."),
        (
            "classes.csv",
            "25590100102Trad220ALG112011,,,ALG-1",
            "25590100101Trad120ENG112011,,,ALG-1",
            3,
            1,
            "sourcedId 25590100101Trad120ENG112011 is already used on line 2.",
        ),
    ],
)
def test_a_bad_row_is_dropped_and_located(package, file, old, new, line, column, message):
    _edit(package, file, old, new)
    snapshot = read_package(package)
    assert not snapshot.rejected
    assert (file, line, column, message, "row") in _problems(snapshot)


def test_true_and_false_in_any_case(package):
    _edit(package, "users.csv", "604863,,,true,", "604863,,,TRUE,")
    assert read_package(package).records["users"]["604863"]["enabledUser"] == "true"


def test_a_carriage_return_inside_a_field_drops_the_row(package):
    _edit(package, "users.csv", ",Mary,Archer,", ',"Ma\rry",Archer,')
    assert (
        "users.csv",
        2,
        9,
        "The field contains a carriage return (CR) on its own; save the file with LF or CRLF line ends.",
        "row",
    ) in _problems(read_package(package))


def test_a_quoted_line_break_written_the_windows_way_reads_as_a_line_break(package):
    users = package / "users.csv"
    users.write_bytes(
        users.read_bytes()
        .replace(b",Mary,Archer,", b',"Mary\r\nAnn",Archer,')
        .replace(b"\n", b"\r\n")
        .replace(b"\r\r\n", b"\r\n")
    )
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert snapshot.problems == []
        assert snapshot.records["users"]["604863"]["givenName"] == "Mary\nAnn"


def test_an_unknown_reference_drops_the_row_unless_the_roster_has_it(package):
    _edit(package, "enrollments.csv", "25590100101Trad120ENG112011,255901001,604863", "NOPE,255901001,604863")
    snapshot = read_package(package)
    assert ("enrollments.csv", 2, 4, "classSourcedId NOPE does not match any classes record.", "row") in _problems(
        snapshot
    )
    assert len(snapshot.records["enrollments"]) == 23
    # A bulk classes file replaces the roster's classes, so only a class outside the package's bulk
    # files can come from the applied roster: here classes are absent from the package.
    assert len(read_package(package, existing={"classes": {"NOPE"}}).records["enrollments"]) == 23
    _edit(package, "manifest.csv", "file.classes,bulk", "file.classes,absent")
    applied = {"NOPE", "25590100101Trad120ENG112011", "25590100102Trad220ALG112011"}
    assert len(read_package(package, existing={"classes": applied}).records["enrollments"]) == 24


def test_the_applied_ids_can_come_from_a_function_called_once_after_parsing(package):
    """``existing`` as a function (how the pipeline lets the database gather the roster while the
    files are parsed): called once, and not at all for a package rejected while parsing."""
    _edit(package, "enrollments.csv", "25590100101Trad120ENG112011,255901001,604863", "NOPE,255901001,604863")
    _edit(package, "manifest.csv", "file.classes,bulk", "file.classes,absent")
    calls = []

    def applied():
        calls.append(1)
        return {"classes": {"NOPE", "25590100101Trad120ENG112011", "25590100102Trad220ALG112011"}}

    assert len(read_package(package, existing=applied).records["enrollments"]) == 24
    assert calls == [1]
    _edit(package, "manifest.csv", "file.users,bulk", "file.users,csv")
    assert read_package(package, existing=applied).rejected
    assert calls == [1]


def test_a_delta_file_needs_status_and_date(package):
    _edit(package, "manifest.csv", "file.users,bulk", "file.users,delta")
    snapshot = read_package(package)
    assert ("users.csv", 2, 2, "status is required in a delta file.", "row") in _problems(snapshot)


def test_too_many_files_is_refused_with_a_message(package):
    with pytest.raises(PackageError, match="The folder holds 8 CSV files; at most 5 are accepted."):
        read_package(package, limits=Limits(max_files=5))


def test_a_misspelt_manifest_entry_rejects_the_package(package):
    _edit(package, "manifest.csv", "file.users,bulk", "file.Users,bulk")
    assert (
        "manifest.csv",
        10,
        1,
        "file.Users is not a OneRoster 1.1 file property; did you mean file.users?",
        "package",
    ) in _problems(read_package(package))


def test_two_exports_in_one_zip_are_refused(package, tmp_path):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in package.glob("*.csv"):
            out.write(path, f"2026/{path.name}")
        out.write(package / "users.csv", "2025/users.csv")
    with pytest.raises(PackageError, match="The zip holds users.csv as 2025/users.csv, 2026/users.csv: each file"):
        read_package(archive)


def test_a_damaged_zip_is_a_package_error(package, tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in package.glob("*.csv"):
            out.write(path, path.name)
    data = bytearray(archive.read_bytes())
    data[60] ^= 0xFF  # inside the first member's compressed data
    archive.write_bytes(bytes(data))
    with pytest.raises(PackageError, match="bad.zip is damaged or cannot be unpacked"):
        read_package(archive)


def test_files_outside_the_standard_are_not_read(package):
    (package / "junk.csv").write_text("x" * 1000)
    assert read_package(package).problems == []


def test_a_package_over_the_uncompressed_limit_is_refused(package, tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in package.glob("*.csv"):
            out.write(path, path.name)
    with pytest.raises(PackageError, match=r"The zip unpacks to [\d,]+ bytes; at most 1,000 are accepted."):
        read_package(archive, limits=Limits(max_uncompressed=1000))


def _comparable(snapshot):
    return (
        {entity: [tuple(row) for row in rows] for entity, rows in snapshot.rows.items()},
        snapshot.problems,
        snapshot.rows_read,
        snapshot.rows_dropped,
        snapshot.dropped_ids,
        snapshot.modes,
        snapshot.deletions,
    )


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("users.csv", "604863,,,true,", "604863,,,TRUE,"),
        ("users.csv", "604863,,,true,", "604863,,, true ,"),
        ("users.csv", ",Mary,Archer,", ", Mary\u00a0,Archer,"),
        ("users.csv", ",Mary,Archer,", ',"Mary",Archer,'),
        ("users.csv", ",Mary,Archer,", ',"Archer, Mary",Archer,'),
        ("users.csv", ",Mary,Archer,", ',"Ma\nry",Archer,'),
        ("users.csv", ",Mary,Archer,", ',"Ma\rry",Archer,'),
        ("users.csv", ",Mary,Archer,", ",,Archer,"),
        ("users.csv", ",Mary,Archer,", ",  ,Archer,"),
        ("users.csv", "604863,,,true,", "\n604863,,,true,"),
        ("users.csv", "604863,,,true,", ",,,,,,,,,,,,,,,,,,,\n , ,\n604863,,,true,"),
        ("users.csv", "(950) 336 6601,,09,", "(950) 336 6601,,09,,surprise"),
        ("users.csv", "(950) 336 6601,,09,", "(950) 336 6601,,09"),
        ("users.csv", "(950) 336 6601,,09,", "(950) 336 6601,,09,,"),
        ("users.csv", ",Mary,Archer,", ",Mary,Ortega, Jr.,"),
        ("users.csv", ",Mary,Archer,", ",Mary,Archer,Jr,,12345,"),
        ("courses.csv", ",Algebra I,02052", ",Algebra I,Geometry,"),
        ("users.csv", ",Mary,Archer,", ',"Mary"Ann,Archer,'),
        ("users.csv", ",Mary,Archer,", ',""0,Archer,'),
        ("orgs.csv", "Grand Bend High School,school", '"Grand Bend\nHigh School, Main Campus",school'),
        ("users.csv", ",Mary,Archer,", ",Mary\nAnn,Archer,"),
        ("classes.csv", "(9th grade),01001,1", "(9th grade),01001,1\n2"),
        ("users.csv", "604863,,,true,", "604863,active,2026-07-30T02:00:00Z,true,"),
        ("users.csv", "604863,,,true,", "604863,,2026-13-30,true,"),
        ("users.csv", "604863,,,true,", "604863,,,true, 255901001 ,student,x,"),
        ("academicSessions.csv", "2020-08-17,2021-05-28", "2020-08-17,2021-02-30"),
        ("academicSessions.csv", "2020-08-17,2021-05-28", "2020-08-17,2024-02-29"),
        ("academicSessions.csv", "2020-08-17,2021-05-28", "2020-08-17,2023-02-29"),
        ("academicSessions.csv", "2020-08-17,2021-05-28", "2021-08-17,2021-05-28"),
        ("academicSessions.csv", "2020-08-17,2021-05-28", "2020-08-17,２０２１-05-28"),
        ("orgs.csv", "Grand Bend ISD,district", "Grand Bend ISD,county"),
        ("orgs.csv", "Grand Bend ISD,district", "Grand Bend ISD,District"),
        ("classes.csv", "25590100102Trad220ALG112011,,,ALG-1", "25590100101Trad120ENG112011,,,ALG-1"),
        ("enrollments.csv", "25590100101Trad120ENG112011,255901001,604863", "NOPE,255901001,604863"),
        ("manifest.csv", "file.users,bulk", "file.users,delta"),
        # Optional references that do not resolve (warnings), and references to a deleted record.
        ("orgs.csv", "school,,255901,", "school,,NOPE,"),
        ("users.csv", "(950) 336 6601,,09,", "(950) 336 6601,604874,09,"),
        ("users.csv", "(950) 336 6601,,09,", '(950) 336 6601," 604874 , NOPE",09,'),
        ("courses.csv", "03100500,,,255901001_2021_2020-2021_SchoolYear", "03100500,,,NOPE"),
        ("academicSessions.csv", "2020-12-18,,2021", "2020-12-18,NOPE,2021"),
        ("classes.csv", "25590100102Trad220ALG112011,,,", "25590100102Trad220ALG112011,tobedeleted,,"),
        ("users.csv", "604863,,,true,", "604863,tobedeleted,,true,"),
        ("orgs.csv", "255901,,,Grand Bend ISD", "255901,tobedeleted,,Grand Bend ISD"),
        # users.csv has no quotes: the plain split reads it. A field over the csv module's limit,
        # and LF and CRLF line ends mixed, send it to the csv module.
        ("users.csv", ",Mary,Archer,", ",Mary" + "y" * 140_000 + ",Archer,"),
        ("users.csv", ",Mary,Archer,", ",Mary,Archer,\r"),
    ],
)
def test_the_fast_path_and_the_row_by_row_path_agree(package, file, old, new):
    _edit(package, file, old, new)
    assert _comparable(read_package(package)) == _comparable(read_package(package, fast=False))


@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_a_file_without_quotes_reads_the_same_with_crlf_or_lf(package, line_end):
    users = package / "users.csv"
    before = [tuple(row) for row in read_package(package, fast=False).rows["users"]]
    users.write_bytes(users.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", line_end.encode()))
    assert b'"' not in users.read_bytes()
    fast, slow = read_package(package), read_package(package, fast=False)
    assert [tuple(row) for row in fast.rows["users"]] == before == [tuple(row) for row in slow.rows["users"]]
    assert len(before) == 10 and fast.problems == slow.problems == []


def test_a_clean_package_takes_the_fast_path(monkeypatch):
    """Every file of the sample is vouched for column by column (no row-by-row reading)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the row-by-row path was used")

    monkeypatch.setattr("lib.oneroster.reader._read_rows", refuse)
    assert sum(len(rows) for rows in read_package(GRAND_BEND).rows.values()) == 51


def test_an_unclosed_quote_rejects_the_file_instead_of_swallowing_rows(package):
    _edit(package, "users.csv", ",Mary,Archer,", ',"Mary,Archer,')
    snapshot = read_package(package)
    assert snapshot.rejected
    [problem] = [p for p in snapshot.problems if p.level == "package"]
    assert (problem.file, problem.line, problem.column) == ("users.csv", 2, 9)
    assert problem.message.startswith("A quoted field starting on line 2 runs over ")
    assert 'a quote (") is probably not closed' in problem.message


def test_a_value_with_a_line_break_written_with_quotes_reads_back(package):
    _edit(package, "orgs.csv", "Grand Bend High School,school", '"Grand Bend\nHigh School, Main Campus",school')
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert snapshot.problems == []
        assert snapshot.records["orgs"]["255901001"]["name"] == "Grand Bend\nHigh School, Main Campus"


def _the_problem_of(package, file):
    """The one problem about ``file``, the same on the fast and the row-by-row path, as
    ``(line, column, field, value, message, level)``; and the snapshot (row by row)."""
    found = []
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        [problem] = [p for p in snapshot.problems if p.file == file]
        found.append((problem.line, problem.column, problem.field, problem.value, problem.message, problem.level))
    assert found[0] == found[1]
    return found[0], snapshot


def test_a_quoted_value_that_goes_on_after_its_quote_drops_the_row(package):
    """``"Mary"Ann`` is not CSV: the csv module would read it as ``MaryAnn``; the row is left out."""
    _edit(package, "users.csv", ",Mary,Archer,", ',"Mary"Ann,Archer,')
    problem, snapshot = _the_problem_of(package, "users.csv")
    assert problem == (
        2,
        9,
        "givenName",
        "MaryAnn",
        'A quoted value in givenName goes on after its closing quote ("); a quoted value ends with its quote, '
        'then a comma or the line\'s end. The row is left out; write a quote inside a quoted value as two ("").',
        "row",
    )
    assert snapshot.dropped_ids["users"] == {"604863"}


def _problems_of(package, file):
    """The problems about ``file`` as ``(line, column, message, level)``, the same on the fast and
    the row-by-row path; and both snapshots."""
    snapshots = [read_package(package, fast=fast) for fast in (True, False)]
    found = [[(p.line, p.column, p.message, p.level) for p in s.problems if p.file == file] for s in snapshots]
    assert found[0] == found[1]
    return found[0], snapshots


def _pair(first: int, second: int, width: int = 18, at: int = 2) -> str:
    return (
        f"Lines {at} and {at + 1} hold {first} and {second} fields, which make one row of {width} put together: "
        "probably a line break inside a value that is not quoted. Both lines are left out; quote values that hold "
        "line breaks."
    )


def test_an_unquoted_line_break_in_the_last_value_takes_the_row_back(package):
    """Line 2 looks whole (its periods end early) and line 3 holds the rest: both are left out."""
    _edit(
        package,
        "classes.csv",
        "English/Language Arts I (9th grade),01001,1",
        "English/Language Arts I (9th grade),01001,1\n2",
    )
    found, snapshots = _problems_of(package, "classes.csv")
    assert found == [(2, 0, _pair(14, 1, 14), "row"), (3, 0, _pair(14, 1, 14), "row")]
    for snapshot in snapshots:
        assert (snapshot.rows_read["classes"], snapshot.rows_dropped["classes"]) == (3, 2)
        assert snapshot.dropped_ids["classes"] == {"25590100101Trad120ENG112011"}
        assert "25590100101Trad120ENG112011" not in snapshot.records["classes"]


def test_an_unquoted_line_break_inside_the_row_leaves_both_halves_out(package):
    _edit(package, "users.csv", ",Mary,Archer,", ",Mary\nAnn,Archer,")
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        found = [(p.line, p.message) for p in snapshot.problems if p.file == "users.csv"]
        assert found[0] == (
            2,
            "The row has 9 fields but a users row has 18: fields are missing (the row may be cut short).",
        )
        assert found[-1] == (3, _pair(9, 10))
        assert snapshot.rows_dropped["users"] == 2
        assert snapshot.dropped_ids["users"] == {"604863"}


@pytest.mark.parametrize("line_end", ["\n", "\r"])
def test_an_unquoted_line_break_below_a_good_row_leaves_out_only_its_two_halves(package, line_end):
    """``Kyle<LF>Hughes`` (or a CR alone) on line 3: lines 3 and 4 are the two halves. Mary's row
    on line 2 above stays, and Kyle (604874) is kept back, never taken as a deletion (a trial once
    paired line 3 with line 2, dropped Mary and deleted Kyle with his enrollments)."""
    _edit(package, "users.csv", ",Kyle Hughes,", f",Kyle{line_end}Hughes,")
    found, snapshots = _problems_of(package, "users.csv")
    assert found == [(3, 0, _pair(7, 12, at=3), "row"), (4, 0, _pair(7, 12, at=3), "row")]
    for snapshot in snapshots:
        assert (snapshot.rows_read["users"], snapshot.rows_dropped["users"]) == (11, 2)
        assert snapshot.dropped_ids["users"] == {"604874"}
        assert "604863" in snapshot.records["users"] and "604874" not in snapshot.records["users"]


def test_a_short_line_below_a_good_row_that_makes_no_row_is_left_out_alone(package):
    """A row cut short (7 fields, the next line a whole row): only that line is left out, its
    sourcedId kept back from deletion; the rows around it stay."""
    _edit(
        package,
        "users.csv",
        ",Kyle Hughes,{Local:874},Kyle,Hughes,,,Kyle.Hughes@studentgps.org,,(950) 413 3235,,09,",
        ",Kyle",
    )
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        found = [(p.line, p.message) for p in snapshot.problems if p.file == "users.csv"]
        assert found == [
            (
                3,
                "Line 3 holds 7 fields, fewer than a users row's 18: probably a line break inside a value that is "
                "not quoted (the rest of the row on the next line), or a row cut short. The line is left out; "
                "quote values that hold line breaks.",
            )
        ]
        assert snapshot.dropped_ids["users"] == {"604874"}
        assert len(snapshot.records["users"]) == 9


def test_a_quote_inside_a_value_that_is_not_quoted_drops_the_row(package):
    """``Robert "Bob"`` unquoted: its quotes could pair with the next value's, so that pieces of the
    two trade places unseen (a property test found ``"`` then ``",0"``). RFC 4180 §2.5 refuses it."""
    _edit(package, "users.csv", ",Mary,Archer,", ',Mary "Mo",Archer,')
    assert _the_problem_of(package, "users.csv")[0] == (
        2,
        9,
        "givenName",
        'Mary "Mo"',
        'givenName holds a quote (") but is not in quotes; a value with a quote must be quoted and its quotes '
        'doubled ("Robert ""Bob"""). The row is left out.',
        "row",
    )


def test_a_quote_left_open_until_a_later_quoted_field_rejects_the_file(package):
    """The open quote of line 2 closes at the opening quote of line 3's givenName: line 3 would be
    swallowed into line 2's givenName and its user taken as deleted. Read strictly, the quote that
    closed it is followed by a letter, not a comma: the file is rejected."""
    _edit(package, "users.csv", ",Mary,Archer,", ',"Mary,Archer,')
    _edit(package, "users.csv", ",Kyle,Hughes,", ',"Kyle",Hughes,')
    snapshot = read_package(package)
    assert _package_problems(snapshot) == [
        (
            "users.csv",
            2,
            'A quoted field starting on line 2 runs over 2 lines: a quote (") is probably not closed. The file is '
            "rejected, so the rows it would swallow are not taken as deletions.",
        )
    ]
    assert _comparable(snapshot) == _comparable(read_package(package, fast=False))


def test_a_field_over_the_csv_limit_is_a_located_problem_not_a_crash(package):
    _edit(package, "users.csv", ",Mary,Archer,", ",Mary" + "x" * 140_000 + ",Archer,")
    snapshot = read_package(package)
    assert snapshot.rejected
    assert [(p.file, p.line) for p in snapshot.problems if p.level == "package"] == [("users.csv", 2)]
    assert snapshot.problems[0].message == (
        "A value here is longer than 131,072 characters, the most one field may hold; the file is rejected (is a "
        "quote left open?)."
    )


def test_a_nul_character_drops_the_row(package):
    _edit(package, "users.csv", ",Mary,Archer,", ",Ma\x00ry,Archer,")
    snapshot = read_package(package)
    assert ("users.csv", 2, 9, "The field contains a NUL character.", "row") in _problems(snapshot)


def test_a_non_utf8_byte_is_located(package):
    path = package / "users.csv"
    path.write_bytes(path.read_bytes().replace(b",Mary,Archer,", b",M\xe1ry,Archer,", 1))
    [problem] = read_package(package).problems
    assert (problem.line, problem.column, problem.value) == (2, 9, "0xE1")
    assert problem.message == (
        "The file is not UTF-8: byte 0xE1 on line 2 cannot be read; the file looks like Windows-1252 (or "
        "Latin-1), where it is “á”. Save or export it as UTF-8."
    )
    # 0x81 means nothing in Windows-1252: the file is only said not to be UTF-8.
    path.write_bytes(path.read_bytes().replace(b"\xe1", b"\x81", 1))
    [problem] = read_package(package).problems
    assert problem.message == "The file is not UTF-8: byte 0x81 on line 2 cannot be read. Save or export it as UTF-8."


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("utf-16", "The file is UTF-16 (it starts with a UTF-16 byte-order mark). Save or export it as UTF-8."),
        ("utf-16-le", "The file looks like UTF-16 (every other byte is zero). Save or export it as UTF-8."),
        ("utf-32", "The file is UTF-32 (it starts with a UTF-32 byte-order mark). Save or export it as UTF-8."),
    ],
)
def test_a_utf16_file_is_named_so(package, encoding, message):
    path = package / "courses.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    [problem] = read_package(package).problems
    assert (problem.file, problem.line, problem.column, problem.message, problem.level) == (
        "courses.csv",
        1,
        1,
        message,
        "package",
    )


def test_manifest_mistakes_are_refused(package):
    manifest = package / "manifest.csv"
    original = manifest.read_text()
    manifest.write_text(original + "file.users,absent\n")
    assert "file.users is listed more than once; keep one line per file." in [
        p.message for p in read_package(package).problems
    ]
    manifest.write_text(original.replace("file.users,bulk", "files.users,bulk"))
    assert "files.users is not a OneRoster 1.1 property; did you mean file.users?" in [
        p.message for p in read_package(package).problems
    ]
    manifest.write_bytes(b"")
    assert [p.message for p in read_package(package).problems] == ["manifest.csv is empty (zero bytes)."]
    manifest.write_text(original.replace("oneroster.version,1.1", "oneroster.version,1.2"))
    [problem] = read_package(package).problems
    assert (problem.line, problem.column) == (3, 2)


def _package_problems(snapshot):
    return [(p.file, p.line, p.message) for p in snapshot.problems if p.level == "package"]


@pytest.mark.parametrize(
    ("header_end", "message"),
    [
        (
            ',"metadata.state\n',
            'The header line has a quote (") that is not closed.',
        ),
        (
            "," + "x" * 131_073 + "\n",
            "The header line cannot be read as CSV: field larger than field limit (131072).",
        ),
    ],
)
def test_an_unreadable_header_rejects_the_file_on_both_paths(package, header_end, message):
    orgs = package / "orgs.csv"
    header, rest = orgs.read_text(encoding="utf-8").split("\n", 1)
    orgs.write_text(header + header_end + rest, encoding="utf-8")
    for fast in (True, False):
        assert _package_problems(read_package(package, fast=fast)) == [("orgs.csv", 1, message)]


def test_old_mac_line_ends_read_the_same_rows(package):
    users = package / "users.csv"
    before = [tuple(row) for row in read_package(package).rows["users"]]
    users.write_bytes(users.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        assert [tuple(row) for row in snapshot.rows["users"]] == before and snapshot.problems == []


@pytest.mark.parametrize("final_newline", [True, False])
def test_a_quote_left_open_at_the_end_of_the_file_rejects_it_on_both_paths(package, final_newline):
    users = package / "users.csv"
    text = users.read_text(encoding="utf-8").rstrip("\n")
    last = text.count("\n") + 1
    users.write_text(text.replace(",Sara.Preston@", ',"Sara.Preston@') + ("\n" if final_newline else ""), "utf-8")
    fast, slow = read_package(package), read_package(package, fast=False)
    assert _comparable(fast) == _comparable(slow)
    [(file, line, message)] = _package_problems(fast)
    assert (file, line) == ("users.csv", last)
    assert 'a quote (") is' in message


def test_a_row_cut_short_is_left_out_and_its_record_kept(package):
    _edit(package, "users.csv", "(950) 336 6601,,09,", "(950)")
    for fast in (True, False):
        snapshot = read_package(package, fast=fast)
        [problem] = [p for p in snapshot.problems if p.file == "users.csv"]  # (its enrollments follow it)
        assert (problem.file, problem.line, problem.column, problem.level) == ("users.csv", 2, 16, "row")
        assert problem.message == (
            "The row has 15 fields but a users row has 18: fields are missing (the row may be cut short)."
        )
        assert snapshot.dropped_ids["users"] == {"604863"}
        assert "604863" not in {row[0] for row in snapshot.rows["users"]}


def test_a_quote_left_open_on_the_last_line_rejects_the_file_on_both_paths(package):
    orgs = package / "orgs.csv"
    text = orgs.read_text(encoding="utf-8")
    assert text.endswith("\n")
    last_start = text.rstrip("\n").rfind("\n") + 1
    orgs.write_text(text[:last_start] + text[last_start:].replace(",", ',"', 3).replace(',"', ",", 2), encoding="utf-8")
    fast, slow = read_package(package), read_package(package, fast=False)
    assert _comparable(fast) == _comparable(slow)
    [(file, line, message)] = _package_problems(fast)
    assert (file, line) == ("orgs.csv", text.count("\n"))
    assert message.startswith('A quoted field starting on line 3 runs to the end of the file: a quote (") is probably')


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_field_at_the_csv_limit_with_its_quote_open_reads_the_same_on_both_paths(package, line_end):
    orgs = package / "orgs.csv"
    text = orgs.read_text(encoding="utf-8").rstrip("\n") + ',"' + "Z" * (131_072 - len(line_end) + 1) + "\n"
    orgs.write_bytes(text.replace("\n", line_end).encode())
    assert _comparable(read_package(package)) == _comparable(read_package(package, fast=False))
    assert read_package(package).rejected


def test_an_unreadable_manifest_is_a_problem_not_a_crash(package):
    manifest = package / "manifest.csv"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "source.note," + "n" * 131_073 + "\n", encoding="utf-8")
    assert _package_problems(read_package(package)) == [
        ("manifest.csv", 0, "manifest.csv cannot be read as CSV: field larger than field limit (131072).")
    ]


def test_a_quote_left_open_in_the_manifest_is_named(package):
    _edit(package, "manifest.csv", "file.users,bulk", 'file.users,"bulk')
    [problem] = read_package(package).problems
    assert (problem.file, problem.line, problem.column, problem.level) == ("manifest.csv", 10, 2, "package")
    assert problem.message == 'manifest.csv has a quote (") that is not closed.'


def test_an_optional_reference_that_does_not_resolve_is_a_warning_and_the_row_is_kept(package):
    """Wrong state 3 of #14: an org whose optional parent lies outside the package was dropped,
    and every user and enrollment under it with it."""
    _edit(package, "orgs.csv", "school,,255901,", "school,,NOPE,")
    _edit(package, "users.csv", "(950) 336 6601,,09,", '(950) 336 6601,"604874, NOPE",09,')
    _edit(package, "courses.csv", "03100500,,,255901001_2021_2020-2021_SchoolYear", "03100500,,,GONE")
    _edit(package, "academicSessions.csv", "2020-12-18,,2021", "2020-12-18,NONE,2021")
    snapshot = read_package(package)
    assert _problems(snapshot) == [
        (
            "orgs.csv",
            3,
            7,
            "parentSourcedId NOPE does not match any orgs record; the row is kept and the reference left as given.",
            "warning",
        ),
        (
            "academicSessions.csv",
            3,
            8,
            "parentSourcedId NONE does not match any academicSessions record; the row is kept and the reference left "
            "as given.",
            "warning",
        ),
        (
            "courses.csv",
            2,
            4,
            "schoolYearSourcedId GONE does not match any academicSessions record; the row is kept and the reference "
            "left as given.",
            "warning",
        ),
        (
            "users.csv",
            2,
            16,
            "agentSourcedIds NOPE does not match any users record; the row is kept and the reference left as given.",
            "warning",
        ),
    ]
    assert {entity: len(rows) for entity, rows in snapshot.records.items()} == GRAND_BEND_COUNTS
    assert snapshot.rows_dropped == dict.fromkeys(snapshot.rows_dropped, 0)
    assert snapshot.records["orgs"]["255901001"]["parentSourcedId"] == "NOPE"
    assert snapshot.records["users"]["604863"]["agentSourcedIds"] == "604874, NOPE"


def test_a_required_reference_to_a_row_marked_tobedeleted_drops_the_row_and_names_the_deletion(package):
    _edit(package, "classes.csv", "25590100102Trad220ALG112011,,,", "25590100102Trad220ALG112011,tobedeleted,,")
    snapshot = read_package(package)
    assert snapshot.deletions["classes"] == {"25590100102Trad220ALG112011": 3}
    dropped = [p for p in snapshot.problems if p.file == "enrollments.csv"]
    assert (len(dropped), snapshot.rows_dropped["enrollments"], len(snapshot.rows["enrollments"])) == (12, 12, 12)
    assert (dropped[0].line, dropped[0].column, dropped[0].field, dropped[0].message, dropped[0].level) == (
        3,
        4,
        "classSourcedId",
        "classSourcedId 25590100102Trad220ALG112011 refers to a classes record this package deletes (classes.csv "
        "line 3 marks it tobedeleted).",
        "row",
    )
    assert "8622A96A-9287-4BAA-BD1F-3DB11A74524E" in snapshot.dropped_ids["enrollments"]


def test_a_reference_to_a_record_missing_from_its_bulk_file_names_the_deletion(package):
    classes = package / "classes.csv"
    classes.write_text("\n".join(line for line in classes.read_text().splitlines() if "ALG-1,09,0310" not in line))
    applied = {"classes": {"25590100101Trad120ENG112011", "25590100102Trad220ALG112011"}}
    problem = next(p for p in read_package(package, existing=applied).problems if p.file == "enrollments.csv")
    assert (problem.line, problem.column, problem.message) == (
        3,
        4,
        "classSourcedId 25590100102Trad220ALG112011 refers to a classes record this package deletes (it is applied "
        "but missing from the bulk classes.csv).",
    )


def test_an_active_row_of_a_deleted_user_is_dropped_and_a_row_marked_tobedeleted_never_is(package):
    for name in ("users", "enrollments", "demographics"):
        _edit(package, "manifest.csv", f"file.{name},bulk", f"file.{name},delta")
    deleted = "tobedeleted,2026-08-20T02:00:00Z"
    for name, old in (("users", "604863,,,true,"), ("demographics", "604863,,,1997")):
        text = (package / f"{name}.csv").read_text()
        header, row = text.splitlines()[0], next(line for line in text.splitlines() if line.startswith(old))
        (package / f"{name}.csv").write_text(f"{header}\n{row.replace(',,,', f',{deleted},', 1)}\n")
    # A delta enrollment still active in the user's class, and one deleted with the user.
    lines = (package / "enrollments.csv").read_text().splitlines()
    active, gone = lines[1].split(","), lines[2].split(",")
    active[1:3], gone[1:3] = ["active", "2026-08-20T02:00:00Z"], deleted.split(",")
    (package / "enrollments.csv").write_text("\n".join([lines[0], ",".join(active), ",".join(gone)]) + "\n")
    snapshot = read_package(package, existing={"users": {"604863"}, "enrollments": set()})
    assert _problems(snapshot) == [
        (
            "enrollments.csv",
            2,
            6,
            "userSourcedId 604863 refers to a users record this package deletes (users.csv line 2 marks it "
            "tobedeleted).",
            "row",
        )
    ]
    assert [tuple(row[:2]) for row in snapshot.rows["enrollments"]] == [
        ("8622A96A-9287-4BAA-BD1F-3DB11A74524E", "tobedeleted")
    ]
    assert [tuple(row[:2]) for row in snapshot.rows["demographics"]] == [("604863", "tobedeleted")]
