"""The promotion workflow: requests, signed decisions, applying, roles and policy.

Every rule is enforced here, so no face (console, CLI, a second profile) can bypass
it. All state is folded from the audit ledger; nothing about a request lives
anywhere else, so the ledger alone tells its whole story.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from app.domain.errors import GavelError, UsageError
from app.domain.governance import (
    CHECKLIST,
    DEFAULT_POLICIES,
    Decision,
    Evidence,
    FoldEvent,
    Identity,
    NotAuthorized,
    Policy,
    PolicyStatus,
    PromotionRequest,
    Role,
    SignatureMeaning,
    TargetKind,
    VersionIdentity,
    check_can_decide,
    fold_requests,
    fold_roles,
    parse_stage,
    policy_for,
    policy_status,
    request_subject,
    stage_name,
)
from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.ledger_query import LedgerQuery
from app.domain.registry import RegistryConfig
from app.services.audit import AuditService
from app.services.identity import IdentityService
from app.services.portfolio import PortfolioService

if TYPE_CHECKING:
    from app.connectors.mlflow_registry import MlflowRegistryClient

log = logging.getLogger("gavel.governance")

WorkflowClientFactory = Callable[[RegistryConfig], "MlflowRegistryClient"]

_REQUEST_ACTIONS = (
    LedgerAction.REQUEST_CREATED.value,
    LedgerAction.REQUEST_APPROVED.value,
    LedgerAction.REQUEST_REJECTED.value,
    LedgerAction.COMMENT_ADDED.value,
    LedgerAction.CONFLICT_DETECTED.value,
    LedgerAction.PROMOTION_APPLIED.value,
)
_ROLE_ACTIONS = (LedgerAction.ROLE_GRANTED.value, LedgerAction.ROLE_REVOKED.value)

# Ledger events read per query while folding requests.
_FOLD_SPAN = 20_000

TAG_REQUEST = "gavel.request_id"
TAG_APPROVED_BY = "gavel.approved_by"
TAG_LEDGER_HASH = "gavel.ledger_hash"


def _fold_event(e: LedgerEvent) -> FoldEvent:
    return FoldEvent(
        e.seq, e.at, e.actor, e.action, e.subject, e.before, e.after, e.reason, e.hash, e.signer
    )


@dataclass(frozen=True)
class RequestView:
    """A request with what its policy still needs, for the inbox and the detail view."""

    request: PromotionRequest
    policy: Policy
    status: PolicyStatus


class GovernanceService:
    def __init__(
        self,
        audit: AuditService,
        identity: IdentityService,
        portfolio: PortfolioService,
        registry_config: Callable[[str], RegistryConfig],
        client_factory: WorkflowClientFactory,
    ) -> None:
        self._audit = audit
        self._identity = identity
        self._portfolio = portfolio
        self._registry_config = registry_config
        self._client_factory = client_factory
        # Requests folded so far, and the last ledger event folded into them.
        self._fold_lock = threading.Lock()
        self._folded: dict[str, PromotionRequest] = {}
        self._folded_seq = 0

    @property
    def audit(self) -> AuditService:
        return self._audit

    def registry_config(self, name: str) -> RegistryConfig:
        return self._registry_config(name)

    def client(self, cfg: RegistryConfig) -> MlflowRegistryClient:
        """A registry client for workflow writes (alias or stage, tags) and re-reads."""
        return self._client_factory(cfg)

    # ----------------------------------------------------------------- identity & roles

    def me(self) -> Identity:
        return self._identity.require()

    def init_identity(
        self,
        user_id: str,
        display_name: str,
        registry_usernames: tuple[str, ...],
        passphrase: str,
    ) -> str:
        """Create this profile's identity and signing key; returns the key id.

        The public key is enrolled in the ledger with a proof of possession. On a
        ledger with no admin yet, this first identity becomes its admin.
        """
        user_id = user_id.strip()
        if not user_id or any(c.isspace() for c in user_id) or len(user_id) > 64:
            raise UsageError("A user id is 1 to 64 characters without spaces, e.g. 'a.lovelace'.")
        profile = self._identity.profile()
        if profile.user_id and profile.user_id != user_id:
            raise UsageError(
                f"This profile already belongs to {profile.user_id}; use another GAVEL_HOME "
                "for another person."
            )
        if user_id in self.identities() and self._identity.vault.has_key(user_id):
            raise UsageError(f"{user_id} already has an identity and a signing key.")
        self._identity.save_profile(
            replace(
                profile,
                user_id=user_id,
                display_name=display_name.strip() or user_id,
                registry_usernames=tuple(u.strip() for u in registry_usernames if u.strip()),
            )
        )
        me = self._identity.require()
        signer = self._identity.vault.create(user_id, passphrase)
        self._audit.record(
            user_id,
            LedgerAction.IDENTITY_DECLARED,
            f"user:{user_id}",
            after={
                "user_id": me.user_id,
                "display_name": me.display_name,
                "registry_usernames": list(me.registry_usernames),
            },
            reason="Identity enrolled.",
        )
        self._audit.enroll_key(user_id, signer.public_key, "Signing key enrolled.", proof=signer)
        roles, _ = self.roles()
        if not any(Role.ADMIN in r for r in roles.values()):
            self._audit.record(
                user_id,
                LedgerAction.ROLE_GRANTED,
                f"user:{user_id}",
                after={"user": user_id, "role": Role.ADMIN.value},
                reason="First identity of a new ledger becomes its admin.",
            )
        log.info("identity %s enrolled with key %s", user_id, signer.key_id)
        return signer.key_id

    def identities(self) -> dict[str, Identity]:
        """Everyone who declared an identity in the ledger (latest declaration wins)."""
        out: dict[str, Identity] = {}
        query = LedgerQuery(actions=(LedgerAction.IDENTITY_DECLARED.value,))
        for e in self._audit.page(query, limit=None):
            after = e.after if isinstance(e.after, Mapping) else {}
            if after.get("user_id") != e.actor:
                continue  # nobody declares an identity for someone else
            names = after.get("registry_usernames")
            out[e.actor] = Identity(
                e.actor,
                str(after.get("display_name") or e.actor),
                tuple(str(n) for n in names) if isinstance(names, list) else (),
            )
        return out

    def roles(self) -> tuple[dict[str, set[Role]], list[str]]:
        events = self._audit.page(LedgerQuery(actions=_ROLE_ACTIONS), limit=None)
        return fold_roles(_fold_event(e) for e in events)

    def roles_of(self, user_id: str) -> set[Role]:
        return set(self.roles()[0].get(user_id, set()))

    def _require_admin(self, me: Identity) -> None:
        if Role.ADMIN not in self.roles_of(me.user_id):
            raise NotAuthorized(f"Only an admin can change roles or policy; {me.user_id} is not.")

    def grant(self, user_id: str, role: Role, reason: str = "") -> LedgerEvent:
        me = self.me()
        self._require_admin(me)
        if role in self.roles_of(user_id):
            raise UsageError(f"{user_id} already has the {role.value} role.")
        return self._audit.record(
            me.user_id,
            LedgerAction.ROLE_GRANTED,
            f"user:{user_id}",
            after={"user": user_id, "role": role.value},
            reason=reason or f"{role.value} role granted.",
        )

    def revoke(self, user_id: str, role: Role, reason: str = "") -> LedgerEvent:
        me = self.me()
        self._require_admin(me)
        if role not in self.roles_of(user_id):
            raise UsageError(f"{user_id} does not have the {role.value} role.")
        if role is Role.ADMIN and user_id == me.user_id:
            admins = [u for u, r in self.roles()[0].items() if Role.ADMIN in r]
            if admins == [me.user_id]:
                raise UsageError("You are the only admin; grant admin to someone else first.")
        return self._audit.record(
            me.user_id,
            LedgerAction.ROLE_REVOKED,
            f"user:{user_id}",
            before={"user": user_id, "role": role.value},
            after={"user": user_id, "role": role.value},
            reason=reason or f"{role.value} role revoked.",
        )

    # ------------------------------------------------------------------------- policy

    def policies(self) -> dict[str, Policy]:
        """Defaults, overridden by the profile, overridden by policy events in the ledger."""
        out = dict(DEFAULT_POLICIES)
        for tier, table in self._identity.profile().policies.items():
            out[tier] = Policy.from_json({"risk_tier": tier, **table})
        roles = self.roles()[0]
        query = LedgerQuery(actions=(LedgerAction.POLICY_CHANGED.value,))
        for e in self._audit.page(query, limit=None):
            # Policy events by someone who is not an admin now do not count.
            if Role.ADMIN in roles.get(e.actor, set()) and isinstance(e.after, Mapping):
                try:
                    policy = Policy.from_json(e.after)
                except UsageError:
                    continue
                out[policy.risk_tier] = policy
        return out

    def set_policy(self, policy: Policy, reason: str = "") -> LedgerEvent:
        me = self.me()
        self._require_admin(me)
        before = self.policies().get(policy.risk_tier)
        return self._audit.record(
            me.user_id,
            LedgerAction.POLICY_CHANGED,
            f"policy:{policy.risk_tier}",
            before=before.to_json() if before else None,
            after=policy.to_json(),
            reason=reason or f"Policy for {policy.risk_tier}-risk models changed.",
        )

    # ----------------------------------------------------------------------- requests

    def requests(self) -> list[PromotionRequest]:
        """Every request, newest first, as the ledger tells it.

        Folded incrementally: only events after the last one folded are read, in
        chunks, so a refresh costs what happened since, not the whole history.
        """
        with self._fold_lock:
            # Sequence numbers are gapless, so the count is the newest seq. Windows of
            # seqs (not LIMIT) keep each query an index range, whatever the ledger size.
            head = self._audit.count()
            for start in range(self._folded_seq + 1, head + 1, _FOLD_SPAN):
                query = LedgerQuery(
                    actions=_REQUEST_ACTIONS, from_seq=start, to_seq=start + _FOLD_SPAN - 1
                )
                chunk = self._audit.page(query, limit=None)
                fold_requests((_fold_event(e) for e in chunk), into=self._folded)
            self._folded_seq = max(self._folded_seq, head)
            # Copies: callers may build on a request without changing the fold.
            snapshot = [
                replace(
                    r,
                    checklist=dict(r.checklist),
                    decisions=list(r.decisions),
                    comments=list(r.comments),
                    event_seqs=list(r.event_seqs),
                )
                for r in self._folded.values()
            ]
        return sorted(snapshot, key=lambda r: r.created_seq, reverse=True)

    def request(self, request_id: str) -> PromotionRequest:
        matches = [r for r in self.requests() if r.request_id.startswith(request_id)]
        if not matches:
            raise UsageError(f"There is no promotion request '{request_id}'.")
        if len(matches) > 1:
            raise UsageError(f"'{request_id}' matches several requests; give more of its id.")
        return matches[0]

    def view(self, request: PromotionRequest) -> RequestView:
        return self._view(request, self.policies(), self.roles()[0])

    def views(self) -> list[RequestView]:
        """Every request with its policy status; roles and policies are read once."""
        policies, roles = self.policies(), self.roles()[0]
        return [self._view(r, policies, roles) for r in self.requests()]

    def _view(
        self,
        request: PromotionRequest,
        policies: Mapping[str, Policy],
        roles: Mapping[str, set[Role]],
    ) -> RequestView:
        policy = policy_for(request.risk_tier, policies)
        status = policy_status(
            request, policy, lambda u: roles.get(u, set()), self._metrics(request.identity)
        )
        return RequestView(request, policy, status)

    def events_of(self, request: PromotionRequest) -> list[LedgerEvent]:
        return self._audit.events(request.event_seqs)

    def _metrics(self, identity: VersionIdentity) -> dict[str, float]:
        run = self._portfolio.run_detail(identity.registry, identity.run_id)
        return {k: m.value for k, m in run.metrics.items()} if run else {}

    def _cached_version(self, registry: str, model: str, version: int) -> tuple[object, str]:
        detail = self._portfolio.find_model(model, registry)
        for v in detail.versions:
            if v.version == version:
                run = self._portfolio.run_detail(registry, v.run_id) if v.run_id else None
                return v, run.user_id if run else ""
        raise UsageError(
            f"Version {version} of '{model}' is not in the cache; sync '{registry}' first."
        )

    def create_request(
        self,
        registry: str,
        model: str,
        version: int,
        alias: str,
        justification: str,
        checklist: Mapping[str, str] | None = None,
        *,
        stage: str | None = None,
    ) -> PromotionRequest:
        """Request promoting a cached version to an alias; needs the requester role.

        stage: request moving the version into this MLflow stage (Staging, Production,
        Archived) instead; alias must then be "".
        """
        me = self.me()
        roles = self.roles_of(me.user_id)
        if not roles & {Role.REQUESTER, Role.ADMIN}:
            raise NotAuthorized(
                f"Requesting a promotion needs the requester role; {me.user_id} has "
                f"{', '.join(sorted(r.value for r in roles)) or 'no role'}."
            )
        alias = alias.strip()
        if stage is not None:
            if alias:
                raise UsageError("A request targets an alias or a stage, not both.")
            stage = parse_stage(stage)
        elif not alias or alias.lower() == "latest" or any(c.isspace() for c in alias):
            raise UsageError(f"'{alias}' is not an alias name MLflow accepts.")
        if not justification.strip():
            raise UsageError("A promotion request needs a justification.")
        checklist = {k: v.strip() for k, v in (checklist or {}).items() if v.strip()}
        unknown = [k for k in checklist if k not in CHECKLIST]
        if unknown:
            raise UsageError(f"Unknown checklist item(s): {', '.join(unknown)}.")
        detail = self._portfolio.find_model(model, registry)
        cached = next((v for v in detail.versions if v.version == version), None)
        if cached is None:
            raise UsageError(
                f"Version {version} of '{model}' is not in the cache; sync '{registry}' first."
            )
        identity = VersionIdentity(
            registry, model, version, cached.creation_timestamp, cached.run_id, cached.source
        )
        run = self._portfolio.run_detail(registry, cached.run_id) if cached.run_id else None
        evidence = Evidence(
            {k: m.value for k, m in run.metrics.items()} if run else {},
            tuple(d.digest for d in run.datasets) if run else (),
        )
        # A stage request carries no "alias" key, so a Gavel that predates stage
        # targets skips it instead of mistaking it for an alias request.
        target: dict[str, Any] = (
            {
                "target_kind": TargetKind.STAGE.value,
                "stage": stage,
                "stage_at_request": stage_name(cached.current_stage),
            }
            if stage is not None
            else {"alias": alias, "alias_version_at_request": detail.aliases.get(alias)}
        )
        request_id = uuid.uuid4().hex[:12]
        event = self._audit.record(
            me.user_id,
            LedgerAction.REQUEST_CREATED,
            request_subject(request_id),
            after={
                "request": {
                    "version": identity.to_json(),
                    **target,
                    "justification": justification.strip(),
                    "checklist": checklist,
                    "risk_tier": detail.tags.get("risk_tier", ""),
                    "evidence_digest": evidence.digest(),
                }
            },
            reason=justification.strip(),
        )
        log.info("request %s created by %s (seq %d)", request_id, me.user_id, event.seq)
        return self.request(request_id)

    def can_decide(
        self, request: PromotionRequest, meaning: SignatureMeaning = SignatureMeaning.APPROVAL
    ) -> tuple[bool, str]:
        """Whether this profile's person may approve/reject, and if not, why (for tooltips).

        meaning: which decision the reason should speak of ('cannot approve' / 'reject').
        """
        try:
            self._check_decide(request, meaning)
        except GavelError as exc:
            return False, exc.message
        return True, ""

    def _check_decide(self, request: PromotionRequest, meaning: SignatureMeaning) -> Identity:
        me = self.me()
        policy = policy_for(request.risk_tier, self.policies())
        version, run_user = self._cached_version(
            request.identity.registry, request.identity.model, request.identity.version
        )
        check_can_decide(
            me,
            self.roles_of(me.user_id),
            request,
            policy,
            getattr(version, "user_id", ""),
            run_user,
            meaning,
        )
        return me

    def signing_manifest(
        self, request: PromotionRequest, meaning: SignatureMeaning
    ) -> dict[str, Any]:
        """Exactly what a signature will cover, for the dialog to show before signing."""
        me = self.me()
        target: dict[str, Any] = (
            {"target_kind": TargetKind.STAGE.value, "stage": request.stage}
            if request.is_stage
            else {"alias": request.alias}
        )
        return {
            "request_id": request.request_id,
            "request_hash": request.created_hash,
            "version": request.identity.to_json(),
            **target,
            "evidence_digest": request.evidence_digest,
            "manifestation": {
                "printed_name": me.display_name,
                "user_id": me.user_id,
                "meaning": meaning.value,
            },
        }

    def decide(
        self, request_id: str, meaning: SignatureMeaning, comment: str, passphrase: str
    ) -> PromotionRequest:
        """Approve or reject with a signature; needs the user id's key and its passphrase."""
        if meaning is SignatureMeaning.REVIEW:
            raise UsageError("A review signature is not a decision; use approve or reject.")
        request = self.request(request_id)
        me = self._check_decide(request, meaning)
        if meaning is SignatureMeaning.REJECTION and not comment.strip():
            raise UsageError("A rejection needs a comment saying why.")
        signer = self._identity.vault.unlock(me.user_id, passphrase)
        after = self.signing_manifest(request, meaning)
        if meaning is SignatureMeaning.APPROVAL:
            # Would this approval satisfy the policy? Recorded so every reader agrees on
            # when the request became approved, whatever the policy is later.
            probe = replace(request, decisions=list(request.decisions))
            probe.decisions.append(
                Decision(0, me.user_id, meaning, comment, request.created_at, signer.key_id, "")
            )
            after["policy_satisfied"] = self.view(probe).status.satisfied
        action = (
            LedgerAction.REQUEST_APPROVED
            if meaning is SignatureMeaning.APPROVAL
            else LedgerAction.REQUEST_REJECTED
        )
        self._audit.record(
            me.user_id,
            action,
            request_subject(request.request_id),
            after=after,
            reason=comment.strip(),
            signer=signer,
        )
        return self.request(request.request_id)

    def approve(self, request_id: str, comment: str, passphrase: str) -> PromotionRequest:
        return self.decide(request_id, SignatureMeaning.APPROVAL, comment, passphrase)

    def reject(self, request_id: str, comment: str, passphrase: str) -> PromotionRequest:
        return self.decide(request_id, SignatureMeaning.REJECTION, comment, passphrase)

    def comment(self, request_id: str, text: str) -> PromotionRequest:
        me = self.me()
        request = self.request(request_id)
        if not text.strip():
            raise UsageError("A comment cannot be empty.")
        self._audit.record(
            me.user_id,
            LedgerAction.COMMENT_ADDED,
            request_subject(request.request_id),
            reason=text.strip(),
        )
        return self.request(request.request_id)
