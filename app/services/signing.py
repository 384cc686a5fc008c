"""Ed25519 signing of ledger events: a signer for a private key, a verifier for public ones.

A signature covers the 32 raw bytes of an event's SHA-256 (not its hex spelling).
Private keys belong in the OS keyring; ``private_bytes`` exists to put them there.
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from app.domain.errors import UsageError
from app.domain.ledger_keys import SignatureVerifier, key_id_for


class Ed25519Signer:
    """An EventSigner holding one Ed25519 private key; its key id is its fingerprint."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._key_id = key_id_for(self.public_key)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> Ed25519Signer:
        """Load the 32-byte raw private key kept in the keyring."""
        try:
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError:
            raise UsageError("The stored signing key is not a 32-byte Ed25519 key.") from None

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_key).decode("ascii")

    def private_bytes(self) -> bytes:
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, digest: bytes) -> bytes:
        """Sign an event hash given as its 32 raw bytes."""
        if len(digest) != 32:
            raise UsageError("A ledger signature covers a 32-byte SHA-256 digest.")
        return self._key.sign(digest)


class Ed25519Verifier:
    """A SignatureVerifier for raw 32-byte Ed25519 public keys."""

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class MemoVerifier:
    """Remembers signatures that verified, so one audit checks each only once (the chain
    verification and the authority fold both look at every signed event)."""

    def __init__(self, inner: SignatureVerifier | None = None) -> None:
        self._inner = inner or Ed25519Verifier()
        self._verified: set[tuple[bytes, bytes, bytes]] = set()

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        key = (public_key, signature, message)
        if key in self._verified:
            return True
        if not self._inner.verify(public_key, signature, message):
            return False
        self._verified.add(key)
        return True

    def remember(self, public_key: bytes, signature: bytes, message: bytes) -> None:
        """Record a check that verified elsewhere (a worker process of the audit)."""
        self._verified.add((public_key, signature, message))
