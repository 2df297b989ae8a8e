"""BTS Portal project package: settings, URLs, the Celery app and WSGI wiring.

The Celery app is imported here so that ``@shared_task`` in every app binds to it.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
