"""Who is acting: the profile's identity and its passphrase-protected signing key.

The private key is kept in the keyring (or the session, where there is none) only
encrypted with the person's passphrase, so signing needs two components: the user id
(whose key it is) and the passphrase (21 CFR 11.200(a)(1)).
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from app.connectors.credentials import CredentialStore
from app.domain.errors import GavelError, UsageError
from app.domain.governance import Identity
from app.services.signing import Ed25519Signer
from app.stores.profile_file import Profile, ProfileFile

log = logging.getLogger("gavel.identity")

MIN_PASSPHRASE = 8


class NoIdentity(GavelError):
    """This profile has no identity yet."""


class WrongPassphrase(GavelError):
    """The passphrase does not unlock the signing key."""


def signing_key_entry(user_id: str) -> str:
    return f"signing-key:{user_id}"


class KeyVault:
    """Passphrase-encrypted Ed25519 keys in the credential store, one per user id."""

    def __init__(self, secrets: CredentialStore) -> None:
        self._secrets = secrets

    @property
    def persistent(self) -> bool:
        return self._secrets.persistent

    def create(self, user_id: str, passphrase: str) -> Ed25519Signer:
        if len(passphrase) < MIN_PASSPHRASE:
            raise UsageError(f"Choose a passphrase of at least {MIN_PASSPHRASE} characters.")
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase.encode())
        )
        self._secrets.set(signing_key_entry(user_id), pem.decode("ascii"))
        return Ed25519Signer(key)

    def has_key(self, user_id: str) -> bool:
        return self._secrets.get(signing_key_entry(user_id)) is not None

    def unlock(self, user_id: str, passphrase: str) -> Ed25519Signer:
        """The signer for user_id; WrongPassphrase or NoIdentity otherwise."""
        pem = self._secrets.get(signing_key_entry(user_id))
        if pem is None:
            where = "keyring" if self._secrets.persistent else "session (no keyring available)"
            raise NoIdentity(
                f"No signing key for {user_id} is in the {where}. "
                "Run 'gavel identity init' (or Identity → Enroll) to create one."
            )
        try:
            key = load_pem_private_key(pem.encode("ascii"), passphrase.encode())
        except (ValueError, TypeError):
            raise WrongPassphrase(
                "The passphrase is wrong: nothing was signed. Try again."
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise WrongPassphrase("The stored signing key is not an Ed25519 key.")
        return Ed25519Signer(key)


class IdentityService:
    def __init__(self, profile: ProfileFile, vault: KeyVault) -> None:
        self._profile = profile
        self.vault = vault

    def profile(self) -> Profile:
        return self._profile.load()

    def save_profile(self, profile: Profile) -> None:
        self._profile.save(profile)

    def current(self) -> Identity | None:
        p = self._profile.load()
        if not p.user_id:
            return None
        return Identity(p.user_id, p.display_name or p.user_id, p.registry_usernames)

    def require(self) -> Identity:
        me = self.current()
        if me is None:
            raise NoIdentity(
                "This profile has no identity yet: run 'gavel identity init' "
                "(or Identity → Enroll in the console) first."
            )
        return me
