"""Text bound for a spreadsheet: CSV exports go through ``csv_safe``."""

import re

_PHONE = re.compile(r"[+-]?[0-9 ().-]+")


def csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in partner-typed text (CSV injection, OWASP): a value
    starting with ``=``, ``@``, a tab or a carriage return, or ``+``/``-`` when it is not a phone
    number, gets a leading ``'``. Phone numbers such as ``+1 555 0100`` stay as they are."""
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in ("+", "-") and not _PHONE.fullmatch(text)):
        return "'" + text
    return text
