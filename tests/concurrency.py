"""Run the same work in several threads at once, each on its own database connection."""

import threading

from django.db import connections


def run_at_once(work, *, threads: int = 2, timeout: float = 30) -> list:
    """Start ``work()`` in ``threads`` threads released together by a barrier; return their results.

    Re-raises the first exception a thread raised. Use with ``transactional_db`` so that each
    thread's connection sees the others' commits.
    """
    barrier = threading.Barrier(threads)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]
    return results
