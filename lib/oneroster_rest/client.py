"""The HTTP side of a OneRoster REST pull: one session per pull, its credentials and its retries.

A ``Connection`` holds what staff set for an API partner (version, base URL, auth, page size,
timeout, concurrency) and its secret in the clear — the caller decrypts it just before the pull,
and nothing here writes it anywhere (``repr`` hides it). ``RestSession.get_page`` fetches one
page: 429 and 5xx are retried on the same URL by urllib3 (``PullRetry``: backoff, ``Retry-After``
in seconds or as an HTTP-date honoured up to a cap, and a wait past the pull's time budget raises
``PullDeferred`` instead of sleeping); a 401 on a data request fetches a new OAuth 2 token once and
tries the page again. Token errors follow RFC 6749 §5.2: ``invalid_client`` is ``ClientRefused``.
"""

from __future__ import annotations

import email.utils
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256
from oauthlib.oauth2 import BackendApplicationClient
from oauthlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1, OAuth2Session
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

# The REST path of each OneRoster version below the (opaque, vendor-prefixed) base URL.
VERSION_PATHS = {"1.1": "ims/oneroster/v1p1", "1.2": "ims/oneroster/rostering/v1p2"}
SIGNATURES = {"hmac-sha1": SIGNATURE_HMAC_SHA1, "hmac-sha256": SIGNATURE_HMAC_SHA256}
# The statuses retried on the same offset: too many requests and the server-side errors a busy SIS
# gives for a moment (LongsightGroup/oneroster src/rest/retry.ts retries 429/502/503; a SIS under
# rollover load also answers 500 and 504 for a while).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class PullError(Exception):
    """A pull that cannot go on; ``str()`` is a plain sentence for the run page (never a secret).
    ``report`` is set by ``pull_package`` to what was read before it stopped (a ``PullReport``)."""

    report: Any = None


class ClientRefused(PullError):
    """The token endpoint refused the client id and secret (OAuth 2 ``invalid_client``) or the
    token request failed: retrying cannot help, so the pull stops at once."""


class PullDeferred(PullError):
    """The server asked to wait (``Retry-After``) longer than the pull's time budget allows.
    ``seconds`` is the wait it asked for; the run is tried again after it."""

    def __init__(self, seconds: float, status: int) -> None:
        self.seconds = seconds
        self.status = status
        super().__init__(
            f"The SIS answered {status} and asked to wait {_duration(seconds)}, past this pull's time budget; "
            "the pull is tried again after the wait."
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


@dataclass(frozen=True)
class Connection:
    """An API partner's OneRoster REST connection, secret decrypted.

    ``version`` is ``"1.1"`` or ``"1.2"``; ``base_url`` the URL below which the version's path
    (``VERSION_PATHS``) is appended, unless it already ends with it. ``auth`` is ``"oauth2"``
    (``token_url``, ``client_id``, ``secret``, ``scopes``, ``client_auth`` ``"basic"`` or
    ``"post"``) or ``"oauth1"`` (``client_id`` is the consumer key, ``signature``
    ``"hmac-sha1"``/``"hmac-sha256"``). ``timeout`` is seconds per request; ``max_concurrency``
    how many requests may be in flight at once (1–5).
    """

    version: str
    base_url: str
    auth: str
    client_id: str
    secret: str = field(repr=False)
    token_url: str = ""
    scopes: tuple[str, ...] = ()
    client_auth: str = "basic"
    signature: str = "hmac-sha256"
    page_size: int = 1000
    timeout: float = 60.0
    max_concurrency: int = 1

    @property
    def api_root(self) -> str:
        """The URL collections hang below, e.g. ``https://sis.example/x/ims/oneroster/v1p1``."""
        path = VERSION_PATHS[self.version]
        base = self.base_url.rstrip("/")
        return base if base.endswith(path) else f"{base}/{path}"


class PullRetry(Retry):
    """urllib3's ``Retry`` with a time budget: a ``Retry-After`` (seconds or HTTP-date) longer
    than the time left before ``deadline`` (a ``time.monotonic()`` value) raises
    ``PullDeferred`` instead of sleeping; shorter ones are slept up to ``retry_after_max``.
    ``sleeper`` does the waiting (``time.sleep``; tests pass a clock)."""

    def __init__(
        self, *args: Any, deadline: float | None = None, sleeper: Callable[[float], None] = time.sleep, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.deadline = deadline
        self.sleeper = sleeper

    def new(self, **kw: Any) -> PullRetry:
        retry = super().new(**kw)
        retry.deadline, retry.sleeper = self.deadline, self.sleeper
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        header = response.headers.get("Retry-After")
        if header is None:
            return None
        if re.fullmatch(r"\s*[0-9]+\s*", header):
            asked = float(int(header))
        else:
            parsed = email.utils.parsedate_tz(header)
            asked = max(0.0, email.utils.mktime_tz(parsed) - time.time()) if parsed else 0.0
        if self.deadline is not None and asked > self.deadline - time.monotonic():
            raise PullDeferred(asked, response.status)
        return min(asked, self.retry_after_max)

    def sleep_for_retry(self, response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after:
            self.sleeper(retry_after)
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleeper(backoff)


@dataclass
class Page:
    """One answer of the server: ``status`` (HTTP), ``headers`` (case-insensitive mapping),
    ``body`` (the parsed JSON, or ``None`` when it was not JSON) and ``content_type``."""

    status: int
    headers: Any
    body: Any
    content_type: str
    url: str


class RestSession:
    """One pull's HTTP session over ``connection``: a pooled ``requests.Session`` with
    ``PullRetry`` on every request, the OAuth 2 token (fetched on first use, again before it
    expires, and once more on a data 401) or OAuth 1.0a signing. Thread-safe for
    ``max_concurrency`` parallel pages. ``budget`` is the pull's time budget in seconds;
    ``retries`` how many times one page is retried; ``backoff`` urllib3's backoff factor
    (seconds); ``retry_after_cap`` the longest single wait (seconds)."""

    def __init__(
        self,
        connection: Connection,
        *,
        budget: float = 3 * 3600,
        retries: int = 5,
        backoff: float = 1.0,
        retry_after_cap: float = 120.0,
        sleeper: Callable[[float], None] = time.sleep,
    ) -> None:
        for url, what in ((connection.base_url, "the base URL"), (connection.token_url, "the token URL")):
            problem = url_problem(url, what=what) if url or what == "the base URL" else None
            if problem and (connection.auth == "oauth2" or what == "the base URL"):
                raise ClientRefused(problem)
        self.connection = connection
        self.budget = budget
        self.deadline = time.monotonic() + budget
        self.requests = 0
        self.tokens = 0
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()
        shared: dict[str, Any] = dict(
            total=retries, allowed_methods=frozenset({"GET"}), backoff_factor=backoff, backoff_max=60,
            raise_on_status=False, sleeper=sleeper,
        )  # fmt: skip
        # Statuses (429, 5xx) are retried page by page in ``get_page`` with this policy, so that
        # each try is signed anew: urllib3 would replay the same OAuth 1.0a nonce, which a server
        # rightly refuses (RFC 5849 §3.3).
        self._retry = PullRetry(
            connect=0, read=0, status=retries, redirect=0, status_forcelist=RETRY_STATUSES,
            retry_after_max=retry_after_cap, respect_retry_after_header=True, deadline=self.deadline, **shared,
        )  # fmt: skip
        # The transport retries only what never reached the server (a refused or reset connection),
        # and, with OAuth 2, a read that timed out.
        transport = PullRetry(
            connect=retries, read=retries if connection.auth == "oauth2" else 0, status=0, redirect=3,
            status_forcelist=frozenset(), respect_retry_after_header=False, **shared,
        )  # fmt: skip
        self._transport = transport
        self.http = requests.Session()
        adapter = HTTPAdapter(
            max_retries=transport, pool_connections=1, pool_maxsize=max(1, connection.max_concurrency)
        )
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.http.headers.update({"Accept": "application/json", "User-Agent": "bts-portal-oneroster-pull/1"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RestSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, collection: str, params: dict[str, str | int]) -> str:
        """The URL of ``collection`` with ``params`` percent-encoded by RFC 3986 (space as ``%20``,
        never ``+``), so an OAuth 1.0a signature base string is the same on both sides (RFC 5849
        §3.4.1.3.2) whatever the filter holds (quotes, spaces, ``>``, ``:``)."""
        query = "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in params.items())
        return f"{self.connection.api_root}/{collection}" + (f"?{query}" if query else "")

    def get_page(self, url: str) -> Page:
        """GET ``url`` (from ``url``) and return the answer after the retries. A data 401 with
        OAuth 2 fetches a new token once and tries again. Raises ``ClientRefused`` when no token
        can be had, ``PullDeferred`` when the server asks to wait past the budget, and
        ``PullError`` when the server cannot be reached (connection refused, timeout) after the
        retries."""
        retry, renewed = self._retry, False
        while True:
            answer = self._get(url)
            if answer.status_code == 401 and self.connection.auth == "oauth2" and not renewed:
                renewed = True
                self._new_token(stale=str(answer.request.headers.get("Authorization", "")))
                continue
            if answer.status_code not in RETRY_STATUSES:
                break
            try:
                retry = retry.increment("GET", url, response=answer.raw)
            except MaxRetryError:
                break  # the page kept failing: the caller gets the last answer and names it
            retry.sleep(answer.raw)  # backoff, or Retry-After (capped; past the budget: PullDeferred)
        content_type = answer.headers.get("Content-Type", "")
        try:
            body = answer.json() if "json" in content_type.lower() or answer.content[:1] in (b"{", b"[") else None
        except ValueError:
            body = None
        return Page(answer.status_code, answer.headers, body, content_type, url)

    def _get(self, url: str) -> requests.Response:
        with self._lock:
            self.requests += 1
        try:
            if self.connection.auth == "oauth1":
                auth = OAuth1(
                    self.connection.client_id,
                    client_secret=self.connection.secret,
                    signature_method=SIGNATURES[self.connection.signature],
                    signature_type="AUTH_HEADER",
                )
                return self.http.get(url, auth=auth, timeout=self.connection.timeout)
            return self.http.get(
                url, headers={"Authorization": f"Bearer {self._bearer()}"}, timeout=self.connection.timeout
            )
        except UnicodeError:
            raise ClientRefused(
                "The client id or secret holds characters HTTP cannot carry (only plain ASCII works here)."
            ) from None
        except requests.exceptions.RetryError as error:
            raise PullError(f"The SIS kept failing at {_where(url)} after the retries ({_reason(error)}).") from None
        except requests.exceptions.Timeout:
            raise PullError(
                f"The SIS did not answer {_where(url)} within {self.connection.timeout:.0f} seconds, after the retries."
            ) from None
        except requests.exceptions.ConnectionError as error:
            raise PullError(f"The SIS could not be reached at {_where(url)} ({_reason(error)}).") from None

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() > self._token_expires:
                self._fetch_token()
            assert self._token is not None
            return self._token

    def _new_token(self, *, stale: str) -> None:
        with self._lock:
            if stale == f"Bearer {self._token}":  # another thread may have renewed it already
                self._fetch_token()

    def _fetch_token(self) -> None:
        """Get an OAuth 2 client-credentials token (RFC 6749 §4.4), client authentication by
        HTTP Basic or in the form body; the lock is held by the caller."""
        connection = self.connection
        if plain_http(connection.token_url):
            # oauthlib refuses http:// (RFC 6749 §3.1.2.1); a loopback provider (the demo's, the
            # tests') is the one place it is allowed, and ``check_urls`` refuses any other.
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        oauth = OAuth2Session(client=BackendApplicationClient(client_id=connection.client_id))
        oauth.mount("http://", HTTPAdapter(max_retries=self._transport))
        oauth.mount("https://", HTTPAdapter(max_retries=self._transport))
        answered: list[requests.Response] = []  # the token endpoint's answer, to name what went wrong

        def keep(response: requests.Response) -> requests.Response:
            answered.append(response)
            return response

        oauth.register_compliance_hook("access_token_response", keep)
        scope = list(connection.scopes) or None
        try:
            if connection.client_auth == "post":
                token = oauth.fetch_token(
                    connection.token_url,
                    client_id=connection.client_id,
                    client_secret=connection.secret,
                    include_client_id=True,
                    scope=scope,
                    timeout=connection.timeout,
                )
            else:
                token = oauth.fetch_token(
                    connection.token_url,
                    auth=HTTPBasicAuth(connection.client_id, connection.secret),
                    include_client_id=False,
                    scope=scope,
                    timeout=connection.timeout,
                )
        except InvalidClientError:
            raise ClientRefused(
                "The SIS refused the client id and secret (invalid_client): check them in the connection, "
                "and whether the SIS expects them by HTTP Basic or in the form body."
            ) from None
        except OAuth2Error as error:
            reply = answered[-1] if answered else None
            if reply is not None and (reply.status_code != 200 or "json" not in reply.headers.get("Content-Type", "")):
                kind = "an HTML page" if "html" in reply.headers.get("Content-Type", "").lower() else "no token"
                raise ClientRefused(
                    f"The token URL {_where(connection.token_url)} answered HTTP {reply.status_code} with {kind}: "
                    "check the token URL."
                ) from None
            described = f": {error.description}" if error.description else ""
            raise ClientRefused(f"The SIS refused the token request ({error.error}{described}).") from None
        except UnicodeError:
            raise ClientRefused(
                "The client id or secret holds characters HTTP cannot carry (only plain ASCII works here)."
            ) from None
        except (requests.exceptions.RequestException, ValueError) as error:
            raise ClientRefused(
                f"No token could be had from {_where(connection.token_url)} ({_reason(error)})."
            ) from None
        finally:
            oauth.close()
        with_count = self.tokens + 1
        self.tokens = with_count
        self._token = str(token["access_token"])
        expires_in = float(token.get("expires_in") or 3600)
        # Renew a minute early (or at half-life for short tokens) rather than meet a 401 mid-pull.
        self._token_expires = time.monotonic() + max(1.0, min(expires_in - 60, expires_in / 2))

    def check_token(self) -> None:
        """Get a token now (OAuth 2; nothing for OAuth 1.0a). Raises ``ClientRefused``."""
        if self.connection.auth == "oauth2":
            with self._lock:
                self._fetch_token()


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def plain_http(url: str) -> bool:
    """Whether ``url`` is ``http://`` (not TLS)."""
    return urlsplit(url).scheme.lower() == "http"


def url_problem(url: str, *, what: str) -> str | None:
    """Why ``url`` cannot be used for ``what`` ("the base URL", "the token URL"), or ``None``:
    it must be ``https://`` with a host; plain ``http://`` only to this machine (a local provider),
    since credentials and student data would otherwise cross the network in the clear."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{what[0].upper() + what[1:]} must be a full address such as https://sis.example.org/…"
    if parts.username or parts.password:
        return (
            f"{what[0].upper() + what[1:]} must not hold a user name or password (it would be shown and logged); "
            "put the credentials in the client id and secret."
        )
    if parts.scheme.lower() == "http" and parts.hostname not in LOOPBACK:
        return f"{what[0].upper() + what[1:]} must use https:// (plain http:// is allowed only to this machine)."
    return None


def _where(url: str) -> str:
    """A URL without its query (filters are long; nothing secret is ever in a URL)."""
    return url.split("?", 1)[0]


def _reason(error: BaseException) -> str:
    """A connection failure in words (never Python's exception text)."""
    text = str(error)
    for needle, words in (
        ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not trusted"),
        ("WRONG_VERSION_NUMBER", "it does not speak https at this address: is it an http:// address?"),
        ("SSL", "the TLS handshake failed"),
        ("Name or service not known", "the host name does not resolve"),
        ("NameResolutionError", "the host name does not resolve"),
        ("nodename nor servname", "the host name does not resolve"),
        ("Connection refused", "the connection was refused: nothing answers at that address and port"),
        ("timed out", "it did not answer in time"),
        ("Connection reset", "the connection was reset"),
        ("RemoteDisconnected", "it closed the connection without answering"),
    ):
        if needle in text:
            return words
    return "the connection failed"
