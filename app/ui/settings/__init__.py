"""The Settings page: where this profile's ledger lives (solo or a team's), joining a
team ledger, and where secrets are kept."""
