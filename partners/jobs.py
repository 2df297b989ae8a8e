"""Enqueueing Celery tasks so that no work depends on a message surviving.

Every task enqueued here has its work recorded in the database first (a queued email, an approved
circuit break, a claimed nightly run), where a periodic sweep finds it if the message is lost or
was never written. TOOLCHAIN.md: killing a worker's main process with the file-system broker loses
the message it fetched.
"""

import logging

from django.db import transaction
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args) -> None:
    """``task.delay(*args)`` once the current transaction commits (at once outside a transaction).

    A broker that cannot take the message (down, full, unwritable folder) is logged as a warning,
    never raised to the person whose change just committed: the periodic sweep of that work picks
    it up within minutes.
    """

    def send() -> None:
        try:
            task.delay(*args)
        except (KombuError, OSError) as error:
            logger.warning(
                "Could not enqueue %s%r (%s: %s); the periodic sweep will pick the work up",
                task.name,
                args,
                type(error).__name__,
                error,
            )

    transaction.on_commit(send)
