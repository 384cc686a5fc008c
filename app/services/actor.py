"""This desktop's person as the ledger knows them, and the key that signs for them."""

from __future__ import annotations

from app.domain.governance import Identity, MemberStatus
from app.services.authority import AuthorityLedger
from app.services.identity import IdentityService, NoIdentity
from app.services.signing import Ed25519Signer

ENROLL_HINT = "run 'gavel identity init' (or Identity → Enroll… in the console) first"


class Actor:
    """Resolves 'me': the profile's user id, looked up in the ledger's fold."""

    def __init__(self, identity: IdentityService, authority: AuthorityLedger) -> None:
        self._identity = identity
        self._authority = authority
        self._ledger_id = ""

    @property
    def identity(self) -> IdentityService:
        return self._identity

    def ledger_id(self) -> str:
        """The ledger's name for keyring entries: the start of its first event's hash.

        Read once: a ledger's first event never changes, and signing into the outbox
        must not need a ledger that stopped answering."""
        if not self._ledger_id:
            genesis = self._authority.audit.genesis_hash()
            if genesis is None:
                raise NoIdentity("The audit ledger is empty; Gavel has not set it up yet.")
            self._ledger_id = genesis[:16]
        return self._ledger_id

    def user_id(self) -> str:
        user = self._identity.user_id()
        if not user:
            raise NoIdentity(f"This profile has no identity yet: {ENROLL_HINT}.")
        return user

    def current(self) -> Identity | None:
        """Me as the ledger knows me (status UNKNOWN if not enrolled); None without a profile."""
        user = self._identity.user_id()
        if not user:
            return None
        return self._authority.read(lambda s: s.identity(user))

    def me(self) -> Identity:
        user = self.user_id()
        return self._authority.read(lambda s: s.identity(user))

    def has_key(self) -> bool:
        """Whether my active key is on this computer (without unlocking it)."""
        me = self.current()
        if me is None or me.key_id is None:
            return False
        return self._identity.vault.has_key(self.ledger_id(), me.user_id, me.key_id)

    def signer(self, passphrase: str) -> Ed25519Signer:
        """My active key, unlocked; a sentence saying why not otherwise."""
        me = self.me()
        if me.status is not MemberStatus.ACTIVE or me.key_id is None:
            raise NoIdentity(_inactive(me))
        return self._identity.vault.unlock(self.ledger_id(), me.user_id, me.key_id, passphrase)


def _inactive(me: Identity) -> str:
    if me.status is MemberStatus.UNKNOWN:
        return f"{me.user_id} has not enrolled on this ledger: {ENROLL_HINT}."
    if me.status is MemberStatus.PENDING:
        return (
            f"{me.user_id}'s key is waiting for an admin's approval; nothing can be signed "
            "with it until then ('gavel identity pending' lists it for admins)."
        )
    return (
        f"{me.user_id}'s key was revoked. Run 'gavel identity rotate' to enrol a new one "
        "and ask an admin to approve it."
    )
