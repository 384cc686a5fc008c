"""Decisions made while the team ledger is out of reach: signed into the outbox, kept
across restarts and crashes, sent once, and superseded with a reason when the request
changed meanwhile. On the real PostgreSQL team ledger and a real MLflow registry."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.errors import GavelError
from app.domain.governance import Policy, PromotionRequest, RequestState, Role, SignatureMeaning
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import LedgerQuery
from app.services.outbox import Fate
from app.stores.engine import sqlite_url
from app.stores.migrate import open_ledger_database
from app.stores.profile_file import ProfileFile
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.fixtures.tcp_proxy import TcpProxy
from tests.ledger_forgery import RandomSignature, append
from tests.test_cli import ROOT, gavel
from tests.test_trust_attacks import _seed

pytestmark = [pytest.mark.slow, pytest.mark.integration]

GONE = "postgresql+psycopg://127.0.0.1:1/gone"


@dataclass
class Team:
    ada: Desk  # admin, requester
    ann: Desk  # approver
    bob: Desk  # approver
    aud: Desk  # auditor
    model: str
    registry: MlflowRegistry


@pytest.fixture
def shared_ledger_url(pg_database_url: str) -> str:
    """Team mode's ledger is PostgreSQL: here, only the real one."""
    return pg_database_url


@pytest.fixture
def team(desks: DeskFactory, seeded_registry: MlflowRegistry) -> Iterator[Team]:
    model = f"outbox-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model, tier="medium")
    ada, ann, bob, aud = (desks(u) for u in ("ada", "ann", "bob", "aud"))
    enrol(ada, ada, Role.REQUESTER)
    enrol(ada, ann, Role.APPROVER)
    enrol(ada, bob, Role.APPROVER)
    enrol(ada, aud, Role.AUDITOR)
    for desk in (ada, ann, bob, aud):
        desk.ctx.registries.add(seeded_registry.config("reg"))
        desk.ctx.sync.sync("reg")
    yield Team(ada, ann, bob, aud, model, seeded_registry)


def _request(team: Team, version: int = 2, alias: str = "") -> str:
    return team.ada.ctx.governance.create_request(
        "reg",
        team.model,
        version,
        alias or f"shadow{version}",
        "Shadow traffic first.",
        {"validation_report": "VR-9", "rollback_plan": "remove the alias"},
        passphrase=team.ada.passphrase,
    ).request_id


def _offline(desk: Desk) -> None:
    """Restart the desk with the team ledger out of reach (as on a train), after a start
    online that pulled the replica it decides on."""
    desk.reopen()
    desk.close()
    profile = ProfileFile(desk.home / "config" / "profile.toml")
    assert profile.load().team_ledger_url == desk.ledger_url
    profile.save(replace(profile.load(), team_ledger_url=GONE))


def _online(desk: Desk) -> None:
    desk.close()
    profile = ProfileFile(desk.home / "config" / "profile.toml")
    profile.save(replace(profile.load(), team_ledger_url=desk.ledger_url))


def _through(desk: Desk, proxy: TcpProxy) -> None:
    """Point the desk's profile at the team ledger through ``proxy`` (closed first)."""
    desk.close()
    profile = ProfileFile(desk.home / "config" / "profile.toml")
    profile.save(replace(profile.load(), team_ledger_url=proxy.url_for(desk.ledger_url)))


def _events(desk: Desk, action: LedgerAction, request_id: str) -> list[int]:
    return desk.ctx.audit.seqs(
        LedgerQuery(subject=f"request:{request_id}", actions=(action.value,))
    )


def test_an_offline_approval_waits_survives_a_restart_and_counts_once(team: Team) -> None:
    rid = _request(team)
    _offline(team.ann)
    ann = team.ann.ctx
    assert ann.outbox.collecting
    # Directly, the replica refuses: nothing forks the team's chain.
    with pytest.raises(GavelError, match="cannot be reached"):
        ann.governance.approve(rid, "Looks right.", team.ann.passphrase)
    kept = ann.outbox.decide(rid, SignatureMeaning.APPROVAL, "Looks right.", team.ann.passphrase)
    assert kept.waiting and kept.request_id == rid
    # One decision per person and request: a second waits on nothing, it is refused.
    with pytest.raises(GavelError, match="approval of this request is already waiting"):
        ann.outbox.decide(
            rid, SignatureMeaning.REJECTION, "On second thought.", team.ann.passphrase
        )
    assert [e.intent_id for e in ann.outbox.waiting()] == [kept.intent_id]
    assert kept.document["replica_head"]["seq"] == ann.audit.store.head().seq  # type: ignore[union-attr]
    # Not on the team ledger yet: the request still waits for an approval.
    assert team.ada.reopen().governance.request(rid).approvals == []

    # A restart while still offline: the decision is still waiting.
    team.ann.reopen()
    assert [e.intent_id for e in team.ann.ctx.outbox.waiting()] == [kept.intent_id]
    with pytest.raises(GavelError, match="cannot be reached"):
        team.ann.ctx.outbox.flush()

    _online(team.ann)
    ann = team.ann.ctx
    assert not ann.outbox.collecting
    result = ann.outbox.flush()
    assert [(e.intent_id, e.fate) for e in result.sent] == [(kept.intent_id, Fate.RECORDED)]
    seq = result.sent[0].seq
    approvals = team.ada.reopen().governance.request(rid).approvals
    assert [(d.actor, d.seq, d.comment) for d in approvals] == [("ann", seq, "Looks right.")]
    assert approvals[0].signer == kept.key_id
    # Flushing again sends nothing; the outbox keeps the record of what was sent.
    assert ann.outbox.flush().sent == ()
    assert ann.outbox.waiting() == []
    assert [e.fate for e in ann.outbox.entries()] == [Fate.RECORDED]
    assert team.ada.ctx.governance.problems() == []


def test_decisions_that_no_longer_apply_are_superseded_with_the_reason(team: Team) -> None:
    withdrawn, rejected, re_policied = _request(team, 1), _request(team, 2), _request(team, 3)
    applied, re_measured = _request(team, 2, "canary"), _request(team, 3, "eval")
    _offline(team.ann)
    ann = team.ann.ctx
    pp = team.ann.passphrase
    approve = SignatureMeaning.APPROVAL
    kept = {
        "withdrawn": ann.outbox.decide(withdrawn, approve, "ok", pp),
        "rejected": ann.outbox.decide(rejected, approve, "ok", pp),
        "policy": ann.outbox.decide(re_policied, approve, "ok", pp),
        "applied": ann.outbox.decide(applied, approve, "ok", pp),
        "evidence": ann.outbox.decide(re_measured, approve, "ok", pp),
        "comment": ann.outbox.comment(withdrawn, "Asked for the bias review.", pp),
    }
    # Meanwhile, on the team ledger and in the registry:
    ada, bob = team.ada.ctx, team.bob.ctx
    ada.governance.withdraw(withdrawn, "Wrong version.", team.ada.passphrase)
    bob.governance.reject(rejected, "Bias review missing.", team.bob.passphrase)
    bob.governance.approve(applied, "Canary is fine.", team.bob.passphrase)
    assert ada.promotions.apply(applied, team.ada.passphrase).applied
    # Someone moves the target alias in the registry by hand: v3 can no longer be
    # promoted to 'eval' as requested (a finished run's metrics edited in place are not
    # re-read by a sync; apply catches those against the registry itself).
    with MlflowRegistryClient(team.registry.config(), None) as client:
        client.set_registered_model_alias(team.model, "eval", 1)
    ada.membership.set_policy(
        Policy("medium", approvals_required=2), team.ada.passphrase, "Two approvals from now."
    )

    _online(team.ann)
    team.ann.ctx.sync.sync("reg")  # the desk's cache sees the moved alias
    result = team.ann.ctx.outbox.flush()
    fates = {e.intent_id: e for e in result.sent}
    assert fates[kept["withdrawn"].intent_id].fate is Fate.SUPERSEDED
    assert "already withdrawn" in fates[kept["withdrawn"].intent_id].why
    assert "already rejected" in fates[kept["rejected"].intent_id].why
    assert "already applied" in fates[kept["applied"].intent_id].why
    assert "alias 'eval' now points at v1" in fates[kept["evidence"].intent_id].why
    assert "policy that applies changed" in fates[kept["policy"].intent_id].why
    # A comment decides nothing: it is kept on the record even on a withdrawn request.
    assert fates[kept["comment"].intent_id].fate is Fate.RECORDED
    assert "1 recorded, 5 superseded" in result.summary()
    # The author is told, in a sentence each.
    assert all(e.sentence().startswith("Superseded: ") for e in result.superseded)

    gov = team.ada.reopen().governance
    assert [d.actor for d in gov.request(applied).approvals] == ["bob"]
    for rid in (withdrawn, rejected, re_policied, re_measured):
        assert [d.actor for d in gov.request(rid).approvals] == []
        assert len(_events(team.ada, LedgerAction.DECISION_SUPERSEDED, rid)) == 1
    assert gov.request(re_policied).state is RequestState.PENDING
    assert gov.problems() == []
    # Sending again adds nothing, superseded or not.
    assert team.ann.ctx.outbox.flush().sent == ()


def test_an_edited_outbox_gives_no_authority(team: Team) -> None:
    """A person with the profile folder edits the signed decision before it is sent (to
    approve as someone else, or to say something else): the fold refuses it, it is kept
    as superseded with the fold's sentence, and nothing counts."""
    rid = _request(team)
    _offline(team.ann)
    pp = team.ann.passphrase
    kept = team.ann.ctx.outbox.decide(rid, SignatureMeaning.APPROVAL, "Looks right.", pp)
    path = team.ann.ctx.paths.outbox_file
    record = json.loads(path.read_text().splitlines()[0])
    as_bob = json.loads(json.dumps(record))
    as_bob["intent"].update(id=uuid.uuid4().hex, actor="bob")
    as_bob["intent"]["after"]["manifestation"]["user_id"] = "bob"
    reworded = json.loads(json.dumps(record))
    reworded["intent"].update(id=uuid.uuid4().hex, reason="Approved without reading.")
    path.write_text(
        "\n".join(json.dumps(r) for r in (as_bob, reworded))
        + "\n"
        + '{"type": "intent", "intent": {"id": "torn'  # a crash mid-write
    )
    _online(team.ann)
    result = team.ann.ctx.outbox.flush()
    assert [e.fate for e in result.sent] == [Fate.SUPERSEDED, Fate.SUPERSEDED]
    assert all("does not verify" in e.why or "not by an active key" in e.why for e in result.sent)
    assert result.damaged == (3,)
    assert kept.intent_id not in {e.intent_id for e in team.ann.ctx.outbox.entries()}
    assert team.ada.reopen().governance.request(rid).approvals == []


def test_kill_9_after_sending_and_before_noting_it_counts_once(team: Team) -> None:
    """A flush killed after the team ledger took the decision and before the outbox noted
    it: the next flush finds the decision on the ledger and only notes it."""
    rid = _request(team)
    _offline(team.ann)
    team.ann.close()
    offline = gavel(
        team.ann.home, "approve", rid, "--comment", "Checked on the train.",
        "--passphrase-env", "PP", env=team.ann.env(),
    )  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    assert "kept in this computer's outbox" in offline.stdout
    listed = gavel(team.ann.home, "outbox", "list", "--json", env=team.ann.env())
    assert [e["state"] for e in json.loads(listed.stdout)] == ["waiting to be sent"]

    _online(team.ann)
    # Fault injection only: the child dies by SIGKILL the moment it would note the fate.
    crash = textwrap.dedent(
        """
        import os, signal, sys
        from app.stores import outbox_file
        original = outbox_file.OutboxFile.append
        def append(self, kind, record):
            if kind == outbox_file.SENT:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self, kind, record)
        outbox_file.OutboxFile.append = append
        from app.cli import main
        sys.exit(main(["outbox", "flush"]))
        """
    )
    killed = subprocess.run(
        [sys.executable, "-c", crash], cwd=ROOT, env=team.ann.env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(_events(team.ada, LedgerAction.REQUEST_APPROVED, rid)) == 1
    # The outbox did not hear back: still waiting, until the next flush looks.
    assert [e.waiting for e in team.ann.ctx.outbox.entries()] == [True]
    flushed = gavel(team.ann.home, "outbox", "flush", env=team.ann.env())
    assert flushed.returncode == 0, flushed.stderr
    assert "it was already on the team ledger" in flushed.stdout
    team.ann.close()
    assert [e.fate for e in team.ann.ctx.outbox.entries()] == [Fate.ALREADY]
    assert [d.actor for d in team.ada.reopen().governance.request(rid).approvals] == ["ann"]
    assert len(_events(team.ada, LedgerAction.REQUEST_APPROVED, rid)) == 1


def test_two_desktops_flushing_one_outbox_at_once_count_it_once(team: Team) -> None:
    """The console and a CLI of one profile flush together: one appends, the other finds
    it already counted (the check and the append are one step under the ledger's lock)."""
    rid = _request(team)
    _offline(team.ann)
    team.ann.ctx.outbox.decide(rid, SignatureMeaning.APPROVAL, "ok", team.ann.passphrase)
    _online(team.ann)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "outbox", "flush", "--json"],
            cwd=ROOT,
            env=team.ann.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    # Both succeed; one may say its replica could not follow (the other was pulling).
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    fates = [e["state"] for o in outs for e in json.loads(o[0])["sent"]]
    assert sorted(fates) in (["already recorded", "recorded"], ["recorded"])
    assert len(_events(team.ada, LedgerAction.REQUEST_APPROVED, rid)) == 1
    assert [d.actor for d in team.ada.reopen().governance.request(rid).approvals] == ["ann"]


def test_a_ledger_lost_while_running_keeps_decisions_and_sends_them_when_back(
    team: Team,
) -> None:
    """The team ledger stops answering while Gavel runs (the network drops, the server
    stops): what was read stays readable, decisions go to the outbox against the last
    event read, and they are sent once it answers again, with no restart."""
    rid = _request(team)
    other = _request(team, version=3)
    with TcpProxy.before(team.ann.ledger_url) as proxy:
        _through(team.ann, proxy)
        ann = team.ann.reopen()
        assert not ann.outbox.collecting and ann.team_status().online
        before = ann.governance.view_of(rid)
        seen = ann.authority.head()
        assert seen is not None

        proxy.cut()
        # The first read after the loss finds it: it answers from what was read, and
        # the desktop now says the ledger is out of reach.
        assert ann.governance.view_of(rid).request.state is before.request.state
        status = ann.team_status()
        assert not status.online and "cannot be reached" in status.problem
        assert ann.outbox.collecting and ann.outbox.can_reconnect
        # Audit trail and violations read from the verified replica meanwhile.
        assert [e.action for e in ann.audit.page(LedgerQuery(subject=f"request:{rid}"))] == [
            LedgerAction.REQUEST_CREATED.value
        ]
        assert ann.governance.problems() == []
        # Signing goes to the outbox, made against the last event this desktop read.
        kept = ann.outbox.sign_decision(
            rid, SignatureMeaning.APPROVAL, "Checked VR-9.", team.ann.passphrase
        )
        assert not isinstance(kept, PromotionRequest) and kept.waiting
        assert kept.document["replica_head"] == {"seq": seen.seq, "hash": seen.hash}
        note = ann.outbox.sign_comment(other, "Where is the bias review?", team.ann.passphrase)
        assert not isinstance(note, PromotionRequest) and note.waiting
        # Writing to the ledger itself is refused with the sentence, nothing written.
        with pytest.raises(GavelError, match="cannot be reached"):
            ann.governance.approve(other, "Direct.", team.ann.passphrase)
        # Still down: trying again keeps everything waiting.
        assert not ann.outbox.reconnect()
        with pytest.raises(GavelError, match="cannot be reached"):
            ann.outbox.flush()
        assert len(ann.outbox.waiting()) == 2

        proxy.restore()
        result = ann.outbox.flush()
        assert [e.fate for e in result.sent] == [Fate.RECORDED, Fate.RECORDED]
        assert not ann.outbox.collecting and ann.team_status().online
        assert ann.team_status().problem == ""
        approvals = team.ada.reopen().governance.request(rid).approvals
        assert [(d.actor, d.seq) for d in approvals] == [("ann", result.sent[0].seq)]
        assert _events(team.ada, LedgerAction.COMMENT_ADDED, other) == [result.sent[1].seq]
        # Decisions go straight to the ledger again.
        signed = ann.outbox.sign_decision(
            other, SignatureMeaning.APPROVAL, "Fine now.", team.ann.passphrase
        )
        assert isinstance(signed, PromotionRequest)


def test_a_write_whose_connection_drops_is_kept_not_lost(team: Team) -> None:
    """The ledger goes away between reading and signing: the write itself finds it, and
    the decision is kept in the outbox instead of being refused."""
    rid = _request(team)
    with TcpProxy.before(team.bob.ledger_url) as proxy:
        _through(team.bob, proxy)
        bob = team.bob.reopen()
        bob.governance.view_of(rid)
        proxy.cut()
        kept = bob.outbox.sign_decision(
            rid, SignatureMeaning.REJECTION, "No bias review.", team.bob.passphrase
        )
        assert not isinstance(kept, PromotionRequest) and kept.waiting
        proxy.restore()
        [sent] = bob.outbox.flush().sent
        assert sent.fate is Fate.RECORDED
    assert team.ada.reopen().governance.request(rid).state is RequestState.REJECTED


def test_solo_ledger_errors_are_not_kept_in_an_outbox(desks: DeskFactory) -> None:
    """Only a team ledger that was lost sends decisions to the outbox."""
    solo = desks("sol", ledger_url="")
    assert not solo.ctx.outbox.collecting and not solo.ctx.outbox.can_reconnect
    with pytest.raises(GavelError, match="no promotion request"):
        solo.ctx.outbox.sign_decision("nope", SignatureMeaning.APPROVAL, "x", "pp")


def test_a_replica_forged_while_the_ledger_is_lost_gives_no_authority(team: Team) -> None:
    """Someone with the laptop appends a 'bob approved' row to the replica while the team
    ledger is out of reach: the fold never reads it, the audit trail does not show it
    (it is past the last verified pull), and going back online raises the alarm instead
    of sending the outbox onto a history that is not the team's."""
    rid = _request(team)
    with TcpProxy.before(team.ann.ledger_url) as proxy:
        _through(team.ann, proxy)
        ann = team.ann.reopen()
        ann.governance.view_of(rid)
        proxy.cut()
        assert ann.governance.view_of(rid).request.approvals == []
        assert ann.outbox.collecting
        bob_key = team.bob.ctx.actor.me().key_id
        assert bob_key is not None
        replica = open_ledger_database(sqlite_url(team.ann.home / "data" / "ledger.sqlite3"))
        try:
            forged = append(
                replica,
                "bob",
                LedgerAction.REQUEST_APPROVED,
                f"request:{rid}",
                after={"comment": "fine"},
                signer=RandomSignature(bob_key),
            )
        finally:
            replica.dispose()
        # No authority: the request still waits for an approval, on every reading.
        view = ann.governance.view_of(rid)
        assert view.request.approvals == [] and view.request.state is RequestState.PENDING
        assert forged.seq not in ann.audit.seqs()
        assert ann.audit.page(LedgerQuery(subject=f"request:{rid}"), limit=None)[-1].action == (
            LedgerAction.REQUEST_CREATED.value
        )
        kept = ann.outbox.sign_decision(rid, SignatureMeaning.APPROVAL, "ok", team.ann.passphrase)
        assert not isinstance(kept, PromotionRequest)

        proxy.restore()
        # The pull finds the replica is not the team's history: the outbox waits, named.
        with pytest.raises(GavelError):
            ann.outbox.flush()
        assert ann.outbox.collecting
        problem = ann.team_status().problem
        assert "replica holds events after" in problem and "no pull brought" in problem
        assert [e.intent_id for e in ann.outbox.waiting()] == [kept.intent_id]
    assert team.ada.reopen().governance.request(rid).approvals == []
