"""``models``, ``model NAME``, ``model import``, ``model rm``, ``model place``, ``model set``."""

from __future__ import annotations

from typing import Any

from mer_core.errors import Conflict, NotFound
from mer_core.schemas.registry import ModelCreate, ModelPublic, ModelUpdate

from mer_repl.parsing import (
    Args,
    existing_file,
    flag,
    key_value,
    option,
    positional,
    registry_name,
)
from mer_repl.problems import CommandFailed, UsageError, force_hint
from mer_repl.progress import transfer
from mer_repl.registry import Command
from mer_repl.result import Result, Table, Text, message
from mer_repl.session import Session

SETTABLE = {
    "max_batch_size": "max_batch_size",
    "max_queue_delay_us": "max_queue_delay_us",
    "device": "device",
    "threads": "intra_op_threads",
    "intra_op_threads": "intra_op_threads",
    "inter_op_threads": "inter_op_threads",
    "instances": "instances",
    "description": "description",
}
"""``model set`` keys and the model field each one sets (``threads`` is intra-op threads)."""


async def list_models(session: Session, args: Args) -> Result:
    models = await (await session.dal()).list_models()
    rows = [
        [
            m.name,
            _artifact(m),
            m.server,
            m.default_weights or "-",
            ", ".join(m.versions) or "-",
            m.device,
            m.max_batch_size,
            m.description,
        ]
        for m in models.data
    ]
    columns = ["name", "onnx", "server", "default", "weights", "device", "batch", "description"]
    return Result(data=models.model_dump(mode="json"), blocks=(Table(columns, rows, "models"),))


async def show_model(session: Session, args: Args) -> Result:
    dal = await session.dal()
    model = await dal.get_model(args.text("name"))
    weights = await dal.list_weights(model.name)
    config: list[list[Any]] = [
        ["description", model.description or "-"],
        ["platform", model.platform],
        ["onnx", _artifact(model)],
        ["size", model.artifact_size if model.artifact_size is not None else "-"],
        ["server", model.server],
        ["device", model.device],
        ["max_batch_size", model.max_batch_size],
        ["max_queue_delay_us", model.max_queue_delay_us],
        ["intra_op_threads", model.intra_op_threads],
        ["inter_op_threads", model.inter_op_threads],
        ["instances", model.instances],
        ["default weights", model.default_weights or "-"],
        ["revision", model.revision],
    ]
    signature = [
        [role, t.name, t.datatype, _shape(t.shape)]
        for role, tensors in (("input", model.inputs), ("output", model.outputs))
        for t in tensors
    ]
    versions: list[list[Any]] = [
        [
            ("* " if w.version == model.default_weights else "") + w.version,
            len(w.tensors),
            w.size,
            w.note,
            w.created_at.isoformat(timespec="seconds"),
        ]
        for w in weights.data
    ]
    blocks: list[Table | Text] = [Table(["setting", "value"], config, f"model {model.name}")]
    if signature:
        blocks.append(Table(["", "name", "datatype", "shape"], signature, "signature"))
    else:
        blocks.append(Text("no signature yet: import its ONNX file with `model import`", "yellow"))
    if versions:
        columns = ["version (* default)", "tensors", "bytes", "note", "created"]
        blocks.append(Table(columns, versions, "weights"))
    doc = {**model.model_dump(mode="json"), "weights": weights.model_dump(mode="json")["data"]}
    return Result(data=doc, blocks=tuple(blocks))


async def import_model(session: Session, args: Args) -> Result:
    name, path = args.text("name"), args["file"]
    description: str | None = args.maybe("description")
    dal = await session.admin()
    try:
        existing: ModelPublic | None = await dal.get_model(name)
    except NotFound:
        existing = None
    if existing is not None and existing.artifact and not args.flag("replace"):
        raise CommandFailed(
            f"model {name} is already imported (onnx {existing.artifact[:12]}); "
            "add --replace to replace its ONNX file"
        )
    with transfer(session.console, f"uploading {path.name}") as progress:
        blob = await dal.upload_blob(path, progress=progress)
    if existing is None:
        create = ModelCreate(name=name, artifact=blob.sha256, description=description or "")
        model = await dal.create_model(create)
        verb = "imported"
    else:
        fields = {"artifact": blob.sha256}
        if description is not None:
            fields["description"] = description
        model = await dal.update_model(name, ModelUpdate.model_validate(fields))
        verb = "re-imported" if existing.artifact else "imported"
    inputs = ", ".join(f"{t.name} {t.datatype}{_shape(t.shape)}" for t in model.inputs)
    line = f"{verb} model {model.name} from {path.name} ({blob.size} bytes); inputs: {inputs}"
    return Result(data=model.model_dump(mode="json"), blocks=(Text(line),), changed=True)


async def remove_model(session: Session, args: Args) -> Result:
    name = args.text("name")
    try:
        await (await session.admin()).delete_model(name, force=args.flag("force"))
    except Conflict as exc:
        raise force_hint(exc) from exc
    return message(f"removed model {name}", {"removed": name}, changed=True)


async def place_model(session: Session, args: Args) -> Result:
    name, server = args.text("model"), args.text("server")
    dal = await session.admin()
    before = await dal.get_model(name)
    await dal.get_server(server)
    model = await dal.update_model(name, ModelUpdate(server=server))
    line = f"placed model {name} on {model.server} (was {before.server})"
    return Result(data=model.model_dump(mode="json"), blocks=(Text(line),), changed=True)


async def set_model(session: Session, args: Args) -> Result:
    name = args.text("model")
    fields: dict[str, Any] = {}
    for key, value in args.words("key_value"):
        if key not in SETTABLE:
            known = ", ".join(SETTABLE)
            raise UsageError(f"model set: unknown setting {key!r} (settings: {known})", SET.syntax)
        fields[SETTABLE[key]] = value
    update = ModelUpdate.model_validate(fields)
    dal = await session.admin()
    before = await dal.get_model(name)
    model = await dal.update_model(name, update)
    changes = [[field, getattr(before, field), getattr(model, field)] for field in sorted(fields)]
    table = Table(["setting", "was", "now"], changes, f"model {name} (revision {model.revision})")
    return Result(data=model.model_dump(mode="json"), blocks=(table,), changed=True)


def _artifact(model: ModelPublic) -> str:
    return model.artifact[:12] if model.artifact else "not imported"


def _shape(shape: list[int]) -> str:
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


_MODEL = positional("MODEL", "the model's name", complete="model")

IMPORT = Command(
    "model import",
    "upload an ONNX file as a model (or as the file of a seeded configuration)",
    import_model,
    (
        positional("NAME", "the model's name", convert=registry_name, complete="model"),
        positional("FILE", "the .onnx file", convert=existing_file, complete="file"),
        option("--description", "TEXT", "what the model does"),
        flag("--replace", "replace the ONNX file of a model already imported"),
    ),
    changes_config=True,
)

SET = Command(
    "model set",
    "change a model's settings",
    set_model,
    (
        _MODEL,
        positional(
            "KEY=VALUE",
            "max_batch_size, max_queue_delay_us, device, threads, instances, description",
            many=True,
            convert=key_value,
            choices=tuple(f"{key}=" for key in SETTABLE),
        ),
    ),
    changes_config=True,
    details="Keys: " + ", ".join(SETTABLE) + ". `threads` sets the intra-op threads.",
)

COMMANDS = (
    Command("models", "list the models", list_models),
    Command(
        "model",
        "show a model: settings, signature, weight versions, default",
        show_model,
        (positional("NAME", "the model's name", complete="model"),),
    ),
    IMPORT,
    Command(
        "model rm",
        "remove a model",
        remove_model,
        (
            positional("NAME", "the model's name", complete="model"),
            flag("--force", "even with weight vectors or a remote placement"),
        ),
        changes_config=True,
    ),
    Command(
        "model place",
        "run a model on another server",
        place_model,
        (_MODEL, positional("SERVER", "the server's name", complete="server")),
        changes_config=True,
    ),
    SET,
)
