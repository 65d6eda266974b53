"""mer_repl."""
