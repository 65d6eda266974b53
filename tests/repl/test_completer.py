"""The completer is pure: fed a catalog, it never calls anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from mer_repl.completer import Catalog, MerCompleter
from mer_repl.registry import Registry
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

CATALOG = Catalog(
    models=("digits", "iris"),
    servers=("local", "gpu1"),
    versions={"digits": ("v1", "v2"), "iris": ()},
)


def complete(registry: Registry, text: str) -> list[str]:
    completer = MerCompleter(registry, lambda: CATALOG)
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [c.text for c in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mo", ["model", "models"]),
        ("", None),
        ("model ", ["import", "place", "rm", "set", "digits", "iris"]),
        ("model im", ["import"]),
        ("model place di", ["digits"]),
        ("model place digits ", ["gpu1", "local"]),
        ("weights default digits ", ["v1", "v2"]),
        ("weights default iris ", []),
        ("run digits [[1, 2]] --weights ", ["v1", "v2"]),
        ("run digits x.csv --", ["--binary", "--output-name", "--weights"]),
        ("run digits x.csv --weights v1 --b", ["--binary"]),
        ("logs --server ", ["gpu1", "local"]),
        ("logs --model d", ["digits"]),
        ("model set digits max_b", ["max_batch_size="]),
        ("server rm ", ["gpu1", "local"]),
        ("nosuch ", []),
        ("servers ", []),
    ],
)
def test_completions(registry: Registry, text: str, expected: list[str] | None) -> None:
    got = complete(registry, text)
    if expected is None:
        assert {"models", "server", "run", "help", "exit"} <= set(got)
    else:
        assert got == expected


def test_files_complete_from_the_filesystem(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "digits.onnx").write_bytes(b"")
    (tmp_path / "digits-v1.safetensors").write_bytes(b"")
    assert complete(registry, "model import digits digits.o") == ["nnx"]
    assert complete(registry, "weights add digits v3 digits-") == ["v1.safetensors"]


def test_catalog_is_read_at_each_completion(registry: Registry) -> None:
    catalogs = [Catalog(), CATALOG]
    completer = MerCompleter(registry, lambda: catalogs[0])
    event = CompleteEvent(completion_requested=True)
    assert list(completer.get_completions(Document("model place "), event)) == []
    catalogs.pop(0)
    found = [c.text for c in completer.get_completions(Document("model place "), event)]
    assert found == ["digits", "iris"]
