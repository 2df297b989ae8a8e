"""Diff a validated OneRoster snapshot against the roster applied for a partner. Pure.

Keyed on ``sourcedId`` per entity (DESIGN.md "Nightly sync pipeline", step 3): ``bulk`` — a record
missing from the file is deleted; ``delta`` — ``status=tobedeleted`` deletes and other rows create
or update; ``absent`` — the entity is left untouched. Values are compared after NFC normalisation
(done by the reader), so a re-encoded but equal file gives zero changes. ``status`` and
``dateLastModified`` are bookkeeping and do not count as changes.
"""

import hashlib
from dataclasses import dataclass, field

from .oneroster import ENTITIES, Snapshot

_IGNORED = {"status", "dateLastModified"}


@dataclass
class EntityDiff:
    """Changes to one entity: ``created`` and ``updated`` map ``sourcedId`` to the new values,
    ``deleted`` lists ids to deactivate."""

    mode: str
    before: int
    created: dict[str, dict] = field(default_factory=dict)
    updated: dict[str, dict] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict:
        return {
            "mode": self.mode,
            "before": self.before,
            "created": len(self.created),
            "updated": len(self.updated),
            "deleted": len(self.deleted),
            "unchanged": self.unchanged,
        }


def record_digest(values: dict) -> str:
    """SHA-1 (hex) of a record's compared values: every column but ``status`` and
    ``dateLastModified``, empty values left out, in column-name order."""
    text = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(values.items()) if k not in _IGNORED and v)
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def diff_snapshot(snapshot: Snapshot, applied: dict[str, dict[str, str]]) -> dict[str, EntityDiff]:
    """``{entity: EntityDiff}`` of ``snapshot`` against ``applied`` (``{entity: {sourcedId: digest}}``
    of the active records, see ``record_digest``)."""
    result = {}
    for entity in ENTITIES:
        mode = snapshot.modes.get(entity, "absent")
        current = applied.get(entity, {})
        d = EntityDiff(mode=mode, before=len(current))
        result[entity] = d
        if mode == "absent":
            d.unchanged = len(current)
            continue
        rows = snapshot.records.get(entity, {})
        for sourced_id, values in rows.items():
            if mode == "delta" and values.get("status") == "tobedeleted":
                if sourced_id in current:
                    d.deleted.append(sourced_id)
                continue
            old = current.get(sourced_id)
            if old is None:
                d.created[sourced_id] = values
                continue
            if old != record_digest(values):
                d.updated[sourced_id] = values
            else:
                d.unchanged += 1
        if mode == "bulk":
            kept_back = snapshot.dropped_ids.get(entity, set())
            d.deleted.extend(sorted(set(current) - set(rows) - kept_back))
            d.unchanged += len((set(current) - set(rows)) & kept_back)
        else:
            d.unchanged += len(set(current) - set(rows))
    return result
