"""Recompute the digests of roster records holding a list value with a comma (``orgSourcedIds``,
``termSourcedIds``, ``agentSourcedIds``, ``grades``, ``subjects``, ``subjectCodes``, ``periods``),
now that ``lib.roster_diff.row_digest`` compares those columns as lists (order and spacing
ignored, issue #14). A record whose list values were already in that form keeps its digest; the
others get the digest the next night computes, so no partner sees a night of false updates after
the deploy. The stored data is not touched. Batched: 5,000 records a query, only the changed
digests written."""

import importlib
import zlib

from django.db import migrations
from django.db.models import Q

# Frozen copies, as of this migration: the compared columns (0007, the users' password left out
# as 0009 does) and the list columns of lib.roster_diff.
COMPARED = importlib.import_module("syncs.migrations.0007_roster_digest_v2").COMPARED
LIST_COLUMNS = {"orgSourcedIds", "termSourcedIds", "agentSourcedIds", "grades", "subjects", "subjectCodes", "periods"}
BATCH = 5000


def canonical_list(value):
    return ",".join(sorted(filter(None, map(str.strip, value.split(",")))))


def digest(entity, data):
    columns = [c for c in COMPARED[entity] if c != "password"]
    values = [data.get(c, "") for c in columns]
    values = [canonical_list(v) if c in LIST_COLUMNS and "," in v else v for c, v in zip(columns, values, strict=True)]
    encoded = "\x1f".join(values).encode()
    return f"{zlib.crc32(encoded):08x}{zlib.adler32(encoded):08x}"


def with_list_commas():
    """A filter of the records of an entity with list columns where one of them holds a comma."""
    query = Q()
    for entity, columns in COMPARED.items():
        lists = [c for c in columns if c in LIST_COLUMNS]
        if lists:
            commas = Q()
            for column in lists:
                commas |= Q(**{f"data__{column}__icontains": ","})
            query |= Q(entity=entity) & commas
    return query


def recompute(apps, schema_editor):
    RosterRecord = apps.get_model("syncs", "RosterRecord")
    records = RosterRecord.objects.filter(with_list_commas()).only("id", "entity", "data", "digest")
    batch = []
    for record in records.order_by("id").iterator(chunk_size=BATCH):
        new = digest(record.entity, record.data)
        if new != record.digest:
            record.digest = new
            batch.append(record)
        if len(batch) == BATCH:
            RosterRecord.objects.bulk_update(batch, ["digest"])
            batch = []
    RosterRecord.objects.bulk_update(batch, ["digest"])


class Migration(migrations.Migration):
    dependencies = [("syncs", "0011_drop_never_set_dry_run")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
