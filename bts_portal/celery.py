"""The Celery app of the BTS Portal.

Configuration comes from Django settings under the ``CELERY_`` namespace: JSON only, UTC, task
time limits, late acks (every task is safe to run twice). Beat uses django-celery-beat's database
scheduler; the periodic tasks are declared in ``settings.BTS_PERIODIC_TASKS``. Run exactly one
beat process per deployment.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bts_portal.settings.local")

app = Celery("bts_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
