"""Shared fixtures: paths and the specification's example case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from lutetia.cli import main

# Timing belongs in benchmarks/: the first example of a property test may build the UCUM
# registry or import scipy, so a per-example deadline would only make the suite flaky.
settings.register_profile("lutetia", deadline=None, print_blob=True)
settings.load_profile("lutetia")

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
