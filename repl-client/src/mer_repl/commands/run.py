"""``run MODEL INPUT [--weights V] [--output-name NAME] [--binary]``: one inference on a worker."""

from __future__ import annotations

from mer_repl.inputs import bind_inputs, read_input
from mer_repl.outputs import outputs_result
from mer_repl.parsing import Args, flag, option, positional
from mer_repl.registry import Command
from mer_repl.result import Result
from mer_repl.session import Session


async def run_model(session: Session, args: Args) -> Result:
    model, version = args.text("model"), args.maybe("weights")
    raw = read_input(args.text("input"))
    worker = await session.worker()
    metadata = await worker.model_metadata(model, version)
    inputs = bind_inputs(raw, metadata.inputs, model)
    wanted = args.maybe("output_name")
    binary = args.flag("binary")
    outputs = await worker.infer(
        model,
        inputs,
        version=version,
        outputs=[wanted] if wanted else None,
        binary_inputs=binary,
        binary_outputs=binary,
    )
    return outputs_result(model, version, outputs)


COMMANDS = (
    Command(
        "run",
        "run a model on INPUT through the worker",
        run_model,
        (
            positional("MODEL", "the model's name", complete="model"),
            positional(
                "INPUT",
                'a JSON literal ([[5.1, 3.5, 1.4, 0.2]] or {"input": ...}), '
                "or a .npy, .npz or .csv file",
                complete="file",
            ),
            option(
                "--weights", "V", "the weight vector (default: the model's)", complete="version"
            ),
            option("--output-name", "NAME", "only this output"),
            flag("--binary", "send and receive tensors in the binary extension"),
        ),
        details=(
            "A .csv holds header-less numeric rows (FP32); values are cast to the model's input "
            "datatype. One array goes to the model's only input; name inputs with a JSON object "
            "or an .npz. Small answers show as a table, large ones as their shape and first rows."
        ),
    ),
)
