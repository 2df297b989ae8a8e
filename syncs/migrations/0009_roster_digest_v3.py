"""Recompute roster digests as the 64-bit change detector of ``syncs.diff.row_digest`` (CRC-32
then Adler-32 of the compared values, the users' password left out), which a no-change night computes several times faster than
SHA-1, so the first night after this change is not a false update."""

import importlib
import zlib

from django.db import migrations

COMPARED = importlib.import_module("syncs.migrations.0007_roster_digest_v2").COMPARED


def recompute(apps, schema_editor):
    RosterRecord = apps.get_model("syncs", "RosterRecord")
    batch = []
    for record in RosterRecord.objects.only("id", "entity", "data").iterator(chunk_size=5000):
        columns = [c for c in COMPARED.get(record.entity, []) if c != "password"]
        data = "\x1f".join(record.data.get(column, "") for column in columns).encode()
        record.digest = f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"
        batch.append(record)
        if len(batch) == 5000:
            RosterRecord.objects.bulk_update(batch, ["digest"])
            batch = []
    RosterRecord.objects.bulk_update(batch, ["digest"])


class Migration(migrations.Migration):
    dependencies = [("syncs", "0008_run_source_recheck")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
