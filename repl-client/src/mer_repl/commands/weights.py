"""``weights MODEL``, ``weights add``, ``weights export``, ``weights rm``, ``weights default``."""

from __future__ import annotations

from pathlib import Path

from mer_core.errors import Conflict
from mer_core.schemas.registry import ModelUpdate, WeightsCreate

from mer_repl.parsing import Args, existing_file, flag, option, positional, registry_name
from mer_repl.problems import CommandFailed, UsageError, force_hint
from mer_repl.progress import transfer
from mer_repl.registry import Command
from mer_repl.result import Result, Table, Text, message
from mer_repl.session import Session


async def list_weights(session: Session, args: Args) -> Result:
    name = args.text("model")
    weights = await (await session.dal()).list_weights(name)
    rows = [
        [
            w.version,
            "yes" if w.is_default else "",
            len(w.tensors),
            w.size,
            w.blob[:12],
            w.note,
            w.created_at.isoformat(timespec="seconds"),
        ]
        for w in weights.data
    ]
    columns = ["version", "default", "tensors", "bytes", "blob", "note", "created"]
    blocks: tuple[Table | Text, ...] = (Table(columns, rows, f"weights of {name}"),)
    if not rows:
        blocks = (Text(f"model {name} has no weight vectors; add one with `weights add`"),)
    return Result(data=weights.model_dump(mode="json"), blocks=blocks)


async def add_weights(session: Session, args: Args) -> Result:
    model, version = args.text("model"), args.text("version")
    path: Path = args["file"]
    dal = await session.admin()
    await dal.get_model(model)
    with transfer(session.console, f"uploading {path.name}") as progress:
        blob = await dal.upload_blob(path, progress=progress)
    create = WeightsCreate(version=version, blob=blob.sha256, note=args.maybe("note") or "")
    weights = await dal.add_weights(model, create)
    line = (
        f"added weights {model}/{weights.version}: "
        f"{len(weights.tensors)} tensors, {blob.size} bytes"
    )
    return Result(data=weights.model_dump(mode="json"), blocks=(Text(line),), changed=True)


async def export_weights(session: Session, args: Args) -> Result:
    model, version = args.text("model"), args.text("version")
    dest = _destination(args.text("file"), overwrite=args.flag("force"))
    dal = await session.dal()
    weights = await dal.get_weights(model, version)
    with transfer(session.console, f"downloading {model}/{version}") as progress:
        await dal.download_blob(weights.blob, dest, progress=progress)
    line = f"exported weights {model}/{version} to {dest} ({weights.size} bytes)"
    doc = {"model": model, "version": version, "file": str(dest), "size": weights.size}
    return message(line, doc)


async def remove_weights(session: Session, args: Args) -> Result:
    model, version = args.text("model"), args.text("version")
    try:
        await (await session.admin()).delete_weights(model, version, force=args.flag("force"))
    except Conflict as exc:
        raise force_hint(exc) from exc
    return message(
        f"removed weights {model}/{version}", {"removed": f"{model}/{version}"}, changed=True
    )


async def default_weights(session: Session, args: Args) -> Result:
    model, version = args.text("model"), args.text("version")
    dal = await session.admin()
    before = await dal.get_model(model)
    updated = await dal.update_model(model, ModelUpdate(default_weights=version))
    line = (
        f"model {model} now answers with weights {updated.default_weights} by default "
        f"(was {before.default_weights or 'none'})"
    )
    return Result(data=updated.model_dump(mode="json"), blocks=(Text(line),), changed=True)


def _destination(word: str, *, overwrite: bool) -> Path:
    """Where to write: a file in a folder that exists (none is created for a mistyped path)."""
    dest = Path(word).expanduser()
    if dest.is_dir():
        raise UsageError(f"{dest} is a directory; give a file name")
    if not dest.parent.is_dir():
        what = "is not a folder" if dest.parent.exists() else "does not exist"
        raise UsageError(f"folder {dest.parent} {what}")
    if dest.exists() and not overwrite:
        raise CommandFailed(f"{dest} exists; add --force to overwrite it")
    return dest


_MODEL = positional("MODEL", "the model's name", complete="model")
_VERSION = positional("VERSION", "the weight vector's name", complete="version")

ADD = Command(
    "weights add",
    "upload a safetensors file as a weight vector of a model",
    add_weights,
    (
        _MODEL,
        positional("VERSION", "the new weight vector's name", convert=registry_name),
        positional("FILE", "the .safetensors file", convert=existing_file, complete="file"),
        option("--note", "TEXT", "a note kept with it"),
    ),
    changes_config=True,
)

COMMANDS = (
    Command("weights", "list a model's weight vectors", list_weights, (_MODEL,)),
    ADD,
    Command(
        "weights export",
        "download a weight vector to a file",
        export_weights,
        (
            _MODEL,
            _VERSION,
            positional("FILE", "where to write it", complete="file"),
            flag("--force", "overwrite FILE"),
        ),
    ),
    Command(
        "weights rm",
        "remove a weight vector",
        remove_weights,
        (_MODEL, _VERSION, flag("--force", "even the default one")),
        changes_config=True,
    ),
    Command(
        "weights default",
        "make a weight vector the model's default",
        default_weights,
        (_MODEL, _VERSION),
        changes_config=True,
    ),
)
