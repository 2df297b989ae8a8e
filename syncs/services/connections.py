"""Writes of API partners' OneRoster REST connections: save (secret encrypted), test, rotate keys.

Every write leaves an audit row; none holds the secret (an audit row says only that the secret
was set, and when). Instants are aware UTC.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from lib.oneroster_rest import ClientRefused, Connection, PullError, RestSession
from lib.oneroster_rest.pager import Incomplete, page_records
from partners.audit import audit_record, audited_save
from partners.models import Partner

from ..models import OneRosterConnection
from ..secrets import SecretUnreadable, secret_decrypt, secret_encrypt, secret_rotate

# The fields staff set (the secret is set on its own, write-only).
CONNECTION_FIELDS = [
    "version",
    "base_url",
    "auth",
    "token_url",
    "client_id",
    "scopes",
    "client_auth",
    "signature",
    "page_size",
    "timeout_seconds",
    "max_concurrency",
]


@transaction.atomic
def connection_save(
    *,
    partner: Partner,
    by: User | AnonymousUser | None,
    values: dict[str, object],
    secret: str | None = None,
    actor_label: str = "",
) -> OneRosterConnection:
    """Create or change ``partner``'s connection with ``values`` (``CONNECTION_FIELDS``; missing
    ones keep their value) and, when ``secret`` is given (not ``None`` or ``""``), a new secret,
    encrypted. The audit row lists the changed fields and says "secret changed" without it.
    Raises ``ValueError`` for a new connection without a secret."""
    connection = OneRosterConnection.objects.select_for_update().filter(partner=partner).first()
    connection = connection or OneRosterConnection(partner=partner)
    for name, value in values.items():
        if name in CONNECTION_FIELDS:
            setattr(connection, name, value)
    if secret:
        connection.secret_encrypted = secret_encrypt(secret)
        connection.secret_set_at = timezone.now()
    elif not connection.secret_encrypted:
        raise ValueError("A new connection needs its secret.")
    connection.full_clean(exclude=["partner"])
    stored = OneRosterConnection.objects.filter(pk=connection.pk).values(*CONNECTION_FIELDS).first()
    if secret or stored is None or any(stored[n] != getattr(connection, n) for n in CONNECTION_FIELDS):
        # A test of the connection as it was says nothing of the new one.
        connection.last_test_at, connection.last_test_ok, connection.last_test_message = None, None, ""
    audited_save(
        instance=connection,
        by=by,
        action="sync.connection_saved",
        fields=[*CONNECTION_FIELDS, "secret_set_at"],
        partner=partner,
        what=f"the OneRoster connection of {partner}",
    )
    return connection


def rest_connection(connection: OneRosterConnection) -> Connection:
    """The connection as the pull library takes it, secret decrypted (in memory only). Raises
    ``SecretUnreadable``."""
    return Connection(
        version=connection.version,
        base_url=connection.base_url,
        auth=connection.auth,
        client_id=connection.client_id,
        secret=secret_decrypt(connection.secret_encrypted),
        token_url=connection.token_url,
        scopes=tuple(connection.scopes.split()),
        client_auth=connection.client_auth,
        signature=connection.signature,
        page_size=connection.page_size,
        timeout=float(connection.timeout_seconds),
        max_concurrency=connection.max_concurrency,
    )


@dataclass(frozen=True)
class ConnectionCheck:
    """What *Test connection* found: ``ok``, ``message`` (plain words: what came back, or the
    exact failure), ``orgs`` (up to 5 ``(sourcedId, name, type)`` of the first page), ``total``
    (the server's ``X-Total-Count`` of /orgs, ``None`` when not sent)."""

    ok: bool
    message: str
    orgs: tuple[tuple[str, str, str], ...] = ()
    total: int | None = None


def connection_test(
    *, connection: OneRosterConnection, by: User | AnonymousUser | None, actor_label: str = ""
) -> ConnectionCheck:
    """Get a token (OAuth 2) and one page of ``/orgs``, record the outcome on the connection
    (``last_test_*``) with an audit row, and return it. Raises nothing for a failing SIS."""
    check = _check(connection)
    OneRosterConnection.objects.filter(pk=connection.pk).update(
        last_test_at=timezone.now(), last_test_ok=check.ok, last_test_message=check.message
    )
    connection.refresh_from_db()
    audit_record(
        action="sync.connection_tested",
        actor=by,
        actor_label=actor_label,
        partner=connection.partner,
        message=f"Tested the OneRoster connection of {connection.partner}: {check.message}",
        detail={"ok": check.ok},
    )
    return check


def _check(connection: OneRosterConnection) -> ConnectionCheck:
    try:
        rest = rest_connection(connection)
        with RestSession(rest, budget=2 * rest.timeout + 30, retries=1, backoff=0) as session:
            session.check_token()
            page = session.get_page(session.url("orgs", {"limit": 5, "offset": 0, "sort": "sourcedId"}))
            records = page_records(page, "orgs", 0, filtered=False)
    except (SecretUnreadable, ClientRefused, Incomplete, PullError) as error:
        return ConnectionCheck(False, str(error))
    total_header = page.headers.get("X-Total-Count")
    total = int(total_header) if total_header and total_header.strip().isdigit() else None
    orgs = tuple((str(r.get("sourcedId", "")), str(r.get("name", "")), str(r.get("type", ""))) for r in records[:5])
    auth = "a token and " if connection.auth == OneRosterConnection.Auth.OAUTH2 else ""
    named = ", ".join(f"{name or sid} ({kind})" if kind else (name or sid) for sid, name, kind in orgs)
    counted = f"{total:,} org(s) in all" if total is not None else "no total sent (X-Total-Count)"
    if not records:
        return ConnectionCheck(
            True,
            f"Connected: got {auth}an empty first page of /orgs ({counted}). The credentials may not "
            "cover any school yet.",
            orgs,
            total,
        )
    return ConnectionCheck(True, f"Connected: got {auth}the first page of /orgs ({counted}): {named}.", orgs, total)


@transaction.atomic
def connection_rotate_secrets(*, actor_label: str = "command:rotate_connection_secrets") -> tuple[int, list[str]]:
    """Re-encrypt every stored secret with the first key of ``BTS_SECRET_KEYS``. Returns how many
    were rotated and the partners whose secret cannot be read (to enter again). One audit row."""
    rotated, unreadable = 0, []
    for connection in OneRosterConnection.objects.select_for_update().select_related("partner"):
        try:
            token = secret_rotate(connection.secret_encrypted)
        except SecretUnreadable:
            unreadable.append(connection.partner.slug)
            continue
        OneRosterConnection.objects.filter(pk=connection.pk).update(secret_encrypted=token)
        rotated += 1
    audit_record(
        action="sync.connection_secrets_rotated",
        actor_label=actor_label,
        message=f"Re-encrypted {rotated} OneRoster connection secret(s) with the first key"
        + (f"; unreadable: {', '.join(unreadable)}" if unreadable else "."),
        detail={"rotated": rotated, "unreadable": unreadable},
    )
    return rotated, unreadable
