"""Shared fixtures: paths and the specification's example case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cases"
SHARED_SPEC = ROOT.parent / "shared" / "spec"


@pytest.fixture
def spec_case() -> dict[str, Any]:
    """The example case of spec/case-format.md, as a fresh dict."""
    data: dict[str, Any] = json.loads((EXAMPLES / "spec-example.json").read_text())
    return data
