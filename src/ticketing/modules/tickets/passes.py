"""Pass tokens: what a QR code on an e-ticket holds, signed so a door checks it offline.

A token is ``T1.<ticket id>.<pass version>.<signature>``: the signature (Ed25519, 64
bytes in unpadded base64url) covers everything before its dot. Ed25519 because it is
asymmetric (a door device holds only the public key, which cannot make passes), its
signatures are short enough for a small QR code, and browsers verify it in WebCrypto.
The version is the pass's: a transfer, resale or refund raises it, so an old printout
still verifies as genuine but is refused as replaced.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ticketing.errors import DomainError
from ticketing.ids import is_valid_id

FORMAT = "T1"
ALGORITHM = "Ed25519"
SIGNATURE_BYTES = 64


class UnreadablePass(DomainError):
    """Not a pass token at all: a mistyped code or some other QR code."""

    code = "pass_unreadable"


class ForgedPass(DomainError):
    """Shaped like a pass, but not signed by this system's key."""

    code = "pass_forged"


@dataclass(frozen=True)
class PassClaim:
    """What a genuine token says: this version of this ticket's pass."""

    ticket_id: str
    version: int


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    """Strict: a character outside base64url makes the token unreadable, not ignored."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class PassSigner:
    """Signs and checks tokens with one Ed25519 key (the seed from the settings)."""

    def __init__(self, seed: str) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(_decode(seed))
        self._public: Ed25519PublicKey = self._private.public_key()
        raw = self._public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = _encode(raw)
        # Short enough to show on a door device, so staff can tell a key change.
        self.key_id = _encode(hashlib.sha256(raw).digest()[:6])

    def token(self, ticket_id: str, version: int) -> str:
        message = f"{FORMAT}.{ticket_id}.{version}"
        return f"{message}.{_encode(self._private.sign(message.encode()))}"

    def verify(self, token: str) -> PassClaim:
        """The claim of a genuine token; UnreadablePass or ForgedPass otherwise."""
        parts = token.strip().split(".")
        if len(parts) != 4 or parts[0] != FORMAT or not is_valid_id(parts[1]) \
                or not parts[2].isdigit() or len(parts[2]) > 9:
            raise UnreadablePass()
        try:
            signature = _decode(parts[3])
        except ValueError:
            raise UnreadablePass() from None
        if len(signature) != SIGNATURE_BYTES:
            raise UnreadablePass()
        try:
            self._public.verify(signature, ".".join(parts[:3]).encode())
        except InvalidSignature:
            raise ForgedPass() from None
        return PassClaim(ticket_id=parts[1], version=int(parts[2]))
