"""The fast path splits a file a block of lines at a time: the rows and problems are the same
whatever the block size, and the same as the row-by-row path's."""

import shutil
import zlib

import pytest

from lib.oneroster import LineRows, read_package
from lib.roster_diff import row_digests
from tests.fixtures import GRAND_BEND
from tests.lib.test_oneroster import _comparable


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("final_line_end", [True, False])
@pytest.mark.parametrize("blank_line", [False, True])
def test_it_reads_the_same_rows_whatever_the_block_size(tmp_path, monkeypatch, line_end, final_line_end, blank_line):
    package = tmp_path / "grand-bend"
    shutil.copytree(GRAND_BEND, package)
    (package / "SOURCE.md").unlink()
    for path in package.glob("*.csv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        if blank_line and path.name == "users.csv":
            lines.insert(3, "")
        path.write_bytes((line_end.join(lines) + (line_end if final_line_end else "")).encode())
    whole = _comparable(read_package(package))
    for block in (1, 2, 7, 100):
        monkeypatch.setattr("lib.oneroster.fast._BLOCK", block)
        assert _comparable(read_package(package)) == whole, block
    assert whole == _comparable(read_package(package, fast=False))
    assert sum(map(len, whole[0].values())) == 51


def _grown(tmp_path, copies=200):
    """The Grand Bend sample with ``copies`` more enrollments of its first one (sourcedIds ``e0``
    …, lines 26 on), written with LF line ends."""
    package = tmp_path / "grown"
    shutil.copytree(GRAND_BEND, package)
    (package / "SOURCE.md").unlink()
    path = package / "enrollments.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    lines += [",".join([f"e{i}", *first[1:]]) for i in range(copies)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return package


def test_files_without_quotes_are_kept_as_lines_and_read_like_the_row_by_row_path(tmp_path):
    package = _grown(tmp_path)
    fast = read_package(package)
    # Not classes.csv (quotes), orgs.csv (extension columns) nor users.csv (rows with trailing
    # separators): those are read the general way.
    assert {entity for entity, rows in fast.rows.items() if isinstance(rows, LineRows)} == {
        "academicSessions",
        "courses",
        "demographics",
        "enrollments",
    }
    enrollments = fast.rows["enrollments"]
    assert len(enrollments) == 224
    assert enrollments[-1] == ["e199", *enrollments[0][1:]]
    assert isinstance(enrollments, LineRows) and enrollments.firsts == [row[0] for row in enrollments]
    assert enrollments[1:3] == [list(row) for row in read_package(package, fast=False).rows["enrollments"][1:3]]
    assert _comparable(fast) == _comparable(read_package(package, fast=False))


@pytest.mark.parametrize(
    ("value", "kept"),
    [("teacher", True), ("headmaster", False)],
)
def test_a_rare_value_a_sample_of_the_column_misses_is_still_checked(tmp_path, value, kept):
    # Line 126 holds enrollment e100 (the 125th row): not among every 64th value the fast path
    # samples, so only the counts tell it apart.
    package = _grown(tmp_path)
    path = package / "enrollments.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[125].startswith("e100,")
    lines[125] = lines[125].replace(",student,", f",{value},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, slow = read_package(package), read_package(package, fast=False)
    assert _comparable(fast) == _comparable(slow)
    roles = [row[6] for row in fast.rows["enrollments"]]
    assert roles.count("teacher") == (5 if kept else 4)  # the sample's own 4 teachers, and e100
    assert len(roles) == (224 if kept else 223)
    problems = [(p.line, p.column, p.field, p.value, p.level) for p in fast.problems if p.file == "enrollments.csv"]
    assert problems == ([] if kept else [(126, 7, "role", "headmaster", "row")])


def test_a_padded_value_or_a_sourced_id_used_twice_far_apart_is_found_whatever_the_block(tmp_path, monkeypatch):
    package = _grown(tmp_path)
    path = package / "enrollments.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[200] = lines[200].replace(",student,", ", student ,")  # e175: stripped as any path strips
    lines[220] = "e3," + lines[220].split(",", 1)[1]  # e195 written as e3 (line 29 already has it)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    slow = _comparable(read_package(package, fast=False))
    for block in (64, 2**15):
        monkeypatch.setattr("lib.oneroster.fast._BLOCK", block)
        assert _comparable(read_package(package)) == slow, block
    rows = {row[0]: row for row in read_package(package).rows["enrollments"]}
    assert rows["e175"][6] == "student"
    assert [(p.line, p.field, p.message) for p in slow[1] if p.file == "enrollments.csv"] == [
        (221, "sourcedId", "sourcedId e3 is already used on line 29.")
    ]


def test_line_rows_give_the_digests_and_values_of_their_split_rows():
    lines = [
        "u1,,,true,s1,student,mary,,Mary,Archer,,,m@example.org,,,,09,secret",
        "u2,active,2026-08-01,false,s1,teacher,tom,,Tom,Ortega,,,t@example.org,,,p1,,",
    ]
    rows = LineRows(lines)
    split = [line.split(",") for line in lines]
    assert rows == split and list(rows) == split and len(rows) == 2
    assert rows[1] == split[1] and rows[1:] == split[1:] and isinstance(rows[1:], LineRows)
    assert list(rows.first_values()) == ["u1", "u2"]
    assert rows.select([False, True]) == [split[1]]
    assert list(rows.joined(3, True, "\x1f")) == ["\x1f".join(row[3:-1]) for row in split]
    assert list(rows.joined(3, False, "\x1f")) == ["\x1f".join(row[3:]) for row in split]
    assert list(row_digests("users", rows)) == list(row_digests("users", split))
    compared = [b"true\x1fs1\x1fstudent\x1fmary\x1f\x1fMary\x1fArcher\x1f\x1f\x1fm@example.org\x1f\x1f\x1f\x1f09"]
    compared.append(b"false\x1fs1\x1fteacher\x1ftom\x1f\x1fTom\x1fOrtega\x1f\x1f\x1ft@example.org\x1f\x1f\x1fp1\x1f")
    assert list(row_digests("users", rows)) == [f"{zlib.crc32(b):08x}{zlib.adler32(b):08x}" for b in compared]
    # Given their first values (as the reader does), they keep them aligned through slices and selections.
    known = LineRows(lines + ["u3,,,true,s1,student,ann,,Ann,Lee,,,,,,,10,"], ["u1", "u2", "u3"])
    assert list(known.first_values()) == ["u1", "u2", "u3"]
    assert list(known[1:].first_values()) == ["u2", "u3"] and known[1:] == split[1:] + [known[2]]
    assert list(known.select(iter([True, False, True])).first_values()) == ["u1", "u3"]
    assert known.select([True, False, True]) == [split[0], known[2]]
    with pytest.raises(ValueError, match="2 first values for 3 lines"):
        LineRows(known.lines, ["u1", "u2"])
