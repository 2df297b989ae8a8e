"""Pull a roster from a SIS's OneRoster 1.1 or 1.2 REST API, completely or not at all (no Django).

``client`` (the HTTP session: OAuth 2 client credentials or OAuth 1.0a, retries with a capped
``Retry-After``, one new token on a data 401), ``pager`` (one collection, page by page, under the
completeness rules), ``mapping`` (a REST record as a OneRoster 1.1 CSV row), ``pull`` (every
collection into a OneRoster 1.1 CSV package folder the pipeline reads like a file partner's),
``provider`` (a local OneRoster provider with fault switches, for the demo, tests and benchmark).
"""

from .client import (
    ClientRefused,
    Connection,
    PullDeferred,
    PullError,
    RestSession,
)
from .pager import CollectionReport, FilterRefused, Incomplete
from .pull import PullReport, pull_package

__all__ = [
    "ClientRefused",
    "CollectionReport",
    "Connection",
    "FilterRefused",
    "Incomplete",
    "PullDeferred",
    "PullError",
    "PullReport",
    "RestSession",
    "pull_package",
]
