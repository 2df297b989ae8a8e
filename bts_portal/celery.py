"""The Celery app of the BTS Portal.

Configuration comes from Django settings under the ``CELERY_`` namespace: JSON only, UTC, task
time limits, late acks (every task is safe to run twice). Beat uses django-celery-beat's database
scheduler; the periodic tasks are declared in ``settings.BTS_PERIODIC_TASKS``. Run exactly one
beat process per deployment.
"""

import os

from celery import Celery
from celery.signals import task_postrun
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bts_portal.settings.local")
# filesystem:// is served by kombu's file-system transport with atomic message files, so a worker
# never reads a message that is still being written (bts_portal/broker.py).
TRANSPORT_ALIASES["filesystem"] = "bts_portal.broker:Transport"

app = Celery("bts_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def record_heartbeat(sender=None, state=None, **kwargs):
    """After a periodic task succeeds, record its heartbeat (``heartbeat`` in
    ``settings.BTS_PERIODIC_TASKS``), shown on ``/healthz``; the ``scheduler`` one proves that
    beat → broker → worker works."""
    from django.conf import settings

    names = {spec["task"]: spec.get("heartbeat") for spec in settings.BTS_PERIODIC_TASKS.values()}
    name = names.get(getattr(sender, "name", None))
    if name and state == "SUCCESS":
        from syncs.services import heartbeat_record

        heartbeat_record(name=name)
