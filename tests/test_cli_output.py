"""Output files and printed text of the command line (``lutetia.cli.output``).

An output file is written whole or not at all, never through a symlink, into a
FIFO or device, over a folder, over a read-only file or over the command's own
input; ``-`` is refused where stdout is not meant. JSON output escapes every
control character so that no value can act on a terminal.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lutetia.cli.output import (
    YEARS,
    atomic_output,
    check_output_path,
    json_text,
    parse_aware,
)
from lutetia.errors import BadInputError


def refused(target: str | Path, *, inputs: tuple[str, ...] = ()) -> str:
    """The reason ``check_output_path`` refuses ``target`` (fails the test if it accepts)."""
    with pytest.raises(BadInputError) as raised:
        check_output_path(str(target), option="--out", inputs=inputs)
    assert raised.value.field == "--out"
    return raised.value.reason


# --- check_output_path ---------------------------------------------------------------------


def test_new_file_in_existing_folder_is_accepted(tmp_path: Path) -> None:
    target = tmp_path / "plan.ics"
    assert check_output_path(str(target), option="--out") == target


def test_existing_regular_file_is_accepted(tmp_path: Path) -> None:
    target = tmp_path / "plan.ics"
    target.write_text("old")
    assert check_output_path(str(target), option="--out") == target


def test_relative_name_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_output_path("plan.ics", option="--out") == Path("plan.ics")


@pytest.mark.parametrize("target", ["-", ""])
def test_dash_and_empty_are_not_file_names(target: str) -> None:
    assert "not a file name" in refused(target)


def test_symlink_is_refused_even_to_a_regular_file(tmp_path: Path) -> None:
    real = tmp_path / "real.ics"
    real.write_text("keep")
    link = tmp_path / "link.ics"
    link.symlink_to(real)
    assert "symbolic link" in refused(link)
    assert real.read_text() == "keep"


def test_dangling_symlink_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link.ics"
    link.symlink_to(tmp_path / "nowhere.ics")
    assert "symbolic link" in refused(link)
    assert not (tmp_path / "nowhere.ics").exists()


def test_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.ics"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(fifo)


def test_device_is_refused() -> None:
    assert "not a regular file" in refused("/dev/null")


def test_directory_is_refused(tmp_path: Path) -> None:
    assert "not a regular file" in refused(tmp_path)


def test_name_ending_in_a_separator_is_a_folder(tmp_path: Path) -> None:
    assert "names a folder" in refused(f"{tmp_path}/new/")


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    assert "does not exist" in refused(tmp_path / "missing" / "plan.ics")


def test_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    reason = refused(tmp_path / "file" / "plan.ics")
    assert "does not exist" in reason or "cannot use" in reason


def test_input_file_is_refused_whatever_the_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = tmp_path / "case.json"
    case.write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert "input of this command" in refused("./case.json", inputs=(str(case),))
    assert "input of this command" in refused(str(case), inputs=("case.json",))
    hard = tmp_path / "hard.json"
    os.link(case, hard)
    assert "input of this command" in refused(hard, inputs=(str(case),))
    assert case.read_text() == "{}"


def test_missing_input_does_not_block_output(tmp_path: Path) -> None:
    target = tmp_path / "plan.ics"
    target.write_text("old")
    path = check_output_path(str(target), option="--out", inputs=(str(tmp_path / "gone"),))
    assert path == target


def test_read_only_file_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "plan.ics"
    target.write_text("keep")
    target.chmod(0o444)
    assert "read-only" in refused(target)


# --- atomic_output -------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_atomic_output_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "plan.ics"
    target.write_text("old")
    with atomic_output(str(target), option="--out") as temporary:
        assert temporary.parent == tmp_path
        assert temporary != target
        temporary.write_text("new")
        assert target.read_text() == "old"  # not yet replaced
    assert target.read_text() == "new"
    assert _leftovers(tmp_path) == []


def _write_then_fail(temporary: Path, error: Exception) -> None:
    temporary.write_text("half")
    raise error


def test_failure_inside_the_block_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "plan.ics"
    with pytest.raises(RuntimeError), atomic_output(str(target), option="--out") as temporary:
        _write_then_fail(temporary, RuntimeError("a later step failed"))
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_inside_the_block_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.ics"
    target.write_text("old")
    with pytest.raises(BadInputError), atomic_output(str(target), option="--out") as temporary:
        _write_then_fail(temporary, BadInputError("x", "bad"))
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_nested_blocks_replace_nothing_unless_all_were_written(tmp_path: Path) -> None:
    first, second = tmp_path / "a.html", tmp_path / "b.pdf"
    first.write_text("old a")
    with (  # noqa: PT012 - the block's steps are the test
        pytest.raises(RuntimeError),
        atomic_output(str(first), option="--html") as a,
        atomic_output(str(second), option="--pdf") as b,
    ):
        a.write_text("new a")
        _write_then_fail(b, RuntimeError("rendering the PDF failed"))
    assert first.read_text() == "old a"
    assert not second.exists()
    assert _leftovers(tmp_path) == []


def test_atomic_output_checks_the_path_first(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "x")
    with (
        pytest.raises(BadInputError, match="symbolic link"),
        atomic_output(str(link), option="--out"),
    ):
        pytest.fail("the body must not run")  # pragma: no cover


def test_symlink_planted_during_the_block_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    target = tmp_path / "plan.ics"
    with (  # noqa: PT012 - the block's steps are the test
        pytest.raises(BadInputError, match="symbolic link"),
        atomic_output(str(target), option="--out") as temporary,
    ):
        temporary.write_text("new")
        target.symlink_to(victim)
    assert victim.read_text() == "keep"
    assert _leftovers(tmp_path) == []


def test_new_file_gets_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_output(str(tmp_path / "new.ics"), option="--out") as temporary:
            temporary.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.ics").stat().st_mode) == 0o640


def test_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "letter.html"
    target.write_text("old")
    target.chmod(0o600)  # a patient's letter the user protected
    with atomic_output(str(target), option="--out") as temporary:
        temporary.write_text("new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == "new"


def test_unwritable_folder_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def no_permission(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", no_permission)
    with (
        pytest.raises(BadInputError, match=r"cannot write .*Permission denied"),
        atomic_output(str(tmp_path / "plan.ics"), option="--out"),
    ):
        pytest.fail("the body must not run")  # pragma: no cover
    assert list(tmp_path.iterdir()) == []


def test_failed_replacement_is_bad_input_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    target = tmp_path / "plan.ics"
    target.write_text("old")
    with (  # noqa: PT012 - the block's steps are the test
        pytest.raises(BadInputError, match="No space left"),
        atomic_output(str(target), option="--out") as temporary,
    ):
        temporary.write_text("new")
        monkeypatch.setattr(os, "replace", disk_full)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


# --- JSON text and times -------------------------------------------------------------------

HOSTILE = "ex\n01\r\x1b[31mRECOMMENDATION: recommended\x07\x7f\x9b\u2028\u2029\u202e\ud800"


def test_json_text_escapes_every_control_character() -> None:
    text = json_text({"patient_id": HOSTILE, "value": float("nan")})
    assert json.loads(text) == {"patient_id": HOSTILE, "value": None}
    body = text.replace("\n", "")  # the indentation's own newlines
    for char in "\r\x1b\x07\x7f\x9b\u2028\u2029\u202e\ud800":
        assert char not in body
    assert len(text.splitlines()) == 4  # {, two keys, }


@given(st.text())
def test_json_text_round_trips_any_string(value: str) -> None:
    text = json_text({"v": value})
    assert json.loads(text) == {"v": value}
    assert len(text.splitlines()) == 3
    text.encode("utf-8")  # lone surrogates are escaped, so it always encodes


def test_parse_aware_accepts_offsets_and_z() -> None:
    assert parse_aware("2026-03-03T09:30Z", option="--at").utcoffset() is not None
    assert parse_aware(" 2026-03-03T09:30+01:00 ", option="--at").hour == 9


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2026-03-03T09:30", "no UTC offset"),
        ("yesterday", "not an ISO 8601 datetime"),
        ("0001-01-01T00:00+01:00", "the year must be"),
        ("9999-12-31T23:59-05:00", "the year must be"),
        (f"{YEARS.start - 1}-12-31T23:59+00:00", "the year must be"),
        (f"{YEARS.stop}-01-01T00:00+00:00", "the year must be"),
    ],
)
def test_parse_aware_refuses(text: str, needle: str) -> None:
    with pytest.raises(BadInputError, match=needle) as raised:
        parse_aware(text, option="--at")
    assert raised.value.field == "--at"


@pytest.mark.parametrize(
    "text", [f"{YEARS.start}-01-01T00:00+00:00", f"{YEARS.stop - 1}-12-31T23:59+00:00"]
)
def test_parse_aware_accepts_the_edge_years(text: str) -> None:
    assert parse_aware(text, option="--at").year in YEARS
