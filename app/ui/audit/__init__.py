"""The audit trail page: the ledger's events, filtered, verified and exported."""
