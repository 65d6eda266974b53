"""``servers``, ``server NAME``, and ``server add|rm|check|start``."""

from __future__ import annotations

from pathlib import Path

from mer_core.errors import Conflict
from mer_core.schemas.registry import ServerCreate, ServerPublic

from mer_repl import remote
from mer_repl.parsing import Args, flag, option, positional
from mer_repl.problems import UsageError, force_hint
from mer_repl.registry import Command
from mer_repl.result import Result, Table, Text, message
from mer_repl.session import Session


async def list_servers(session: Session, args: Args) -> Result:
    servers = await (await session.dal()).list_servers()
    rows = [
        [s.name, s.kind, s.worker_url, _ssh_target(s), _yes(s.has_gpu), _yes(s.enabled)]
        for s in servers.data
    ]
    table = Table(["name", "kind", "worker url", "ssh", "gpu", "enabled"], rows, "servers")
    return Result(data=servers.model_dump(mode="json"), blocks=(table,))


async def show_server(session: Session, args: Args) -> Result:
    dal = await session.dal()
    server = await dal.get_server(args.text("name"))
    placed = [m.name for m in (await dal.list_models()).data if m.server == server.name]
    rows = [
        ["kind", server.kind],
        ["worker url", server.worker_url],
        ["ssh", _ssh_target(server) or "-"],
        ["identity file", server.identity_file or "-"],
        ["known hosts", server.known_hosts_file or "-"],
        ["labels", ", ".join(server.labels) or "-"],
        ["gpu", _yes(server.has_gpu)],
        ["enabled", _yes(server.enabled)],
        ["models", ", ".join(placed) or "-"],
        ["updated", server.updated_at.isoformat(timespec="seconds")],
    ]
    doc = {**server.model_dump(mode="json"), "models": placed}
    return Result(data=doc, blocks=(Table(["field", "value"], rows, f"server {server.name}"),))


async def add_server(session: Session, args: Args) -> Result:
    name = args.text("name")
    target = args.maybe("ssh")
    alias = args.maybe("ssh_config_host")
    if (target is None) == (alias is None):
        raise UsageError(
            "server add: give either --ssh USER@HOST[:PORT] with --identity FILE, "
            "or --ssh-config-host ALIAS",
            ADD.syntax,
        )
    notes: list[Text] = []
    fields: dict[str, object] = {"name": name, "kind": "ssh"}
    if target is not None:
        identity = args.maybe("identity")
        if identity is None:
            raise UsageError(
                "server add: --ssh needs --identity FILE (the private key)", ADD.syntax
            )
        user, host, port = target
        fields.update(ssh_user=user, ssh_host=host, ssh_port=port)
        fields["identity_file"] = _local_path(identity, notes)
    else:
        fields["ssh_config_host"] = alias
        if (identity := args.maybe("identity")) is not None:
            fields["identity_file"] = _local_path(identity, notes)
    if (known := args.maybe("known_hosts")) is not None:
        fields["known_hosts_file"] = _local_path(known, notes)
    if (url := args.maybe("worker_url")) is not None:
        fields["worker_url"] = url
    if (command := args.maybe("remote_command")) is not None:
        fields["remote_command"] = command
    if (directory := args.maybe("remote_dir")) is not None:
        fields["remote_dir"] = directory
    if args.flag("gpu"):
        fields["has_gpu"] = True
    server = await (await session.admin()).create_server(ServerCreate.model_validate(fields))
    line = f"added server {server.name} ({_ssh_target(server)}, worker {server.worker_url})"
    return Result(data=server.model_dump(mode="json"), blocks=(Text(line), *notes), changed=True)


async def remove_server(session: Session, args: Args) -> Result:
    name = args.text("name")
    try:
        await (await session.admin()).delete_server(name, force=args.flag("force"))
    except Conflict as exc:
        raise force_hint(exc) from exc
    return message(f"removed server {name}", {"removed": name}, changed=True)


async def check_server(session: Session, args: Args) -> Result:
    return await remote.check(session, args.text("name"))


async def start_server(session: Session, args: Args) -> Result:
    return await remote.start(session, args.text("name"))


def ssh_target(word: str) -> tuple[str, str, int]:
    """``USER@HOST[:PORT]`` -> (user, host, port)."""
    user, at, rest = word.partition("@")
    if not at or not user or not rest:
        raise ValueError("expected USER@HOST[:PORT]")
    host, colon, port_text = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not colon:
        return user, rest, 22
    if not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return user, host, int(port_text)


def _local_path(word: str, notes: list[Text]) -> str:
    """An absolute path (the worker reads it); a warning when it is not a file here."""
    path = Path(word).expanduser().absolute()
    if not path.is_file():
        notes.append(Text(f"warning: {path} is not a file on this machine", "yellow"))
    return str(path)


def _ssh_target(server: ServerPublic) -> str:
    if server.kind != "ssh":
        return ""
    if server.ssh_config_host:
        return f"config:{server.ssh_config_host}"
    return f"{server.ssh_user}@{server.ssh_host}:{server.ssh_port}"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


_NAME = positional("NAME", "the server's name", complete="server")

ADD = Command(
    "server add",
    "register a remote server reached over SSH",
    add_server,
    (
        positional("NAME", "the new server's name"),
        option("--ssh", "USER@HOST[:PORT]", "SSH login and address", convert=ssh_target),
        option("--identity", "FILE", "private key file", complete="file"),
        option("--known-hosts", "FILE", "known_hosts file to check the host key", complete="file"),
        option("--worker-url", "URL", "the worker's URL on that host (default loopback :8701)"),
        option("--ssh-config-host", "ALIAS", "an alias of the OpenSSH client config instead"),
        option("--remote-command", "PATH", "mer-meal on that host (default: mer-meal on PATH)"),
        option("--remote-dir", "DIR", "the remote worker's working directory"),
        flag("--gpu", "the server has a GPU"),
    ),
    changes_config=True,
    details=(
        "Give either --ssh USER@HOST[:PORT] --identity FILE [--known-hosts FILE], or "
        "--ssh-config-host ALIAS. Files are read by the gateway worker, so give paths on its host."
    ),
)

COMMANDS = (
    Command("servers", "list the servers", list_servers),
    Command("server", "show one server and the models placed on it", show_server, (_NAME,)),
    ADD,
    Command(
        "server rm",
        "remove a server",
        remove_server,
        (_NAME, flag("--force", "even while models are placed on it")),
        changes_config=True,
    ),
    Command("server check", "check SSH and the remote worker of a server", check_server, (_NAME,)),
    Command(
        "server start",
        "start the worker on a remote server",
        start_server,
        (_NAME,),
        changes_config=True,
    ),
)
