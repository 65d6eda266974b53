"""``status``, ``help [COMMAND]``, ``exit`` and ``quit``."""

from __future__ import annotations

from typing import Any

from mer_core.errors import MerError

from mer_repl.parsing import Args, positional
from mer_repl.problems import EXIT_UNREACHABLE, UsageError
from mer_repl.registry import Command, Registry
from mer_repl.result import Block, Result, Table, Text
from mer_repl.session import FLAG, Session


async def show_status(session: Session, args: Args) -> Result:
    """Whether the DAL and the worker answer; never fails, says what is down instead."""
    settings = session.settings
    dal_doc: dict[str, Any] = {"url": settings.dal_url, "ok": False}
    worker_doc: dict[str, Any] = {"url": settings.worker_url, "ok": False}
    try:
        dal = await session.dal()
        health = await dal.health()
        dal_doc.update(ok=health.status == "ok", **health.model_dump(mode="json"))
        dal_doc["revision"] = await dal.revision()
    except (MerError, UsageError) as exc:
        dal_doc["error"] = str(exc)
    try:
        worker = await session.worker()
        worker_doc["ok"] = await worker.ready()
        if worker_doc["ok"]:
            meta = await worker.server_metadata()
            worker_doc.update(name=meta.name, version=meta.version)
        else:
            worker_doc["error"] = "not ready (or cannot be reached)"
    except (MerError, UsageError) as exc:
        worker_doc["error"] = str(exc)
    rows = [
        ["dal", settings.dal_url, _state(dal_doc), _dal_detail(dal_doc)],
        ["worker", settings.worker_url, _state(worker_doc), _worker_detail(worker_doc)],
    ]
    changes = "allowed" if session.allow_changes else f"refused (start with {FLAG})"
    doc = {"dal": dal_doc, "worker": worker_doc, "config_changes": session.allow_changes}
    blocks: list[Block] = [
        Table(["service", "url", "state", "detail"], rows, "status"),
        Text(f"configuration changes: {changes}"),
    ]
    healthy = dal_doc["ok"] and worker_doc["ok"]
    return Result(data=doc, blocks=tuple(blocks), exit_code=0 if healthy else EXIT_UNREACHABLE)


def _state(doc: dict[str, Any]) -> str:
    return "ok" if doc["ok"] else "DOWN"


def _dal_detail(doc: dict[str, Any]) -> str:
    if "error" in doc:
        return str(doc["error"])
    return (
        f"v{doc.get('version')} db {doc.get('database') or '?'}, "
        f"{doc.get('migrations_applied')} migrations, revision {doc.get('revision')}"
    )


def _worker_detail(doc: dict[str, Any]) -> str:
    if "error" in doc:
        return str(doc["error"])
    return f"{doc.get('name')} v{doc.get('version')}"


def help_command(registry: Registry) -> Command:
    async def show_help(session: Session, args: Args) -> Result:
        words = args.words("command")
        if not words:
            return _overview(registry)
        command = registry.get(" ".join(words))
        if command is None:
            hint = registry.suggest(words[0])
            extra = f" — did you mean {hint!r}?" if hint else ""
            raise UsageError(f"help: no command {' '.join(words)!r}{extra}")
        return _details(command)

    return Command(
        "help",
        "list the commands, or explain one",
        show_help,
        (positional("COMMAND", "a command's name", required=False, many=True),),
    )


def _overview(registry: Registry) -> Result:
    rows = [[c.syntax, c.summary + (" *" if c.changes_config else "")] for c in registry.commands]
    note = Text(f"* changes the configuration: start mer with {FLAG} (uses MER_ADMIN_TOKEN)")
    doc = {
        "commands": [
            {"name": c.name, "syntax": c.syntax, "summary": c.summary, "changes": c.changes_config}
            for c in registry.commands
        ]
    }
    return Result(data=doc, blocks=(Table(["command", "what it does"], rows, "commands"), note))


def _details(command: Command) -> Result:
    blocks: list[Block] = [Text(command.syntax, "bold"), Text(command.summary)]
    if command.params:
        rows = [[p.usage, p.help] for p in command.params]
        blocks.append(Table(["argument", "meaning"], rows))
    if command.details:
        blocks.append(Text(command.details))
    if command.changes_config:
        blocks.append(Text(f"changes the configuration: needs {FLAG} and MER_ADMIN_TOKEN"))
    doc = {
        "name": command.name,
        "syntax": command.syntax,
        "summary": command.summary,
        "changes": command.changes_config,
        "arguments": {p.usage: p.help for p in command.params},
    }
    return Result(data=doc, blocks=tuple(blocks))


async def leave(session: Session, args: Args) -> Result:
    return Result(data={"message": "bye"}, quit=True)


COMMANDS = (
    Command("status", "whether the DAL and the worker answer", show_status),
    Command("exit", "leave the REPL", leave),
    Command("quit", "leave the REPL", leave),
)
