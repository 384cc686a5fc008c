"""Serving endpoints: their page, health and drift charts, and the background poller."""
