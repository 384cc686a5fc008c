"""One verification report from the two checks of a ledger: its integrity (the hash
chain and every signature, ``domain.ledger_verify``) and its authority (the fold,
``domain.authority``). Problems an admin acknowledged are reported but do not fail it."""

from __future__ import annotations

from dataclasses import replace

from app.domain.authority import AuthorityState
from app.domain.authority_model import RefusalKind
from app.domain.ledger import ProblemKind, VerifyProblem, VerifyReport

_KINDS = {
    RefusalKind.UNSIGNED: ProblemKind.UNSIGNED,
    RefusalKind.BAD_SIGNATURE: ProblemKind.BAD_SIGNATURE,
}


def combined_report(chain: VerifyReport, state: AuthorityState) -> VerifyReport:
    """chain: the integrity report; state: the fold over the same events."""
    if chain.chain_broken:
        return replace(chain, open_problems=(chain.problem,) if chain.problem else ())
    found = {p.seq: p for p in chain.signature_problems}
    for problem in state.problems:
        found[problem.seq] = VerifyProblem(
            _KINDS.get(problem.kind, ProblemKind.UNAUTHORIZED),
            problem.seq,
            replace(problem, acknowledged=None).describe(),
        )
    acked = {p.seq for p in state.problems if p.acknowledged is not None}
    open_ = tuple(found[s] for s in sorted(found) if s not in acked)
    return replace(
        chain,
        problem=open_[0] if open_ else None,
        open_problems=open_,
        acknowledged=tuple(found[s] for s in sorted(acked)),
    )
