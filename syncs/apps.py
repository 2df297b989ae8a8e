from django.apps import AppConfig


class SyncsConfig(AppConfig):
    """Sync state, pause windows and calendar rules, OneRoster ingest, runs and beat tasks."""

    name = "syncs"
    verbose_name = "Syncs"
