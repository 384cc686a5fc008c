"""The registry tag keys and run states Gavel reads and writes: spelled once, here."""

from __future__ import annotations

# Model tags the portfolio is organised by.
TAG_OWNER = "owner"
TAG_TEAM = "team"
TAG_RISK_TIER = "risk_tier"
HEADLINE_TAGS = (TAG_OWNER, TAG_TEAM, TAG_RISK_TIER)

# Version tags an apply writes before it moves the alias (or stage), so an apply
# interrupted between the registry and the ledger is recognised, never repeated.
TAG_REQUEST = "gavel.request_id"
TAG_APPROVED_BY = "gavel.approved_by"
TAG_LEDGER_HASH = "gavel.ledger_hash"

# MLflow run states after which a run no longer changes (a sync reuses its cached copy).
TERMINAL_RUN_STATES = ("FINISHED", "FAILED", "KILLED")
