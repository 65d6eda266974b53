"""mer_meal."""
