"""The registry and the executor's checks, all of which answer before any network call."""

from __future__ import annotations

import pytest
from mer_repl.execute import execute
from mer_repl.problems import EXIT_UNREACHABLE, EXIT_USAGE, UsageError
from mer_repl.registry import Registry
from mer_repl.session import Session

from tests.repl.conftest import make_settings

CHANGES = [
    "server add gpu1 --ssh mer@10.0.0.2:2222 --identity /k",
    "server rm gpu1",
    "server start gpu1",
    "model import iris /dev/null",
    "model rm iris",
    "model place iris gpu1",
    "model set iris max_batch_size=8",
    "weights add digits v3 /dev/null",
    "weights rm digits v1",
    "weights default digits v2",
]


def test_every_change_command_is_marked(registry: Registry) -> None:
    marked = {c.name for c in registry.commands if c.changes_config}
    assert marked == {
        "server add",
        "server rm",
        "server start",
        "model import",
        "model rm",
        "model place",
        "model set",
        "weights add",
        "weights rm",
        "weights default",
    }


def test_resolve_prefers_two_word_commands(registry: Registry) -> None:
    command, rest = registry.resolve(["model", "import", "x", "f.onnx"])
    assert command.name == "model import"
    assert rest == ["x", "f.onnx"]
    command, rest = registry.resolve(["model", "digits"])
    assert (command.name, rest) == ("model", ["digits"])


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("modles", "unknown command 'modles' — did you mean 'models'? type help"),
        ("wieghts", "unknown command 'wieghts' — did you mean 'weights'? type help"),
        ("xyzzy", "unknown command 'xyzzy' — type help"),
    ],
)
def test_unknown_command_suggests_the_nearest(registry: Registry, word: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        registry.resolve([word])
    assert str(caught.value) == message


async def test_unknown_command_outcome(registry: Registry, session: Session) -> None:
    outcome = await execute(session, registry, "modles")
    assert outcome.exit_code == EXIT_USAGE
    assert outcome.error == "unknown command 'modles' — did you mean 'models'? type help"


async def test_mistyped_subcommand_is_suggested(registry: Registry, session: Session) -> None:
    outcome = await execute(session, registry, "model imprt iris models/iris.onnx")
    assert outcome.exit_code == EXIT_USAGE
    assert outcome.error is not None
    assert "did you mean 'model import'?" in outcome.error
    assert "usage: model NAME" in outcome.error


async def test_wrong_arguments_name_the_argument(registry: Registry, session: Session) -> None:
    outcome = await execute(session, registry, "weights digits v1")
    assert outcome.exit_code == EXIT_USAGE
    assert outcome.error == "weights: unexpected argument 'v1'\nusage: weights MODEL"
    async with Session(make_settings(admin="a"), allow_changes=True) as admin:
        outcome = await execute(admin, registry, "weights default digits")
    assert outcome.exit_code == EXIT_USAGE
    assert outcome.error == (
        "weights default: missing VERSION\nusage: weights default MODEL VERSION"
    )


@pytest.mark.parametrize("line", CHANGES)
async def test_changes_are_refused_without_the_flag(
    registry: Registry, session: Session, line: str
) -> None:
    outcome = await execute(session, registry, line)
    assert outcome.exit_code == EXIT_USAGE
    assert outcome.kind == "changes_not_allowed"
    assert outcome.error is not None
    assert "--allow-config-changes" in outcome.error


@pytest.mark.parametrize("line", CHANGES)
async def test_changes_need_an_admin_token(registry: Registry, line: str) -> None:
    async with Session(make_settings(admin=None), allow_changes=True) as session:
        outcome = await execute(session, registry, line)
    assert outcome.exit_code == EXIT_USAGE
    assert outcome.kind == "not_configured"
    assert outcome.error is not None
    assert "MER_ADMIN_TOKEN" in outcome.error
    assert "never on the command line" in outcome.error


async def test_reads_need_a_token(registry: Registry) -> None:
    async with Session(make_settings(token=None)) as session:
        outcome = await execute(session, registry, "models")
    assert outcome.exit_code == EXIT_USAGE
    assert outcome.error is not None
    assert "MER_TOKEN" in outcome.error


async def test_unreachable_dal_exits_3(registry: Registry, session: Session) -> None:
    outcome = await execute(session, registry, "models")
    assert outcome.exit_code == EXIT_UNREACHABLE
    assert outcome.error is not None
    assert "cannot reach the DAL" in outcome.error


async def test_admin_token_alone_allows_reads_and_changes(registry: Registry) -> None:
    async with Session(make_settings(token=None, admin="a"), allow_changes=True) as session:
        read = await execute(session, registry, "servers")
        change = await execute(session, registry, "weights default digits v2")
    assert read.exit_code == EXIT_UNREACHABLE
    assert change.exit_code == EXIT_UNREACHABLE


async def test_server_check_asks_the_worker(registry: Registry, session: Session) -> None:
    outcome = await execute(session, registry, "server check gpu1")
    assert outcome.exit_code == EXIT_UNREACHABLE
    assert (
        outcome.error
        == "cannot reach the worker at http://127.0.0.1:9: All connection attempts failed"
    )


async def test_status_reports_both_services_down(registry: Registry, session: Session) -> None:
    outcome = await execute(session, registry, "status")
    assert outcome.result is not None
    assert outcome.exit_code == EXIT_UNREACHABLE
    assert outcome.result.data["dal"]["ok"] is False
    assert outcome.result.data["worker"]["ok"] is False
    assert outcome.result.data["config_changes"] is False


async def test_help_explains_one_command(registry: Registry, session: Session) -> None:
    outcome = await execute(session, registry, "help model set")
    assert outcome.result is not None
    assert outcome.result.data["syntax"] == "model set MODEL KEY=VALUE..."
    assert outcome.result.data["changes"] is True
    missing = await execute(session, registry, "help modle")
    assert missing.error == "help: no command 'modle' — did you mean 'model'?"


async def test_exit_and_quit_end_the_loop(registry: Registry, session: Session) -> None:
    for line in ("exit", "quit"):
        outcome = await execute(session, registry, line)
        assert outcome.result is not None
        assert outcome.result.quit
