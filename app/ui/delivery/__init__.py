"""Delivery metrics: lead time, approval cycle, promotion frequency, rollback and
change-failure rates, time to restore; charts, a table per measure, CSV export."""
