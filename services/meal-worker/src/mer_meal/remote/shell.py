"""Commands on a remote host over its SSH connection: every argument quoted with ``shlex.quote``.

Secrets never appear on a remote command line (where ``ps`` would show them): files with
secrets travel on the command's stdin into a file created under ``umask 077``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import asyncssh
from mer_core.errors import BadGateway, GatewayTimeout

from mer_meal.remote.target import SshTarget

COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Done:
    status: int
    stdout: str
    stderr: str


def remote_path(path: str) -> str:
    """``path`` as a shell word: quoted, with a leading ``~/`` kept meaning the user's home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def server_dir(target: SshTarget) -> str:
    """The remote directory of this server's worker: settings, state, cache, spool and log."""
    return f"{target.remote_dir.rstrip('/')}/servers/{target.server}"


async def run(
    conn: asyncssh.SSHClientConnection,
    target: SshTarget,
    command: str,
    *,
    stdin: str | None = None,
    timeout_s: float = COMMAND_TIMEOUT_S,
) -> Done:
    """Run ``command`` (already quoted) through the remote user's shell."""
    try:
        result = await conn.run(command, input=stdin, check=False, timeout=timeout_s)
    except asyncssh.TimeoutError as exc:
        raise GatewayTimeout(
            f"server {target.server}: a remote command did not finish within {timeout_s:g} s"
        ) from exc
    except (asyncssh.Error, OSError) as exc:
        raise BadGateway(f"server {target.server}: cannot run a remote command: {exc}") from exc
    return Done(
        status=result.exit_status if result.exit_status is not None else -1,
        stdout=_text(result.stdout),
        stderr=_text(result.stderr),
    )


async def write_private(
    conn: asyncssh.SSHClientConnection, target: SshTarget, path: str, text: str
) -> None:
    """Write ``text`` into ``path`` (mode 0600, its directory made 0700) through stdin."""
    folder = path.rsplit("/", 1)[0] if "/" in path else "."
    command = (
        f"umask 077 && mkdir -p {remote_path(folder)} && cat > {remote_path(path)}.tmp && "
        f"mv -f {remote_path(path)}.tmp {remote_path(path)}"
    )
    done = await run(conn, target, command, stdin=text)
    if done.status != 0:
        raise BadGateway(
            f"server {target.server}: cannot write {path} on the remote host: "
            f"{done.stderr.strip() or f'exit {done.status}'}"
        )


async def read_text(conn: asyncssh.SSHClientConnection, target: SshTarget, path: str) -> str | None:
    """The text of a remote file, or None when it does not exist."""
    done = await run(conn, target, f"cat {remote_path(path)} 2>/dev/null")
    return done.stdout if done.status == 0 else None


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data or "")
