"""Registry passwords and tokens sealed at rest. The key is derived from the
dashboard's secret key (its file in the state directory, readable by root and
the web user only, never in the database), so a copy of the database alone
does not give the passwords away. The web side only seals (the admin form);
unsealing is for the node worker, when it pulls (node.py)."""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"terrarium registry credentials").derive(
        settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The clear secret, or None if it was sealed under another key (the secret key changed)."""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
