"""Tasks sent to a real broker instead of run eagerly, for the tests about lost messages."""

import contextlib

from bts_portal.celery import app


def _reset_pools() -> None:
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def real_broker(url: str | None = None):
    """While open, ``task.delay`` publishes to the broker (the suite's Redis, or ``url``) instead
    of running the task eagerly; a broker that cannot take the message fails at once (no publish
    retries)."""
    conf = app.conf
    saved = (conf.task_always_eager, conf.broker_url, conf.broker_write_url, conf.task_publish_retry)
    conf.task_always_eager, conf.task_publish_retry = False, False
    if url:
        conf.broker_url = conf.broker_write_url = url
        _reset_pools()
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url, conf.broker_write_url, conf.task_publish_retry = saved
        if url:
            _reset_pools()


def purge_default_queue() -> int:
    """Delete every message waiting in the default queue (what a lost message looks like);
    returns how many there were."""
    with app.connection_for_write() as connection:
        return connection.default_channel.queue_purge(app.conf.task_default_queue) or 0
