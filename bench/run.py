"""`make bench`: MER against bare onnxruntime and a plain FastAPI server, in one run.

    .venv/bin/python bench/run.py [--rounds 4] [--seconds 3] [--load-generator auto|wrk|builtin]

The table goes to stdout, progress to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import the ``bench`` package from the repository, not this folder's modules.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.main import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
