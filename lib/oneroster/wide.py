"""Rows with more fields than the header whose extra fields are all empty: a trailing separator, or
a value with an unquoted comma?

Some exports end some rows with one comma too many (the Ed-Fi sample's teacher rows), which is
harmless. A value with an unquoted comma (``…,Ortega, Jr.,…``) also gives one field more, and
when the row's last field was empty the extra field is empty too; but then every field after the
comma stands one column to the right of where it belongs (``email`` holds the identifier). Such a
row must never be applied.

The rule (this portal's, for issue #14; CSV quoting is RFC 4180 §2.6): read the row as it stands
("a trailing separator") and, for every place an unquoted comma could have split a text or list
value ("a shift"), read it as the export meant it. Each reading is checked column by column: the
types (enums, booleans, dates, years) and, only here, the shapes of columns whose values have one
(an ``email`` holds an address, ``sms`` and ``phone`` a phone number, ``grades`` grade codes). A
reading with a value of the wrong type or shape is impossible; the others score one point per
non-empty typed or shaped value. The row is read as a trailing separator only when that reading is
possible, no value starts with a space right after a non-empty one (``, Jr.`` leaves one), and it
scores more than every possible shift: then no value can stand in the wrong field unnoticed.
Otherwise the row is left out with a message naming the likely comma.
"""

import re
from collections.abc import Callable, Sequence
from itertools import combinations

from .spec import COLUMNS, LIST_COLUMNS, canonical_list
from .values import _check_value, _checked, _is_ref

_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")
_PHONE_CHARACTERS = frozenset("0123456789+-()./ #*xXextEXT,")
# CEDS grade levels as OneRoster 1.1 lists them (§4.13.6), and the forms SIS exports use for them.
_GRADE = re.compile(r"IT|PR|PK|TK|KG|K|PS|UG|Other|0?[0-9]|1[0-3]", re.IGNORECASE)


def _is_address(value: str) -> bool:
    return _ADDRESS.fullmatch(value) is not None


def _is_phone(value: str) -> bool:
    return any(c.isdigit() for c in value) and set(value) <= _PHONE_CHARACTERS


def _are_grades(value: str) -> bool:
    return all(_GRADE.fullmatch(grade.strip()) for grade in value.split(","))


# (column → check, what a value of it is): the shapes checked only to tell the readings apart.
_SHAPES: dict[str, tuple[Callable[[str], bool], str]] = {
    "email": (_is_address, "an email address"),
    "sms": (_is_phone, "a phone number"),
    "phone": (_is_phone, "a phone number"),
    "grades": (_are_grades, "a list of grade codes"),
}

# Kinds whose value may hold a comma: free text and lists (a list of ids written unquoted is the
# commonest shift of all).
_MAY_HOLD_A_COMMA = ("str", "refs:")

# Beyond this many extra fields the readings to compare grow too many (they are the ways to place
# that many commas inside values); such a row is left out.
_MOST_EXTRA = 2


# What stands in each column of a file: the standard column's (name, required, kind), or ``None``
# for an extension column.
_Layout = Sequence[tuple[str, bool, str] | None]


def _layout(entity: str, header: Sequence[str]) -> _Layout:
    """What each of ``header``'s columns holds (its columns may be in any order, see ``header``)."""
    spec = {column[0]: column for column in COLUMNS[entity]}
    return [spec.get(name) for name in header]


def _score(layout: _Layout, values: Sequence[str]) -> tuple[int, tuple[int, str, str] | None]:
    """``(points, None)`` for a possible reading of a row (``values`` in the file's column order,
    at least as many as ``layout``), or ``(0, (column index, value, what is wrong))`` at its
    first impossible value."""
    points = 0
    for index, spec in enumerate(layout):
        if spec is None:
            continue
        column, required, kind = spec
        value = values[index].strip()
        if not value:
            if required:
                return 0, (index, "", "is required")
            continue
        if _checked(kind):
            message = _check_value(kind, value)
            if message:
                return 0, (index, value, message)
            points += 1
        if column in _SHAPES:
            check, what = _SHAPES[column]
            if not check(value):
                return 0, (index, value, f"is not {what}")
            points += 1
    return points, None


def looks_like_a_row(entity: str, header: Sequence[str], fields: Sequence[str]) -> bool:
    """Whether ``fields`` (one line of text split as CSV) could be a row of the file: at least as
    many fields as ``header``, a ``sourcedId``, and every typed and shaped value possible where
    it stands (see ``_score``). Tells a quote left open, which swallowed whole rows into a value,
    from a value with a line break."""
    if len(fields) < len(header) or not fields[0].strip():
        return False
    return _score(_layout(entity, header), fields)[1] is None


# Columns whose value a roster never keeps (the portal drops a user's password).
_NOT_KEPT = {"password"}


def _kept(layout: _Layout, values: Sequence[str]) -> tuple[str, ...]:
    """What a reading of a row puts in the roster as the diff sees it: the standard columns' values
    but the ones never kept, list columns in ``canonical_list`` form (``roster_diff`` compares them
    so)."""
    return tuple(
        canonical_list(value) if spec[0] in LIST_COLUMNS else value
        for spec, value in zip(layout, (v.strip() for v in values), strict=False)
        if spec is not None and spec[0] not in _NOT_KEPT
    )


def _moves_text(layout: _Layout, raw: Sequence[str], joined: Sequence[str]) -> bool:
    """Whether reading the row as it stands (``raw``) rather than as ``joined`` puts a non-empty
    value other than a reference in a column the roster keeps."""
    for index, spec in enumerate(layout):
        if spec is None or spec[0] in _NOT_KEPT or _is_ref(spec[2]):
            continue
        value = raw[index].strip()
        if value and value != joined[index].strip():
            return True
    return False


def _mergeable(layout: _Layout, index: int) -> bool:
    """Whether the value in column ``index`` (0-based) may hold a comma: text, a list, or an
    extension column."""
    spec = layout[index] if index < len(layout) else None
    return spec is None or spec[2].startswith(_MAY_HOLD_A_COMMA)


def _column_name(header: Sequence[str], index: int) -> str:
    return header[index] if index < len(header) else f"column {index + 1}"


_Shift = tuple[tuple[bool, bool], int, tuple[int, ...], list[str]]


def _possible_shifts(layout: _Layout, raw: Sequence[str], width: int) -> list[_Shift]:
    """The readings of ``raw`` with an unquoted comma inside a value (one per way of joining the
    extra fields back into values that may hold a comma) that are possible and would put something
    else in the roster than the row read as it stands: ``(evidence, points, places, joined)``."""
    extra = len(raw) - width
    kept = _kept(layout, raw)
    # A comma can sit inside a value only between two fields: each shift joins ``extra + 1``
    # neighbouring fields of a value that may hold a comma, at up to ``extra`` places.
    shifts = []
    for places in combinations(range(len(raw) - 1), extra):
        if any(b - a == 1 for a, b in zip(places, places[1:], strict=False)):
            continue  # one value with two commas is the join below
        joined: list[str] = []
        cut = 0
        for place in places:
            joined.extend(raw[cut:place])
            joined.append(raw[place] + "," + raw[place + 1])
            cut = place + 2
        joined.extend(raw[cut:])
        shifts.append((places, joined))
    for start in range(len(raw) - extra if extra > 1 else 0):
        end = start + extra + 1
        shifts.append(((start,), [*raw[:start], ",".join(raw[start:end]), *raw[end:]]))
    possible: list[_Shift] = []
    for places, joined in shifts:
        if not all(_mergeable(layout, joined_index) for joined_index in _joined_indexes(places)):
            continue
        if _kept(layout, joined) == kept:
            continue  # the same roster either way (a password, an extension, an empty list)
        shift_points, shift_wrong = _score(layout, joined[:width])
        if shift_wrong is None:
            # What makes a shift likelier: ", " (a space after the comma), and a comma between two
            # words rather than at a value's end.
            evidence = (
                any(raw[place + 1][:1].isspace() for place in places),
                all(raw[place].strip() and raw[place + 1].strip() for place in places),
            )
            possible.append((evidence, shift_points, places, joined))
    return possible


def _guess(
    layout: _Layout, header: Sequence[str], raw: Sequence[str], possible: list[_Shift]
) -> tuple[int, str, str, str]:
    """``(column number, column, value, "an unquoted comma in …")`` of the likeliest shifts."""
    width = len(header)
    best = max((evidence, points) for evidence, points, _, _ in possible)
    likely = [(places, joined) for evidence, points, places, joined in possible if (evidence, points) == best]
    where = sorted({place for places, _ in likely for place in places})
    if len(likely) == 1:
        places, joined = likely[0]
        value = joined[_joined_indexes(places)[0]]
        guess = f"an unquoted comma in {_column_name(header, places[0])} (“{value.strip()}”)"
    else:
        value = raw[where[0]]
        guess = f"an unquoted comma in one of {', '.join(_column_name(header, place) for place in where)}"
    column = _column_name(header, where[0]) if where[0] < width and layout[where[0]] is not None else ""
    return where[0] + 1, column, value.strip(), guess


def wide_row_doubt(entity: str, raw: Sequence[str], header: Sequence[str]) -> tuple[int, str, str, str] | None:
    """``None`` when ``raw`` (a row of ``entity`` with more fields than ``header``, the extra ones
    empty) is read as it stands, its extra fields a trailing separator (see the module's rule);
    else ``(column number, column, value, message)`` for the problem that leaves the row out: the
    column is the one the likely unquoted comma sits in (or the first extra field), numbered from
    1 as in the file. The message has no final full stop. A row that no reading with a comma
    fits is read as it stands: its own values are checked as any row's are."""
    width, extra = len(header), len(raw) - len(header)
    layout = _layout(entity, header)
    said = f"The row has {len(raw)} fields but the header has {width}"
    if extra > _MOST_EXTRA:
        return (
            width + 1,
            "",
            "",
            f"{said}: {extra} more fields, all empty, are too many to tell trailing separators from "
            "commas inside values, so the row is left out; export it without the extra commas",
        )
    possible = _possible_shifts(layout, raw, width)
    if not possible:
        return None
    points, wrong = _score(layout, raw[:width])
    # A rival of the row as it stands: a comma with a word on both sides, or a space after it; or a
    # comma at a value's very start or end (one piece empty) when the row as it stands would put
    # text in a column where that reading has none. When the row as it stands moves only a
    # reference, the reference decides: it must resolve (see ``Snapshot.wide_ids``).
    rivals = [shift for shift in possible if any(shift[0]) or _moves_text(layout, raw, shift[3])]
    spaced = next((places[0] + 1 for (space, _), _, places, _ in rivals if space), None)
    if wrong is None and spaced is None and all(shift_points < points for _, shift_points, _, _ in rivals):
        return None
    if wrong is None:
        possible = rivals
    if wrong is not None:
        index, value, message = wrong
        name = _column_name(header, index)
        why = f", and {name} holds “{value}”, which {message}" if value else f", and {name} is empty"
    elif spaced is not None:
        why = f", and {_column_name(header, spaced)} starts with a space (“{raw[spaced]}”)"
    else:
        why = "; the extra one is empty, but a comma inside a value would give the same fields"
    column_no, column, value, guess = _guess(layout, header, raw, possible)
    return (
        column_no,
        column,
        value,
        f"{said}{why}: probably {guess}? The row is left out; quote values that hold commas",
    )


def filled_row_hint(entity: str, raw: Sequence[str], header: Sequence[str]) -> tuple[int, str, str, str] | None:
    """For a row of ``entity`` with more fields than ``header`` and some extra one filled (never a
    trailing separator): ``(column number, column, value, message)`` naming the likely unquoted
    comma when a reading with one fits, else ``None``."""
    width = len(header)
    if len(raw) - width > _MOST_EXTRA:
        return None
    layout = _layout(entity, header)
    # Only a comma with a word on both sides, or a space after it, is worth naming here.
    possible = [shift for shift in _possible_shifts(layout, raw, width) if any(shift[0])]
    if not possible:
        return None
    column_no, column, value, guess = _guess(layout, header, raw, possible)
    return (
        column_no,
        column,
        value,
        f"The row has {len(raw)} fields but the header has {width}: probably {guess}? The row is left out; "
        "quote values that hold commas",
    )


def _joined_indexes(places: Sequence[int]) -> list[int]:
    """The column indexes the joined values take in a shift joining at ``places`` (each join
    takes one column fewer than the fields it joins)."""
    return [place - number for number, place in enumerate(places)]
