"""``write_pdf`` and WeasyPrint's warnings, independent of the machine's libraries.

Without ``libharfbuzz-subset0`` WeasyPrint (weasyprint/text/ffi.py) warns on import,
with a ``DeprecationWarning``, that future versions will need the library. Under
``filterwarnings = error`` that notice used to abort the letter ("internal error").
These tests stand a fake ``weasyprint`` module in for the real one, so they exercise
the same path whether or not the library is installed here.
"""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import pytest

from lutetia.reports.letter import write_pdf

NOTICE = (
    "HarfBuzz-Subset will be required by future versions of WeasyPrint. "
    "Please install this library with your package manager."
)


def fake_weasyprint(tmp_path: Path, *, module: str, category: type[Warning]) -> types.ModuleType:
    """A ``weasyprint`` stand-in whose ``HTML.write_pdf`` warns as if from ``module``.

    The warning is raised by code compiled with the file name and ``__name__`` of
    ``module``, which is how the warnings machinery tells where a warning comes from.
    """
    filename = str(tmp_path.joinpath(*module.split(".")).with_suffix(".py"))
    namespace: dict[str, object] = {"__name__": module, "category": category, "notice": NOTICE}
    source = "import warnings\ndef emit():\n    warnings.warn(notice, category=category)\n"
    exec(compile(source, filename, "exec"), namespace)
    emit = namespace["emit"]

    class HTML:
        def __init__(self, string: str) -> None:
            self.string = string

        def write_pdf(self, target: Path) -> None:
            emit()  # type: ignore[operator]
            Path(target).write_bytes(b"%PDF-1.7 " + self.string.encode())

    fake = types.ModuleType("weasyprint")
    fake.HTML = HTML  # type: ignore[attr-defined]
    return fake


def test_weasyprint_deprecation_notice_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_weasyprint(tmp_path, module="weasyprint.text.ffi", category=DeprecationWarning)
    monkeypatch.setitem(sys.modules, "weasyprint", fake)
    target = tmp_path / "letter.pdf"
    with caplog.at_level(logging.INFO, logger="lutetia.reports.letter"):
        write_pdf("<p>letter</p>", target)  # pytest runs with filterwarnings = error
    assert target.read_bytes() == b"%PDF-1.7 <p>letter</p>"
    assert not (tmp_path / "letter.pdf.part").exists()
    assert any("HarfBuzz-Subset" in record.getMessage() for record in caplog.records)


def test_deprecation_from_another_library_is_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_weasyprint(tmp_path, module="otherlib.fonts", category=DeprecationWarning)
    monkeypatch.setitem(sys.modules, "weasyprint", fake)
    with pytest.raises(DeprecationWarning, match="HarfBuzz-Subset"):
        write_pdf("<p>letter</p>", tmp_path / "letter.pdf")
    assert list(tmp_path.glob("letter.pdf*")) == []


def test_other_warnings_of_weasyprint_are_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_weasyprint(tmp_path, module="weasyprint.text.ffi", category=UserWarning)
    monkeypatch.setitem(sys.modules, "weasyprint", fake)
    with pytest.raises(UserWarning, match="HarfBuzz-Subset"):
        write_pdf("<p>letter</p>", tmp_path / "letter.pdf")
