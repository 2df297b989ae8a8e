"""Project-level wiring that needs the app registry: broker folders and the beat schedule."""

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class BtsPortalConfig(AppConfig):
    """Registers the project package so that ``migrate`` brings the periodic tasks in line."""

    name = "bts_portal"
    verbose_name = "BTS Portal"

    def ready(self):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            if key in options:
                Path(options[key]).mkdir(parents=True, exist_ok=True)
        post_migrate.connect(_sync_periodic_tasks, sender=self)


def _sync_periodic_tasks(sender, using="default", **kwargs):
    from .beat import sync_periodic_tasks

    sync_periodic_tasks(using=using)
