"""The row-by-row reader: every problem of every row worded with its file, line and column."""

import csv
import io
from collections.abc import Iterator, Sequence

from .model import Problem, Snapshot
from .spec import COLUMNS, NAMES
from .values import _check_value, _checked, _row_checks
from .wide import filled_row_hint, looks_like_a_row, wide_row_doubt


def _read_rows(
    entity: str,
    name: str,
    text: str,
    header: Sequence[str],
    mode: str,
    snapshot: Snapshot,
    order: Sequence[int] | None = None,
) -> tuple[list[Sequence[str]], list[int]]:
    """The row-by-row path: every row checked column by column, every problem worded. ``header``
    is the file's header line, its names stripped; ``order`` where each standard column is in it
    when they are not first in the spec's order (see ``header.read_header``): each row is then
    read by name, and problems give the file's column numbers."""
    problems = snapshot.problems
    width = len(header)
    # A row's fields in the standard columns' order, then the others; and back, to number columns.
    moved = [*order, *(i for i in range(width) if i not in set(order))] if order is not None else None
    id_at = moved[0] if moved is not None else 0  # where a row's sourcedId is, as the file has it

    def file_column(column_no: int) -> int:
        return moved[column_no - 1] + 1 if moved is not None and 0 < column_no <= width else column_no

    columns, expected = COLUMNS[entity], NAMES[entity]
    # The physical lines of the record being read, as the csv module takes them (to read a record
    # with quotes again strictly).
    taken: list[str] = []

    def feed() -> Iterator[str]:
        for physical in io.StringIO(text, newline=""):
            taken.append(physical)
            yield physical

    reader = csv.reader(feed())
    next(reader)  # the header line, read already (_parse_file): it ends on line 1
    rows: list[Sequence[str]] = []
    lines: list[int] = []
    line = 1
    seen: dict[str, int] = {}
    read = dropped = 0
    last: tuple[int, list[str]] | None = None  # (line, fields) of the last record read
    previous: tuple[int, int, int, str, int | None] | None = None  # see ``before`` below
    blank_lines: list[int] = []  # lines holding only commas (and spaces)
    while True:
        taken.clear()
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(name, reader.line_num, 0, "", "", _unreadable(error), "package"))
            break
        start, line = line + 1, reader.line_num
        if not raw or raw == [""]:
            if previous is not None:  # an empty line keeps the record above "just above"
                previous = (previous[0], previous[1] + 1, *previous[2:])
            continue
        if not any(value.strip() for value in raw):
            # Only separators (Excel leaves ",,,,,," rows below the data): a blank line, not a row.
            blank_lines.append(start)
            continue
        if any("\n" in value for value in raw) and _swallows_rows(entity, header, raw, taken):
            # A quote not closed: the field ran over the lines after it, or (on the last line) to
            # the end of the file.
            column_no = next(index for index, value in enumerate(raw) if "\n" in value) + 1
            spread = f"runs over {line - start + 1} lines" if line > start else "runs to the end of the file"
            problems.append(
                Problem(
                    name,
                    start,
                    column_no,
                    "",
                    "",
                    f'A quoted field starting on line {start} {spread}: a quote (") is probably not closed. The '
                    "file is rejected, so the rows it would swallow are not taken as deletions.",
                    "package",
                )
            )
            break
        read += 1
        last = (start, raw)
        quote = _misplaced_quote(taken) if any('"' in physical for physical in taken) else None
        if quote is not None:
            # Not CSV as RFC 4180 writes it: the csv module would quietly read it one way or
            # another, and quotes may have paired up across values. The row is left out.
            at, inside = quote
            dropped += 1
            if raw[0].strip():
                snapshot.dropped_ids.setdefault(entity, set()).add(raw[0].strip())
            field = header[at - 1] if at <= width else ""
            said = field or f"column {at}"
            message = (
                f'{said} holds a quote (") but is not in quotes; a value with a quote must be quoted and its quotes '
                'doubled ("Robert ""Bob"""). The row is left out.'
                if inside
                else f'A quoted value in {said} goes on after its closing quote ("); a quoted value ends with its '
                "quote, then a comma or the line's end. The row is left out; write a quote inside a quoted value "
                'as two ("").'
            )
            problems.append(
                Problem(name, start, at, field, raw[at - 1].strip() if at <= len(raw) else "", message, "row")
            )
            previous = None
            continue
        # The record before, when it ends just above (empty lines aside): (its line, the line
        # after it, its fields, its sourcedId if kept, the index in ``problems`` of its problem
        # if it is a short line left out alone below).
        before, previous = previous, (start, start + 1, len(raw), "", None) if line == start else None
        if len(raw) < len(columns) and before is not None and before[1] == start:
            # A line too short right below another: a line break inside a value that is not quoted,
            # or a row cut short.
            if before[2] + len(raw) - 1 == width:
                # The two lines make one row: the line above holds the start of the value, this
                # one the rest. Both are left out; a kept line above is taken back (it lost the
                # end of its last value), and a short line left out alone now names the pair.
                said = (
                    f"Lines {before[0]} and {start} hold {before[2]} and {len(raw)} fields, which make one row of "
                    f"{width} put together: probably a line break inside a value that is not quoted. Both lines "
                    "are left out; quote values that hold line breaks."
                )
                if before[3]:
                    rows.pop()
                    lines.pop()
                    del seen[before[3]]
                    dropped += 1
                    snapshot.dropped_ids.setdefault(entity, set()).add(before[3])
                    problems.append(Problem(name, before[0], 0, "", "", said, "row"))
                elif before[4] is not None:
                    problems[before[4]] = Problem(name, before[0], 0, "", "", said, "row")
                dropped += 1
                problems.append(Problem(name, start, 0, "", "", said, "row"))
                previous = None
                continue
            # Not the rest of the line above (which stays as it was read): the start of a row
            # whose rest is on the next line (checked there), or a row cut short. Left out alone,
            # and its sourcedId, which starts the line either way, is kept back from deletion.
            said = (
                f"Line {start} holds {len(raw)} fields, fewer than a {entity} row's {len(columns)}: probably a "
                "line break inside a value that is not quoted (the rest of the row on the next line), or a row "
                "cut short. The line is left out; quote values that hold line breaks."
            )
            dropped += 1
            sourced_id = raw[id_at].strip() if len(raw) > id_at else ""
            if sourced_id:
                snapshot.dropped_ids.setdefault(entity, set()).add(sourced_id)
            problems.append(Problem(name, start, 0, "", "", said, "row"))
            previous = (start, start + 1, len(raw), "", len(problems) - 1)
            continue
        # Problems about the row's width, numbered as the file's columns; ``alone`` when they
        # explain the row (its fields are not where the header says: checking them adds noise).
        errors: list[tuple[int, str, str, str]] = []
        alone = False
        if moved is not None and len(raw) < width:
            cut = f"The row has {len(raw)} fields but the header has {width}: fields are missing"
            errors.append((len(raw) + 1, "", "", cut + " (the row may be cut short)"))
            alone = True
        elif len(raw) > width and any(v.strip() for v in raw[width:]):
            hint = filled_row_hint(entity, raw, header)
            if hint:
                errors.append(hint)  # the fields after the comma are one column off: checking them adds noise
            else:
                errors.append((width + 1, "", raw[width], f"The row has {len(raw)} fields but the header has {width}"))
            alone = moved is not None or hint is not None
        elif len(raw) > width:
            # The extra fields are empty: a trailing separator, or a value with an unquoted comma
            # that shifted the rest of the row (see ``wide``); only a proven trailing separator is read.
            doubt = wide_row_doubt(entity, raw, header)
            if doubt:
                errors.append(doubt)
                alone = True
            else:
                snapshot.wide_ids.setdefault(entity, set()).add(raw[id_at].strip())
        if alone:
            dropped += 1
            sourced_id = raw[id_at].strip() if len(raw) > id_at else ""
            if sourced_id:
                snapshot.dropped_ids.setdefault(entity, set()).add(sourced_id)
            for column_no, column, value, message in errors:
                problems.append(Problem(name, start, column_no, column, value, message + ".", "row"))
            continue
        if moved is not None:
            raw = [raw[i] for i in moved] + raw[width:]
        if len(raw) < len(columns):
            errors.append(
                (
                    len(raw) + 1,
                    columns[len(raw)][0],
                    "",
                    f"The row has {len(raw)} fields but a {entity} row has {len(columns)}: fields are missing "
                    "(the row may be cut short)",
                )
            )
        values = {}
        for index, (column, required, kind) in enumerate(columns):
            value = raw[index].strip() if index < len(raw) else ""
            if "\r\n" in value:
                value = value.replace("\r\n", "\n")  # a line break written the Windows way, in quotes
            if "\r" in value:
                errors.append(
                    (
                        index + 1,
                        column,
                        value,
                        "The field contains a carriage return (CR) on its own; save the file with LF or CRLF line ends",
                    )
                )
                continue
            if "\x00" in value:
                errors.append((index + 1, column, value.replace("\x00", "␀"), "The field contains a NUL character"))
                continue
            if not value:
                if required or (mode == "delta" and column in ("status", "dateLastModified")):
                    errors.append(
                        (index + 1, column, "", f"{column} is required" + (" in a delta file" if not required else ""))
                    )
                values[column] = ""
                continue
            wrong = _check_value(kind, value) if _checked(kind) else None
            if wrong:
                errors.append((index + 1, column, value, f"{column} {wrong}"))
            values[column] = value.lower() if kind == "bool" else value
        if not errors:
            errors = _row_checks(entity, values, seen)
        sourced_id = values.get("sourcedId", "")
        if errors:
            dropped += 1
            if sourced_id:
                snapshot.dropped_ids.setdefault(entity, set()).add(sourced_id)
            for column_no, column, value, message in errors:
                problems.append(Problem(name, start, file_column(column_no), column, value, message + ".", "row"))
            continue
        seen[sourced_id] = start
        rows.append(tuple(values[c] for c in expected))
        lines.append(start)
        if previous is not None:
            previous = (*previous[:3], sourced_id, None)
    broken = any(p.file == name and p.level == "package" for p in problems)
    if last and not broken and text.count('"') % 2 and _open_at_end(text, last[0]):
        # The file ends inside a quoted field on its last line (no line end after it, so no line
        # break in a value gave it away above): that row took the rest of the file.
        problems.append(
            Problem(
                name,
                last[0],
                len(last[1]),
                "",
                "",
                f'A quoted field on line {last[0]} is not closed: a quote (") is missing before the end of the '
                "file. The file is rejected.",
                "package",
            )
        )
    if blank_lines:
        first, count = blank_lines[0], len(blank_lines)
        where = f"line {first}" if count == 1 else f"{count:,} lines, the first on line {first}"
        problems.append(
            Problem(
                name,
                first,
                0,
                "",
                "",
                f"Rows holding only commas or spaces ({where}) were skipped as blank lines; a spreadsheet "
                "program leaves such rows where rows were cleared.",
                "notice",
            )
        )
    snapshot.rows_read[entity] = read
    snapshot.rows_dropped[entity] = dropped
    return rows, lines


def _swallows_rows(entity: str, header: Sequence[str], raw: Sequence[str], taken: Sequence[str]) -> bool:
    """Whether a record (its fields ``raw``, some holding a line break; ``taken`` its physical
    lines) is a quote left open that swallowed the lines after it, rather than a value with a line
    break written with correct quoting (RFC 4180 §2.6). It is when the record is not well-formed
    CSV (strictly read, a closing quote is followed by a comma or a line end: the quote that
    closed it opened a later field), when it ends the file inside a quoted field, or when a line
    inside a value reads as a whole row of the file (``wide.looks_like_a_row``)."""
    for value in raw:
        for inside in value.split("\n")[1:]:
            if inside.count(",") < len(header) - 1:
                continue
            try:
                fields = next(csv.reader([inside]), [])
            except csv.Error:
                return True  # a line no CSV reader takes is no value of a roster either
            if looks_like_a_row(entity, header, fields):
                return True
    try:
        list(csv.reader(taken, strict=True))
    except csv.Error:
        return True
    return False


def _misplaced_quote(taken: Sequence[str]) -> tuple[int, bool] | None:
    """Where a record (its physical lines ``taken``) breaks RFC 4180's quoting (§2.5–2.7), as
    ``(column number from 1, inside)``, or ``None``: ``inside`` is a quote within a value that is
    not quoted (``Robert "Bob"``), else a quoted value that goes on after its closing quote
    (``"Mary"Ann``). Either lets quotes pair up across values, so that pieces of two values trade
    places unseen: the caller leaves the row out. A quote left open at the end of the file is left
    to the caller."""
    text, column, at, quoted = "".join(taken), 1, 0, False
    start = True  # at the start of a field
    while at < len(text):
        char = text[at]
        if quoted:
            if char == '"' and text[at + 1 : at + 2] == '"':
                at += 1
            elif char == '"':
                quoted = False
                if text[at + 1 : at + 2] not in (",", "\r", "\n", ""):
                    return column, False
        elif char == '"':
            if not start:
                return column, True
            quoted = True
        elif char == ",":
            column += 1
            start = True
            at += 1
            continue
        start = False
        at += 1
    return None


def _unreadable(error: csv.Error) -> str:
    """A csv module error in words for a district's data team."""
    if "field larger than field limit" in str(error):
        return (
            f"A value here is longer than {csv.field_size_limit():,} characters, the most one field may hold; "
            "the file is rejected (is a quote left open?)."
        )
    return f"The file cannot be read as CSV here: {error}."


def _open_at_end(text: str, line: int) -> bool:
    """Whether the record starting on ``line`` (1-based, as the csv module counts) ends the file
    inside a quoted field."""
    tail = io.StringIO(text, newline="").readlines()[line - 1 :]
    try:
        list(csv.reader(tail, strict=True))
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False
