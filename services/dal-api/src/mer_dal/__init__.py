"""mer_dal."""
