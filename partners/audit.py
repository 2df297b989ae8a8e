"""The one audit API (STYLE.md: ``audit(action, *, actor, partner, before, after)``): every state
change and every staff write leaves one ``AuditEvent`` row saying who, what, and before → after.

``audited_save`` and ``audited_delete`` are what a service calls to write a model row staff edited
(partners, closure dates, memberships, school years, sync schedules, policy overrides): the row is
written and the audit row says which fields changed from what to what. Instants are aware UTC.
"""

from datetime import UTC, datetime, time
from typing import Any, TypeAlias

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

from .models import AuditEvent, Partner

# A field's value as stored in an audit row's ``detail``: JSON (dates as ISO strings, foreign keys as ids).
JsonScalar: TypeAlias = str | int | float | bool | None


def audit_record(
    *,
    action: str,
    message: str,
    actor: User | AnonymousUser | None = None,
    actor_label: str = "",
    partner: Partner | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row. ``actor`` is a user (or ``None``); ``actor_label`` names a job or command."""
    return AuditEvent.objects.create(
        action=action,
        message=message,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label,
        partner=partner,
        detail=detail or {},
    )


def _value(instance: models.Model, name: str) -> JsonScalar:
    field = instance._meta.get_field(name)
    assert isinstance(field, models.Field)  # ``fields`` name the model's own columns
    value = getattr(instance, field.attname)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, (int, float, bool, str)) or value is None:
        return value
    return str(value)


def _label(instance: models.Model, name: str) -> str:
    field = instance._meta.get_field(name)
    assert isinstance(field, models.Field)  # ``fields`` name the model's own columns
    return str(field.verbose_name)


def _words(instance: models.Model | None, name: str) -> str:
    """A field's value as a person reads it: a related row by its name, a choice by its label,
    yes/no, dates as ISO dates, instants in UTC to the minute, times of day as HH:MM, "—" for empty."""
    if instance is None:
        return "—"
    field = instance._meta.get_field(name)
    assert isinstance(field, models.Field)  # ``fields`` name the model's own columns
    if field.is_relation:
        related = getattr(instance, field.name, None)
        return str(related) if related is not None else "—"
    value = getattr(instance, field.attname)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (a value may end in one already)."""
    return text.rstrip().rstrip(".") + "."


def _named(instance: models.Model, name: str, what: str) -> bool:
    """A related row or a choice that ``what`` already names (free text is always shown)."""
    field = instance._meta.get_field(name)
    return bool(field.is_relation or getattr(field, "choices", None)) and _words(instance, name) in what


def _shown(before: models.Model | None, after: models.Model | None, names: list[str]) -> str:
    """``label: before → after`` for each of ``names`` (``after`` None: what ``before`` held)."""
    if after is None:
        return "; ".join(f"{_label(before, n)}: {_words(before, n)}" for n in names) if before else ""
    return "; ".join(f"{_label(after, n)}: {_words(before, n)} → {_words(after, n)}" for n in names)


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, JsonScalar]:
    """``{field: value}`` of ``fields`` as JSON values (dates as ISO strings, foreign keys as ids)."""
    return {name: _value(instance, name) for name in fields}


def audited_save(
    *,
    instance: models.Model,
    by: User | AnonymousUser | None,
    action: str,
    fields: list[str],
    partner: Partner | None,
    what: str,
) -> dict[str, list[JsonScalar]]:
    """Save ``instance`` (a new row, or changes to one) and leave an audit row ``action`` with
    ``{field: [before, after]}`` of the ``fields`` that changed (JSON: ids, codes) in ``detail``
    and the same in words in the message (names, labels; a new row lists what it was given);
    ``what`` names the row ("the closure date 2026-11-27 of Grand Bend"). Writes nothing when
    nothing changed. Returns the changes (``{}`` when none)."""
    model = type(instance)
    stored = model._default_manager.filter(pk=instance.pk).first() if instance.pk else None
    before = snapshot(stored, fields) if stored is not None else {}
    after = snapshot(instance, fields)
    changes = {
        name: [before.get(name), after[name]] for name in fields if stored is None or before[name] != after[name]
    }
    if stored is not None and not changes:
        return {}
    instance.save()
    verb = "Changed" if stored is not None else "Added"
    shown = _shown(stored, instance, [n for n in changes if stored is not None or changes[n][1] not in (None, "")])
    audit_record(
        action=action,
        actor=by,
        partner=partner,
        message=_sentence(f"{verb} {what}: {shown}" if shown else f"{verb} {what}"),
        detail={"model": model._meta.label, "id": instance.pk, "changes": changes},
    )
    return changes


def audited_delete(
    *,
    instance: models.Model,
    by: User | AnonymousUser | None,
    action: str,
    fields: list[str],
    partner: Partner | None,
    what: str,
    then: str = "",
) -> None:
    """Delete ``instance`` and leave an audit row ``action`` with what it held (``fields``: in
    ``detail["before"]`` as JSON, and in the message in words, leaving out empty fields and those
    ``what`` already names, see ``_named``); ``then`` is a sentence added after (what applies now)."""
    held = snapshot(instance, fields)
    kept = [n for n in fields if held[n] not in (None, "") and not _named(instance, n, what)]
    shown = _shown(instance, None, kept)
    pk = instance.pk
    instance.delete()
    audit_record(
        action=action,
        actor=by,
        partner=partner,
        message=_sentence(f"Removed {what}: {shown}" if shown else f"Removed {what}") + (f" {then}" if then else ""),
        detail={"model": type(instance)._meta.label, "id": pk, "before": held},
    )
