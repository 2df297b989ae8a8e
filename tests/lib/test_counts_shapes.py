"""The three spellings of one entity type's counts stay one shape: what a run stores
(``StoredCounts``), what the policy reads (``EntityCounts``) and what the diff gives
(``DiffCounts``, the stored counts without the reader's row numbers). A field added to one and not
the others would be silently dropped by ``EntityCounts.from_mapping``."""

from dataclasses import fields

from lib.circuit_break_policy import EntityCounts, StoredCounts
from lib.roster_diff import DiffCounts


def test_stored_counts_are_exactly_the_policys_fields():
    assert set(StoredCounts.__annotations__) == {f.name for f in fields(EntityCounts)}


def test_the_diffs_counts_are_the_stored_counts_without_the_readers_row_numbers():
    assert set(DiffCounts.__annotations__) == set(StoredCounts.__annotations__) - {"rows_read", "rows_dropped"}
