"""``mer up`` / ``mer down`` / ``mer status``: the local stack as background processes."""
