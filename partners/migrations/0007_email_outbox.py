import django.utils.timezone
from django.db import migrations, models


def existing_rows_were_sent(apps, schema_editor):
    # Every row written before the outbox was logged after the backend accepted it.
    SentEmail = apps.get_model("partners", "SentEmail")
    SentEmail.objects.update(status="sent", queued_at=models.F("sent_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0006_sent_email"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="sentemail",
            options={"ordering": ["-queued_at", "-id"], "verbose_name": "sent email"},
        ),
        migrations.AddField(
            model_name="sentemail",
            name="status",
            field=models.CharField(
                choices=[("queued", "Queued"), ("sent", "Sent"), ("failed", "Failed")],
                db_index=True,
                default="queued",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="sentemail",
            name="queued_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="sentemail",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sentemail",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sentemail",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="sentemail",
            name="last_error",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="sentemail",
            name="html_body",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="sentemail",
            name="template",
            field=models.CharField(db_index=True, max_length=120),
        ),
        migrations.AlterField(
            model_name="sentemail",
            name="body",
            field=models.TextField(
                help_text="What the recipients read (the HTML part says the same).", verbose_name="text"
            ),
        ),
        migrations.RunPython(existing_rows_were_sent, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="sentemail",
            index=models.Index(
                condition=models.Q(("next_attempt_at__isnull", False), ("status__in", ["queued", "failed"])),
                fields=["next_attempt_at"],
                name="sent_email_outbox_due",
            ),
        ),
    ]
