from __future__ import annotations

from pathlib import Path

import pytest
from mer_repl.parsing import (
    Param,
    count,
    existing_file,
    flag,
    key_value,
    option,
    parse,
    positional,
    registry_name,
    syntax_of,
)
from mer_repl.problems import UsageError

PARAMS: tuple[Param, ...] = (
    positional("MODEL"),
    positional("VERSION", convert=registry_name),
    option("--note", "TEXT"),
    option("--limit", "N", convert=count),
    flag("--force"),
)
SYNTAX = "weights add MODEL VERSION [--note TEXT] [--limit N] [--force]"


def test_syntax_lists_every_argument() -> None:
    assert syntax_of("weights add", PARAMS) == SYNTAX


def test_parse_converts_and_fills_defaults() -> None:
    args = parse("weights add", PARAMS, ["digits", "v1", "--note", "seed 1", "--limit=3"])
    assert args.text("model") == "digits"
    assert args.text("version") == "v1"
    assert args.maybe("note") == "seed 1"
    assert args["limit"] == 3
    assert args.flag("force") is False
    assert parse("weights add", PARAMS, ["m", "v", "--force"]).flag("force") is True


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["digits"], "weights add: missing VERSION"),
        (["digits", "v1", "extra"], "weights add: unexpected argument 'extra'"),
        (["digits", "v1", "--nope"], "weights add: unknown option '--nope'"),
        (["digits", "v1", "--note"], "weights add: --note needs a value (TEXT)"),
        (["digits", "v1", "--limit", "x"], "weights add: bad --limit N 'x': not a whole number"),
        (["digits", "v1", "--force=yes"], "weights add: --force takes no value"),
        (["digits", "bad name"], "weights add: bad VERSION 'bad name': use letters"),
    ],
)
def test_parse_names_the_wrong_argument_and_shows_syntax(words: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse("weights add", PARAMS, words)
    assert caught.value.message.startswith(message)
    assert caught.value.syntax == SYNTAX
    assert str(caught.value).endswith(f"\nusage: {SYNTAX}")


def test_repeated_positional_collects_pairs() -> None:
    params = (positional("MODEL"), positional("KEY=VALUE", many=True, convert=key_value))
    args = parse("model set", params, ["m", "device=cpu", "description=a=b"])
    assert args.words("key_value") == [("device", "cpu"), ("description", "a=b")]
    with pytest.raises(UsageError, match="bad KEY=VALUE 'device': expected KEY=VALUE"):
        parse("model set", params, ["m", "device"])
    with pytest.raises(UsageError, match="missing KEY=VALUE"):
        parse("model set", params, ["m"])


def test_converters(tmp_path: Path) -> None:
    assert count("5") == 5
    with pytest.raises(ValueError, match="at least 1"):
        count("0")
    (tmp_path / "f.onnx").write_bytes(b"x")
    assert existing_file(str(tmp_path / "f.onnx")) == tmp_path / "f.onnx"
    with pytest.raises(ValueError, match="no such file"):
        existing_file(str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError, match="not a file"):
        existing_file(str(tmp_path))
    assert registry_name("digits-v1.2") == "digits-v1.2"
    with pytest.raises(ValueError, match="letters"):
        registry_name("-x")
