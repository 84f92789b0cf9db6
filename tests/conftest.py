"""Shared fixtures: paths and the specification's example case."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from lutetia.cli import main

# Timing belongs in benchmarks/: the first example of a property test may build the UCUM
# registry or import scipy, so a per-example deadline would only make the suite flaky.
settings.register_profile("lutetia", deadline=None, print_blob=True)
# Under CI (the CI variable set) property tests are derandomized: the same examples on
# every run, so a red build is reproducible and never a roll of the dice.
settings.register_profile("lutetia-ci", parent=settings.get_profile("lutetia"), derandomize=True)
_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
settings.load_profile("lutetia-ci" if _CI else "lutetia")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cases"
#: The interface specification in ``../shared/spec`` beside the checkout. The product never
#: reads it; tests compare with it when it is there (see :func:`shared_spec`).
SHARED_SPEC = ROOT.parent / "shared" / "spec"


def running_in_ci() -> bool:
    """True when the environment variable ``CI`` is set to anything but empty, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared_spec(name: str) -> Path:
    """The file ``name`` of ``../shared/spec``, for a test that compares with the specification.

    A bare clone has no ``../shared``: the calling test is then skipped with a reason that
    says so. Under CI (``CI`` set) the comparison is required, so the test fails instead.
    """
    path = SHARED_SPEC / name
    if path.is_file():
        return path
    reason = (
        f"{path} is absent: this test compares Lutetia with the shared specification "
        "(../shared/spec beside the checkout)"
    )
    if running_in_ci():
        pytest.fail(f"{reason}; it is required when CI is set", pytrace=False)
    pytest.skip(reason)


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
