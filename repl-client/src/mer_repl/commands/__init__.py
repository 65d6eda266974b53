"""Every command of the driver, gathered into one registry."""

from __future__ import annotations

from mer_repl.commands import info, logs, models, run, servers, weights
from mer_repl.registry import Registry


def build_registry() -> Registry:
    registry = Registry(
        [
            *servers.COMMANDS,
            *models.COMMANDS,
            *weights.COMMANDS,
            *run.COMMANDS,
            *logs.COMMANDS,
            *info.COMMANDS,
        ]
    )
    registry.add(info.help_command(registry))
    return registry
