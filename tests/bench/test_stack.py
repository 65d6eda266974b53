"""Starting servers together: every one that started is stopped, even when another failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from bench.stack import enter_together


def test_started_managers_are_exited_when_a_sibling_fails() -> None:
    events: list[str] = []

    @contextmanager
    def good(name: str) -> Iterator[str]:
        events.append(f"start {name}")
        try:
            yield name
        finally:
            events.append(f"stop {name}")

    @contextmanager
    def bad() -> Iterator[str]:
        raise RuntimeError("port taken")
        yield "never"

    with pytest.raises(RuntimeError, match="port taken"), ExitStack() as stack:
        enter_together(stack, [good("a"), bad(), good("b")])
    assert sorted(events) == ["start a", "start b", "stop a", "stop b"]


def test_values_come_back_in_order_and_exit_with_the_stack() -> None:
    stopped: list[int] = []

    @contextmanager
    def numbered(n: int) -> Iterator[int]:
        yield n
        stopped.append(n)

    with ExitStack() as stack:
        assert enter_together(stack, [numbered(1), numbered(2), numbered(3)]) == [1, 2, 3]
        assert stopped == []
    assert stopped == [3, 2, 1]
