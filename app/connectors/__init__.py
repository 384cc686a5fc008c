"""HTTP clients for model registries and serving endpoints, and access to their secrets."""
