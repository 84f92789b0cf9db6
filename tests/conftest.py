"""Shared fixtures: paths and the specification's example case."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from lutetia.cli import main


def _flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to anything but empty, 0, false, no."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


# Timing belongs in benchmarks/: the first example of a property test may build the UCUM
# registry or import scipy, so a per-example deadline would only make the suite flaky.
settings.register_profile("lutetia", deadline=None, print_blob=True)
# Under CI (the CI variable set) property tests are derandomized: the same examples on
# every run, so a red build is reproducible and never a roll of the dice.
settings.register_profile("lutetia-ci", parent=settings.get_profile("lutetia"), derandomize=True)
settings.load_profile("lutetia-ci" if _flag("CI") else "lutetia")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cases"
#: The interface specification in ``../shared/spec`` beside the checkout. The product never
#: reads it; tests compare with it when it is there (see :func:`shared_spec`).
SHARED_SPEC = ROOT.parent / "shared" / "spec"


def shared_spec_required() -> bool:
    """Whether a missing ``../shared/spec`` fails the comparison tests instead of skipping them.

    ``.ci/run`` sets ``LUTETIA_REQUIRE_SHARED_SPEC=1`` whenever ``../shared/spec`` lies
    beside the clone it tests, so that under CI a comparison that can run always runs
    (a spec file removed or renamed there fails the build instead of skipping quietly);
    on a bare clone, in CI or not, the comparisons skip with their reason.
    """
    return _flag("LUTETIA_REQUIRE_SHARED_SPEC")


def shared_spec(name: str) -> Path:
    """The file ``name`` of ``../shared/spec``, for a test that compares with the specification.

    A bare clone has no ``../shared``: the calling test is then skipped with a reason that
    says so. Where the comparison is required (:func:`shared_spec_required`) it fails instead.
    """
    path = SHARED_SPEC / name
    if path.is_file():
        return path
    reason = (
        f"{path} is absent: this test compares Lutetia with the shared specification "
        "(../shared/spec beside the checkout)"
    )
    if shared_spec_required():
        pytest.fail(f"{reason}; it is required (LUTETIA_REQUIRE_SHARED_SPEC is set)", pytrace=False)
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
