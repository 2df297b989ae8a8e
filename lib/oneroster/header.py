"""A file's header line: which of its columns hold which standard column (OneRoster v1.1 CSV §3:
exact, case-sensitive names; extension columns, named ``metadata.…``, to the right of the
standard ones)."""

from collections.abc import Sequence

from .model import Problem
from .spec import NAMES


def read_header(entity: str, name: str, header: Sequence[str], problems: list[Problem]) -> list[int] | None:
    """Where each standard column of ``entity`` is in ``header`` (its names, stripped), as a list
    of 0-based indexes in ``NAMES[entity]`` order, or ``None`` when the standard columns come
    first in the spec's order (the usual case: rows are read as they stand).

    Columns in another order are read by name when every standard column appears exactly once
    (with a notice: the next export had better follow the spec). Every problem of the header is
    reported, each at its column (level ``package``: the file is rejected, the roster is left as it
    was): a standard name missing, given twice or in the wrong case, a name that is neither a
    standard one nor an extension column standing among the standard ones, and a file separated by
    semicolons or tabs. Raises nothing; returns ``None`` after a problem too (check ``problems``).
    """
    expected = NAMES[entity]
    if list(header[: len(expected)]) == list(expected):
        return None
    found = len(problems)
    if len(header) == 1 and len(expected) > 1:
        for separator, what in ((";", "semicolons (;)"), ("\t", "tabs")):
            if separator in header[0] and expected[0] in header[0].split(separator):
                problems.append(
                    Problem(
                        name,
                        1,
                        1,
                        "",
                        header[0][:80],
                        f"{name} is separated by {what}, not commas: OneRoster files are comma-separated. Export "
                        "it again with commas between the fields (in Excel: Save As “CSV UTF-8 (Comma delimited)”).",
                        "package",
                    )
                )
                return None
    at: dict[str, list[int]] = {}
    for index, column in enumerate(header):
        at.setdefault(column, []).append(index)
    standard = set(expected)
    by_lower = {column.lower(): column for column in expected}
    last = max((at[column][0] for column in expected if column in at), default=-1)
    missing = [column for column in expected if column not in at]
    accounted = set()  # the missing standard columns some problem below explains already
    for index, column in enumerate(header):
        if column in standard:
            if at[column][0] != index:
                problems.append(
                    _problem(
                        name,
                        index,
                        column,
                        f"“{column}” is in columns {at[column][0] + 1} and {index + 1} of the header; each "
                        "column may appear once",
                    )
                )
            continue
        spelt = by_lower.get(column.lower())
        if spelt is not None and spelt in missing:
            accounted.add(spelt)
            problems.append(
                _problem(
                    name,
                    index,
                    column,
                    f"Column {index + 1} of the header is “{column}”; the OneRoster name is “{spelt}” (names are "
                    "case-sensitive)",
                )
            )
            continue
        if index > last or column.startswith("metadata."):
            continue  # an extension column
        wanted = expected[index] if index < len(expected) else None
        if wanted in missing and wanted is not None:
            accounted.add(wanted)
            message = f"Column {index + 1} of the header must be “{wanted}”, not “{column}”"
        elif len(missing) == 1 and missing[0] not in accounted:
            accounted.add(missing[0])
            message = f"Column {index + 1} of the header, “{column}”, is not a {entity} column (is it “{missing[0]}”?)"
        else:
            message = (
                f"Column {index + 1} of the header, “{column}”, is not a {entity} column; extension columns go "
                "to the right of the standard ones, named metadata.…"
            )
        problems.append(_problem(name, index, column, message))
    for column in missing:
        if column not in accounted:
            problems.append(
                Problem(name, 1, 0, column, "", f"The header has no “{column}” column, which {name} needs.", "package")
            )
    if len(problems) > found:
        return None
    order = [at[column][0] for column in expected]
    first = next(index for index, column in enumerate(expected) if header[index] != column)
    problems.append(
        Problem(
            name,
            1,
            first + 1,
            "",
            header[first],
            f"The columns are not in the OneRoster order (column {first + 1} is “{header[first]}”, where the spec "
            f"has “{expected[first]}”); they were read by name. Export them in the spec's order next time.",
            "notice",
        )
    )
    return order


def _problem(name: str, index: int, value: str, message: str) -> Problem:
    return Problem(name, 1, index + 1, "", value, message + ".", "package")
