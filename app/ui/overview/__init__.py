"""The managers' Overview page: the portfolio at a glance, every figure a link."""
