"""``logs [--model M] [--server S] [--limit N]``: the newest access-log rows."""

from __future__ import annotations

from mer_repl.parsing import Args, count_up_to, option
from mer_repl.registry import Command
from mer_repl.result import Result, Table
from mer_repl.session import Session

MOST_ROWS = 10_000
"""The DAL's bound on ``limit`` (docs/CONTRACTS.md), checked here for a usage error."""


async def show_logs(session: Session, args: Args) -> Result:
    logs = await (await session.dal()).list_access_logs(
        model=args.maybe("model"), server=args.maybe("server"), limit=args.maybe("limit") or 20
    )
    rows = [
        [
            row.at.isoformat(timespec="milliseconds"),
            row.model,
            row.weights or "-",
            row.server,
            row.caller,
            row.outcome if row.outcome == "ok" else f"{row.outcome} {row.error_kind or ''}",
            row.status,
            row.rows,
            f"{row.total_ms:.1f}",
        ]
        for row in logs.data
    ]
    columns = ["at", "model", "weights", "server", "caller", "outcome", "status", "rows", "ms"]
    return Result(data=logs.model_dump(mode="json"), blocks=(Table(columns, rows, "access log"),))


COMMANDS = (
    Command(
        "logs",
        "show the newest access-log rows",
        show_logs,
        (
            option("--model", "M", "only this model", complete="model"),
            option("--server", "S", "only this server", complete="server"),
            option("--limit", "N", "how many rows (default 20)", convert=count_up_to(MOST_ROWS)),
        ),
    ),
)
