"""mer_migrate."""
