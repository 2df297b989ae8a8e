"""Read and validate a OneRoster 1.1 CSV package (a zip or a folder): a pure library (no Django).

The caller passes the ``sourcedId``s already applied for the partner so references can resolve
against the roster as well as the package. Rules follow the IMS OneRoster v1.1 CSV binding (§2
files and manifest, §3 per-file columns, §2.3 bulk/delta): exact header names (UTF-8 BOM
tolerated, CRLF or LF, extension columns to the right of the standard ones ignored; standard
columns in another order read by name with a notice, see ``header``), required fields, enums,
booleans ``true``/``false`` in any case, ISO dates, ``endDate`` not before ``startDate``, unique
``sourcedId`` per file, references, no more fields than the header unless the extra ones are
empty and proven a trailing separator (see ``wide``), no lone CR inside a field, a line break inside a
value only when correctly quoted; a manifest that declares a missing file, a zero-byte or
non-UTF-8 file or a wrong header rejects the whole package; a bad row is dropped and reported.
References (``references``): a reference to a record this package deletes (a row marked
``tobedeleted``, or an applied record missing from its bulk file) does not resolve; a required
reference that does not resolve drops the row, an optional one (an org's or a session's parent, a
course's school year, a user's agents) is a ``warning`` and the row is kept as given; a row marked
``tobedeleted`` is not checked. Values are Unicode-NFC normalised; ids stay strings (``00123``).

Modules, by concern: ``spec`` (the files and columns), ``model`` (problems, snapshot, limits),
``package`` (opening a zip or folder, decoding), ``manifest``, ``header`` (a file's header line),
``values`` (one value, one row), ``wide`` (rows with extra empty fields),
``fast`` (the column-at-a-time fast path), ``rows`` (the row-by-row reader), ``references``, and
``reader`` (``read_package``, the one entry point).
"""

from .model import Limits, LineRows, PackageError, Problem, Snapshot, rows_first_values, rows_select
from .reader import read_package
from .spec import COLUMNS, ENTITIES, LIST_COLUMNS, MODES, NAMES, STATUSES, canonical_list

__all__ = [
    "COLUMNS",
    "ENTITIES",
    "LIST_COLUMNS",
    "MODES",
    "NAMES",
    "STATUSES",
    "LineRows",
    "Limits",
    "PackageError",
    "Problem",
    "Snapshot",
    "canonical_list",
    "read_package",
    "rows_first_values",
    "rows_select",
]
