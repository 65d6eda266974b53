"""mer_core."""
