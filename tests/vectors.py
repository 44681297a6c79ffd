"""Published agreement examples, each with its source (tests/data/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AGREEMENT_VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "agreement_vectors.json").read_text()
)["vectors"]
