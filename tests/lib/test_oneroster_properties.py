"""Properties of the reader (Hypothesis): a valid package whose text values hold commas, quotes,
line breaks and non-ASCII text, written with correct quoting, reads back to exactly its values;
and with one such value's quotes removed, no row is ever read with shifted values.

The package has the shape of a real district's (every file, references between them, emails and
phone numbers where real exports have them); every free-text column gets generated text. A user's
``password`` stays empty: the portal never stores it (``roster_diff.record_data``).
"""

import csv
import io
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.oneroster import ENTITIES, NAMES, read_package

# Characters that need quoting or test the decoder, weighted up, and any other printable text.
_SPECIAL = st.sampled_from([",", '"', "\n", " ", "é", "中", "ß", "😀", "\u00a0", "'", ";"])
_ANY = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
_TEXT = (
    st.text(st.one_of(_SPECIAL, _ANY), min_size=1, max_size=12)
    .map(lambda value: unicodedata.normalize("NFC", value))
    .filter(lambda value: value == value.strip() and value != "")
)
_OPTIONAL_TEXT = st.one_of(st.just(""), _TEXT)


@st.composite
def packages(draw):
    """``{entity: [row, …]}`` of a small valid package, rows as lists in ``NAMES`` order."""
    users = draw(st.integers(1, 4))
    classes = draw(st.integers(1, 2))
    rows = {
        "orgs": [
            ["d1", "", "", draw(_TEXT), "district", draw(_OPTIONAL_TEXT), ""],
            ["s1", "", "", draw(_TEXT), "school", draw(_OPTIONAL_TEXT), "d1"],
        ],
        "academicSessions": [["y1", "", "", draw(_TEXT), "schoolYear", "2026-08-17", "2027-05-28", "", "2027"]],
        "courses": [["c1", "", "", "y1", draw(_TEXT), draw(_OPTIONAL_TEXT), "09", "d1", draw(_OPTIONAL_TEXT), "01001"]],
        "classes": [
            [
                f"k{k}",
                "",
                "",
                draw(_TEXT),
                "09",
                "c1",
                draw(_OPTIONAL_TEXT),
                "scheduled",
                draw(_OPTIONAL_TEXT),
                "s1",
                "y1",
                draw(_OPTIONAL_TEXT),
                "",
                draw(_OPTIONAL_TEXT),
            ]
            for k in range(classes)
        ],
        "users": [
            [
                f"u{u}",
                "",
                "",
                "true",
                "s1",
                draw(st.sampled_from(["student", "teacher"])),
                draw(_TEXT),
                draw(_OPTIONAL_TEXT),
                draw(_TEXT),
                draw(_TEXT),
                draw(_OPTIONAL_TEXT),
                draw(_OPTIONAL_TEXT),
                f"user{u}@example.org",
                "",
                "(950) 555 0100",
                "",
                "09",
                "",
            ]
            for u in range(users)
        ],
        "enrollments": [
            [f"e{u}", "", "", f"k{u % classes}", "s1", f"u{u}", "student", "", "2026-08-17", "2027-05-28"]
            for u in range(users)
        ],
        "demographics": [
            [f"u{u}", "", "", "2012-05-01", "female", *(["false"] * 7), "US", "ID", draw(_OPTIONAL_TEXT), ""]
            for u in range(users)
        ],
    }
    return rows


def _line(values, bare: int | None = None) -> str:
    """One CSV line of ``values`` quoted as the csv module quotes them; the value at ``bare`` is
    written as it is, its quotes removed."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    if bare is None:
        return buffer.getvalue()
    fields = []
    for index, value in enumerate(values):
        one = io.StringIO()
        csv.writer(one, lineterminator="").writerow([value])
        fields.append(value if index == bare else one.getvalue())
    return ",".join(fields) + "\n"


def _write(folder: Path, rows, bare: tuple[str, int, int] | None = None) -> None:
    folder.mkdir()
    for entity in ENTITIES:
        text = _line(NAMES[entity])
        for number, row in enumerate(rows[entity]):
            where = bare[2] if bare and bare[:2] == (entity, number) else None
            text += _line(row, where)
        (folder / f"{entity}.csv").write_text(text, encoding="utf-8", newline="")
    manifest = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n"
    manifest += "".join(f"file.{entity},bulk\n" for entity in ENTITIES)
    (folder / "manifest.csv").write_text(manifest, encoding="utf-8")


def _records(rows):
    return {entity: {row[0]: dict(zip(NAMES[entity], row, strict=True)) for row in rows[entity]} for entity in rows}


_SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_SETTINGS
@given(rows=packages())
def test_any_text_written_with_correct_quoting_reads_back_exactly(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("package") / "p"
    _write(folder, rows)
    for fast in (True, False):
        snapshot = read_package(folder, fast=fast)
        assert snapshot.problems == []
        assert snapshot.records == _records(rows)


def _needs_quotes(value: str) -> bool:
    return any(c in value for c in ',"\n')


@st.composite
def packages_with_a_bare_value(draw):
    """A package and ``(entity, row number, column index)`` of one value that needs quotes."""
    rows = draw(packages().filter(lambda rows: any(_needs_quotes(v) for e in rows for r in rows[e] for v in r)))
    places = [
        (entity, number, index)
        for entity in ENTITIES
        for number, row in enumerate(rows[entity])
        for index, value in enumerate(row)
        if _needs_quotes(value)
    ]
    return rows, draw(st.sampled_from(places))


@_SETTINGS
@given(case=packages_with_a_bare_value())
def test_a_value_with_its_quotes_removed_never_shifts_a_row(tmp_path_factory, case):
    """Whatever the reader makes of the broken line (left out, the file rejected, or read whole when
    the value reads the same), every row it keeps holds the values it was
    written with in every other column: none stands in another column, and no piece of a value
    becomes a row. (The bare value itself may read otherwise: ``""`` bare is an empty field.)"""
    rows, bare = case
    folder = tmp_path_factory.mktemp("package") / "p"
    _write(folder, rows, bare)
    written = _records(rows)
    entity_of_bare, number, index = bare
    bare_id, bare_column = rows[entity_of_bare][number][0], NAMES[entity_of_bare][index]
    for fast in (True, False):
        snapshot = read_package(folder, fast=fast)
        if snapshot.rejected:
            continue
        for entity, records in snapshot.records.items():
            for sourced_id, record in records.items():
                expected = dict(written[entity].get(sourced_id) or {})
                if (entity, sourced_id) == (entity_of_bare, bare_id):
                    expected[bare_column] = record[bare_column]
                assert record == expected, (entity, sourced_id)
