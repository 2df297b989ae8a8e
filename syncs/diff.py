"""Diff a validated OneRoster snapshot against the roster applied for a partner. Pure.

Keyed on ``sourcedId`` per entity (DESIGN.md "Nightly sync pipeline", step 3): ``bulk`` — a record
missing from the file is deleted; ``delta`` — ``status=tobedeleted`` deletes and other rows create
or update; ``absent`` — the entity is left untouched. Values are compared after NFC normalisation
(done by the reader), so a re-encoded but equal file gives zero changes. ``status`` and
``dateLastModified`` are bookkeeping and do not count as changes.
"""

from dataclasses import dataclass, field

from .oneroster import ENTITIES, Snapshot

_IGNORED = {"status", "dateLastModified"}


@dataclass
class EntityDiff:
    """Changes to one entity: ``created`` and ``updated`` map ``sourcedId`` to the new values,
    ``changed_fields`` names the fields each update changes, ``deleted`` lists ids to deactivate."""

    mode: str
    before: int
    created: dict[str, dict] = field(default_factory=dict)
    updated: dict[str, dict] = field(default_factory=dict)
    changed_fields: dict[str, list[str]] = field(default_factory=dict)
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


def _same(old: dict, new: dict) -> list[str]:
    return sorted(k for k in set(old) | set(new) if k not in _IGNORED and old.get(k, "") != new.get(k, ""))


def diff_snapshot(snapshot: Snapshot, applied: dict[str, dict[str, dict]]) -> dict[str, EntityDiff]:
    """``{entity: EntityDiff}`` of ``snapshot`` against ``applied`` (``{entity: {sourcedId: values}}``,
    active records only)."""
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
            fields = _same(old, values)
            if fields:
                d.updated[sourced_id] = values
                d.changed_fields[sourced_id] = fields
            else:
                d.unchanged += 1
        if mode == "bulk":
            kept_back = snapshot.dropped_ids.get(entity, set())
            d.deleted.extend(sorted(set(current) - set(rows) - kept_back))
            d.unchanged += len((set(current) - set(rows)) & kept_back)
        else:
            d.unchanged += len(set(current) - set(rows))
    return result
