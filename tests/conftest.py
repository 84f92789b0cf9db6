"""Shared fixtures: paths and the specification's example case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lutetia.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cases"
SHARED_SPEC = ROOT.parent / "shared" / "spec"


@pytest.fixture
def spec_case() -> dict[str, Any]:
    """The example case of spec/case-format.md, as a fresh dict."""
    data: dict[str, Any] = json.loads((EXAMPLES / "spec-example.json").read_text())
    return data


def run_cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """Run ``lutetia ARGV --json`` in-process; assert success; return the one JSON object."""
    status = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    document: dict[str, Any] = json.loads(out)
    return document
