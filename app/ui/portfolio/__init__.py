"""The portfolio page: registries and their sync, the table of models, and the model
detail panel whose tabs other features fill."""
