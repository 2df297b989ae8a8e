"""Connection secrets encrypted at rest (Fernet, from ``cryptography``), with key rotation.

``BTS_SECRET_KEYS`` lists Fernet keys; the first encrypts, any of them decrypts
(``MultiFernet``), so a new key goes first, ``rotate_connection_secrets`` re-encrypts every stored
secret with it, and then the old key can be dropped. A secret is decrypted only in memory, just
before a pull or a test, and is never written to a log, an audit row, a form or a run report.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted with any key in ``BTS_SECRET_KEYS`` (a key was
    dropped before rotation, or the value was damaged): staff must enter the secret again."""


def _fernet() -> MultiFernet:
    keys = settings.BTS_SECRET_KEYS
    if not keys:
        raise ImproperlyConfigured("BTS_SECRET_KEYS is empty: connection secrets cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "BTS_SECRET_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes each; "
            "make one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)."
        ) from error


def secret_encrypt(secret: str) -> str:
    """``secret`` encrypted with the first key, as text for a database column."""
    return _fernet().encrypt(secret.encode("utf-8")).decode("ascii")


def secret_decrypt(token: str) -> str:
    """The secret stored as ``token``. Raises ``SecretUnreadable``."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError):
        raise SecretUnreadable(
            "The stored secret cannot be decrypted with the keys in BTS_SECRET_KEYS; enter the secret again."
        ) from None


def secret_rotate(token: str) -> str:
    """``token`` re-encrypted with the first key (unchanged in meaning). Raises ``SecretUnreadable``."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        raise SecretUnreadable("The stored secret cannot be decrypted with the keys in BTS_SECRET_KEYS.") from None
