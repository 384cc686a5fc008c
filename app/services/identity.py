"""Who is acting: the profile's user id and the passphrase-protected signing keys.

profile.toml only says which user id this desktop acts as, i.e. which key to unlock;
it grants nothing. Every action that carries authority is signed with that person's
key, which only their passphrase unlocks (user id + passphrase: two components,
21 CFR 11.200(a)(1)), and the ledger's fold decides whether the key counts.

Keys live in the keyring (or the session, where there is none) only encrypted with
the passphrase, one entry per ledger, person and key:
``signing-key:<ledger id>:<user id>:<key id>``. An entry is never overwritten: a new
key (enrolment, rotation) always gets a new entry, so a scratch profile on the same
machine cannot replace anyone's key.
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
from app.services.signing import Ed25519Signer
from app.stores.profile_file import Profile, ProfileFile

log = logging.getLogger("gavel.identity")

MIN_PASSPHRASE = 8


class NoIdentity(GavelError):
    """This profile has no identity yet, or its key is not on this computer."""


class WrongPassphrase(GavelError):
    """The passphrase does not unlock the signing key."""


def signing_key_entry(ledger_id: str, user_id: str, key_id: str) -> str:
    """The keyring entry of one key: it names the ledger, the person and the key."""
    return f"signing-key:{ledger_id}:{user_id}:{key_id}"


class KeyVault:
    """Passphrase-encrypted Ed25519 keys in the credential store, never overwritten."""

    def __init__(self, secrets: CredentialStore) -> None:
        self._secrets = secrets

    @property
    def persistent(self) -> bool:
        """Whether keys outlive this session (they are encrypted, so a plaintext keyring
        file keeps them too)."""
        return self._secrets.persistent_encrypted

    def create(self, ledger_id: str, user_id: str, passphrase: str) -> Ed25519Signer:
        """A new key, stored under its own new entry; the caller enrols it."""
        if len(passphrase) < MIN_PASSPHRASE:
            raise UsageError(f"Choose a passphrase of at least {MIN_PASSPHRASE} characters.")
        key = Ed25519PrivateKey.generate()
        signer = Ed25519Signer(key)
        entry = signing_key_entry(ledger_id, user_id, signer.key_id)
        if self._secrets.get(entry) is not None:
            # A fresh key's id is its fingerprint: a clash means something is badly wrong.
            raise UsageError(f"The keyring already holds {entry}; nothing was changed.")
        pem = key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase.encode())
        )
        # Already encrypted with the passphrase: safe even in a plaintext keyring file.
        self._secrets.set(entry, pem.decode("ascii"), encrypted=True)
        return signer

    def discard(self, ledger_id: str, user_id: str, key_id: str) -> None:
        """Forget a key that was created but never reached the ledger."""
        self._secrets.delete(signing_key_entry(ledger_id, user_id, key_id))

    def has_key(self, ledger_id: str, user_id: str, key_id: str) -> bool:
        return self._secrets.get(signing_key_entry(ledger_id, user_id, key_id)) is not None

    def unlock(self, ledger_id: str, user_id: str, key_id: str, passphrase: str) -> Ed25519Signer:
        """The signer of one key; WrongPassphrase or NoIdentity otherwise."""
        pem = self._secrets.get(signing_key_entry(ledger_id, user_id, key_id))
        if pem is None:
            where = "keyring" if self._secrets.persistent else "session (no keyring available)"
            raise NoIdentity(
                f"The signing key {key_id} of {user_id} is not in this computer's {where}. "
                "If it was lost, run 'gavel identity rotate' (Identity → Replace my key…) "
                "and ask an admin to approve the new key."
            )
        try:
            key = load_pem_private_key(pem.encode("ascii"), passphrase.encode())
        except (ValueError, TypeError):
            raise WrongPassphrase(
                "The passphrase is wrong: nothing was signed. Try again."
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise WrongPassphrase("The stored signing key is not an Ed25519 key.")
        signer = Ed25519Signer(key)
        if signer.key_id != key_id:
            raise WrongPassphrase(f"The keyring entry for key {key_id} holds another key.")
        return signer


class IdentityService:
    """The profile (which user id this desktop acts as) and the key vault."""

    def __init__(self, profile: ProfileFile, vault: KeyVault) -> None:
        self._profile = profile
        self.vault = vault

    def profile(self) -> Profile:
        return self._profile.load()

    def save_profile(self, profile: Profile) -> None:
        self._profile.save(profile)

    def user_id(self) -> str | None:
        """The user id this profile acts as (it grants nothing by itself)."""
        return self._profile.load().user_id or None
