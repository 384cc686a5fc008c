"""Governance: identities and roles, promotion requests and decisions, violations, and
a model's governance tab."""
