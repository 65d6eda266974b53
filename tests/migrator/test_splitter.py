from __future__ import annotations

import pytest
from mer_migrate.splitter import SplitError, split_statements


def test_splits_on_semicolons_and_numbers_statements_with_their_lines() -> None:
    text = "-- header\nDEFINE TABLE a;\n\nCREATE a:1\n  SET x = 1;\nCREATE a:2;"
    statements = split_statements(text)
    assert [(s.number, s.line, s.first_line) for s in statements] == [
        (1, 2, "DEFINE TABLE a"),
        (2, 4, "CREATE a:1"),
        (3, 6, "CREATE a:2"),
    ]
    assert statements[1].text == "CREATE a:1\n  SET x = 1"


def test_semicolons_inside_strings_comments_and_blocks_do_not_split() -> None:
    text = (
        'CREATE a:1 SET s = \'x; y\', d = "it\\"s; fine";\n'
        "-- a comment; with a semicolon\n"
        "# another; one\n"
        "// and; another\n"
        "/* block;\n comment; */\n"
        "DEFINE FUNCTION fn::f() { LET $x = 1; RETURN $x; };\n"
        "CREATE `odd;name`:1;\n"
        "CREATE a:⟨semi;colon⟩;\n"
        "IF true { CREATE a:3; } ELSE { CREATE a:4; };\n"
    )
    statements = split_statements(text)
    assert [s.keyword for s in statements] == ["CREATE", "DEFINE", "CREATE", "CREATE", "IF"]
    assert statements[1].line == 7
    assert statements[4].line == 10


def test_empty_statements_and_comment_only_text_give_nothing() -> None:
    assert split_statements(";;\n-- only a comment\n;/* x */") == []


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("CREATE a:1 SET s = 'open;\n", "never closed", 1),
        ("/* open\ncomment", "never closed", 1),
        ("CREATE a:1;\nIF true { CREATE a:2;\n", "'{' is never closed", 2),
        ("CREATE a:1);", r"unmatched '\)'", 1),
    ],
)
def test_malformed_text_is_refused_with_its_line(text: str, message: str, line: int) -> None:
    with pytest.raises(SplitError, match=message) as caught:
        split_statements(text)
    assert caught.value.line == line
