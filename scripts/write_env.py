"""Write .env from .env.example with fresh random tokens, unless .env exists already."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

GENERATED = ("MER_TOKEN", "MER_ADMIN_TOKEN")


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    target = root / ".env"
    if target.exists():
        print(".env exists; leaving it as it is")
        return 0
    lines = []
    for line in (root / ".env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        empty_secret = key in GENERATED and line.strip() == f"{key}="
        lines.append(f"{key}={secrets.token_urlsafe(32)}" if empty_secret else line)
    target.touch(mode=0o600)
    target.write_text("\n".join(lines) + "\n")
    print("wrote .env with fresh tokens (mode 600)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
