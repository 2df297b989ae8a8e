"""Sync state and scheduled-job bookkeeping. Pause windows, runs and rosters arrive with their issues."""

from django.db import models


class JobHeartbeat(models.Model):
    """When a periodic job last ran on a worker (one row per job name), shown on ``/healthz``.

    ``last_seen_at`` is an aware UTC instant. Operational bookkeeping, not partner state.
    """

    name = models.CharField(max_length=60, unique=True)
    last_seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
