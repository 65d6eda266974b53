"""The migration scripts on disk: ``sql/NN-NameOfTheScript.sql``, numbered 00, 01, 02… without gaps.

Discovery refuses (naming the files) a ``.sql`` file whose name breaks the pattern, a gap in the
numbers and two files with one number; any other file is skipped with a warning. A script's
checksum is the sha256 of its text with line endings normalised, so a checkout on Windows does not
look like an edit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from mer_migrate.errors import UsageError, ValidationError
from mer_migrate.splitter import SplitError, Statement, split_statements

SCRIPT_NAME = re.compile(r"^(?P<number>\d{2,})-(?P<name>[A-Z][A-Za-z0-9]*)\.sql$")
CAMEL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Statements a script may not hold: the migrator wraps every script in its own transaction, a
# top-level RETURN ends that transaction's output early, and USE would move the history row.
FORBIDDEN_KEYWORDS = {
    "BEGIN": "the migrator runs every script in its own transaction; remove BEGIN/COMMIT",
    "COMMIT": "the migrator runs every script in its own transaction; remove BEGIN/COMMIT",
    "CANCEL": "the migrator runs every script in its own transaction; remove CANCEL",
    "RETURN": "a top-level RETURN cuts a transaction's results short; remove it",
    "USE": "the migrator chooses the namespace and database; remove USE",
}


def checksum_of(text: str) -> str:
    """sha256 (hex) of the script text with CRLF/CR line endings turned into LF."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def format_version(version: int) -> str:
    return f"{version:02d}"


@dataclass(frozen=True)
class Script:
    """One script file: its number, its name (without number and suffix), text and checksum."""

    version: int
    name: str
    path: Path
    text: str
    checksum: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return f"{format_version(self.version)}-{self.name}"

    def statements(self) -> list[Statement]:
        """The script's statements; refuses a malformed script or one with forbidden statements."""
        try:
            statements = split_statements(self.text)
        except SplitError as exc:
            raise ValidationError(f"{self.filename}: {exc}") from exc
        problems = [
            f"statement {s.number} (line {s.line}: {s.first_line}): {FORBIDDEN_KEYWORDS[s.keyword]}"
            for s in statements
            if s.keyword in FORBIDDEN_KEYWORDS
        ]
        if problems:
            raise ValidationError(f"{self.filename} cannot run as one migration", problems)
        return statements


@dataclass(frozen=True)
class ScriptSet:
    """The valid scripts of a directory, by version, and warnings about files that are skipped."""

    directory: Path
    scripts: tuple[Script, ...]
    warnings: tuple[str, ...]

    def by_version(self) -> dict[int, Script]:
        return {s.version: s for s in self.scripts}

    @property
    def last_version(self) -> int | None:
        return self.scripts[-1].version if self.scripts else None


def discover(directory: Path) -> ScriptSet:
    """Read and check every script of ``directory``; raises ``ValidationError`` naming bad files."""
    if not directory.exists():
        raise UsageError(f"sql directory {directory} does not exist (set --sql-dir or MER_SQL_DIR)")
    if not directory.is_dir():
        raise UsageError(f"sql directory {directory} is not a directory")
    warnings: list[str] = []
    problems: list[str] = []
    found: dict[int, list[Path]] = {}
    names: dict[Path, str] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        if path.suffix.lower() != ".sql":
            warnings.append(f"{path.name}: not a .sql file, not executed")
            continue
        match = SCRIPT_NAME.match(path.name)
        if match is None or match["number"] != format_version(int(match["number"])):
            problems.append(
                f"{path.name}: name breaks the pattern NN-NameOfTheScript.sql "
                "(a number 00, 01, … then '-', a CamelCase name, '.sql')"
            )
            continue
        found.setdefault(int(match["number"]), []).append(path)
        names[path] = match["name"]
    for version, paths in sorted(found.items()):
        if len(paths) > 1:
            listed = ", ".join(p.name for p in paths)
            problems.append(f"{listed}: two files with number {format_version(version)}")
    if found:
        missing = sorted(set(range(max(found) + 1)) - set(found))
        for version in missing:
            after = max((v for v in found if v < version), default=None)
            before = min(v for v in found if v > version)
            neighbours = [found[v][0].name for v in (after, before) if v is not None]
            problems.append(
                f"no script numbered {format_version(version)} "
                f"(gap between {' and '.join(neighbours)})"
            )
    if problems:
        raise ValidationError(f"the scripts in {directory} cannot run", problems)
    scripts = tuple(
        _read(paths[0], version, names[paths[0]]) for version, paths in sorted(found.items())
    )
    return ScriptSet(directory, scripts, tuple(warnings))


def _read(path: Path, version: int, name: str) -> Script:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except OSError as exc:
        raise UsageError(f"{path.name}: cannot read: {exc.strerror}") from exc
    return Script(version, name, path, text, checksum_of(text))


def new_script(directory: Path, name: str) -> Path:
    """Write the next numbered, empty script called ``name`` (CamelCase) and return its path."""
    if not CAMEL_CASE.match(name):
        raise UsageError(
            f"script name {name!r} must be CamelCase letters and digits, "
            "starting with a capital (e.g. AddModelOwner)"
        )
    scripts = discover(directory)
    last = scripts.last_version
    version = 0 if last is None else last + 1
    path = directory / f"{format_version(version)}-{name}.sql"
    path.write_text(
        f"-- {format_version(version)}-{name}: say what this migration does and why.\n"
        "-- It runs as one transaction: every statement applies, or none does.\n\n",
        encoding="utf-8",
    )
    return path
