"""The cohort path of ``lutetia dose images`` against the faults a bad-input sweep found
(docs/hazards.md H-M48–H-M53): a study folder whose name is not UTF-8, a scheduler with no
worker, an unreadable or hidden folder, a table written into a study, study.json paths that
leave the study, control characters in a study's name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lutetia.errors import BadInputError
from lutetia.imaging.phantom import PhantomTruth
from lutetia.services.cohort import (
    NO_WORKER_TIMEOUT_S,
    SCHEDULER_TIMEOUT_S,
    _still_running,
    find_studies,
    local_cluster,
    printable,
    run_cohort,
)
from lutetia.services.image_dosimetry import Options, study_inputs
from tests.series_edit import CALIBRATION, still_phantom, write_study


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    return still_phantom(tmp_path_factory.mktemp("small"), 24, 12.8)


def _lutetia(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lutetia", *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=600,
    )


def test_a_study_folder_whose_name_is_not_utf8_fails_no_study(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    """H-M48: one folder named b"pat\\xffient" made Dask drop its connection and every study
    of the cohort, the valid ones too, failed; the name is now shown with the byte escaped
    and the key of a task is its position only."""
    cohort = tmp_path / "cohort"
    write_study(phantom, cohort / "p1")
    write_study(phantom, Path(os.fsdecode(os.fsencode(cohort) + b"/pat\xffient")))
    table = tmp_path / "t.csv"
    run = _lutetia("dose", "images", "--cohort", str(cohort), "--table", str(table),
                   "--workers", "2", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    document = json.loads(run.stdout)
    assert (document["studies"], document["succeeded"]) == (2, 2)
    studies = {line.split(",")[0] for line in table.read_text(encoding="utf-8").splitlines()[1:]}
    assert studies == {"p1", "pat\\xffient"}
    assert printable(os.fsdecode(b"a\xffb")) == "a\\xffb"


def test_a_scheduler_with_no_worker_is_refused_not_waited_on(tmp_path: Path) -> None:
    """H-M49: a scheduler without workers took the tasks and the command waited without
    end and without a word."""
    (tmp_path / "p1" / "spect_4h").mkdir(parents=True)
    with local_cluster(0, processes=False) as cluster:
        address = cluster.scheduler_address
        with pytest.raises(BadInputError) as error:
            run_cohort(find_studies(tmp_path), Options(), scheduler=address)
    assert error.value.field == "--scheduler"
    assert f"no Dask worker connected within {SCHEDULER_TIMEOUT_S:g} s" in error.value.reason


def test_a_cluster_that_loses_its_workers_or_its_scheduler_stops_the_run() -> None:
    """H-M49: workers that leave mid-run, or a scheduler that goes, end the run with one
    error (no table) after NO_WORKER_TIMEOUT_S, instead of a wait without end or a table of
    every study "failed"."""
    from distributed import Client

    assert NO_WORKER_TIMEOUT_S == 3 * SCHEDULER_TIMEOUT_S
    with (
        local_cluster(0, processes=False) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):  # fmt: skip
        assert _still_running(client, "--cohort", 0.0, 1, 3) == SCHEDULER_TIMEOUT_S
        assert _still_running(client, "--cohort", 10.0, 1, 3) == 2 * SCHEDULER_TIMEOUT_S
        with pytest.raises(BadInputError) as error:
            _still_running(client, "--cohort", 20.0, 1, 3)
        assert error.value.field == "--cohort"
        assert error.value.reason.startswith("no Dask worker for 30 s after 1 of 3 studies")
        client.close()
        with pytest.raises(BadInputError) as error:
            _still_running(client, "--scheduler", 0.0, 2, 3)
        assert "connection to the Dask scheduler was lost after 2 of 3" in error.value.reason


def test_workers_do_not_apply_to_an_existing_scheduler(tmp_path: Path) -> None:
    (tmp_path / "p1" / "spect_4h").mkdir(parents=True)
    with pytest.raises(BadInputError) as error:
        run_cohort(find_studies(tmp_path), Options(), scheduler="tcp://127.0.0.1:1", workers=2)
    assert error.value.field == "--workers"


def test_hidden_folders_are_not_studies(tmp_path: Path) -> None:
    """H-M50: a notebook's .ipynb_checkpoints (with a spect* folder) ran as a failing study."""
    for name in ("p1", ".ipynb_checkpoints", ".backup"):
        (tmp_path / name / "spect_4h").mkdir(parents=True)
    assert [p.name for p in find_studies(tmp_path)] == ["p1"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder: no permission to refuse")
def test_an_unreadable_study_is_one_failed_study(tmp_path: Path) -> None:
    """H-M50: one study folder that could not be read stopped the whole cohort with
    "internal error: PermissionError" and no path (found as uid 65534)."""
    (tmp_path / "p1" / "spect_4h").mkdir(parents=True)
    locked = tmp_path / "p2"
    locked.mkdir()
    locked.chmod(0)
    try:
        assert [p.name for p in find_studies(tmp_path)] == ["p1", "p2"]
        with pytest.raises(BadInputError) as error:
            study_inputs(locked)
        assert error.value.field == str(locked)
        assert "cannot be read" in error.value.reason
    finally:
        locked.chmod(0o755)


def test_the_table_is_refused_inside_a_study(phantom: PhantomTruth, tmp_path: Path) -> None:
    """H-M51: --table p1/labels.csv replaced the study's label names with the table."""
    cohort = tmp_path / "cohort"
    write_study(phantom, cohort / "p1")
    labels = cohort / "p1" / "labels.csv"
    labels.write_text("label,name\n1,liver\n", encoding="utf-8")
    before = labels.read_bytes()
    for target in (labels, cohort / "p1" / "spect_4h" / "t.csv", cohort / "p1" / "t.parquet"):
        run = _lutetia("dose", "images", "--cohort", str(cohort), "--table", str(target))
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith("lutetia dose: error: --table: "), run.stderr
        assert "is inside the input folder" in run.stderr
    assert labels.read_bytes() == before
    assert not (cohort / "p1" / "t.parquet").exists()


@pytest.mark.parametrize(
    ("described", "key"),
    [
        ({"spect": ["/tmp/elsewhere/spect_4h"]}, "spect[0]"),
        ({"spect": ["spect_4h", "../other/spect_24h"]}, "spect[1]"),
        ({"spect": [""]}, "spect[0]"),
        ({"spect": ["  "]}, "spect[0]"),
        ({"spect": [3]}, "spect[0]"),
        ({"ct": "../other/ct"}, "ct"),
        ({"masks": "/tmp/labels.nii.gz"}, "masks"),
        ({"labels": "sub/../../labels.json"}, "labels"),
    ],
)
def test_study_json_paths_stay_inside_the_study(
    tmp_path: Path, described: dict[str, Any], key: str
) -> None:
    """H-M52: study.json's paths, "relative to the folder" by the docs, were taken anywhere:
    a study computed from another patient's images without a word."""
    folder = tmp_path / "p1"
    folder.mkdir()
    document = {"spect": ["spect_4h"], "masks": "labels.nii.gz", **described}
    (folder / "study.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BadInputError) as error:
        study_inputs(folder)
    assert error.value.field == f"{folder / 'study.json'}: {key}"


def test_a_study_json_nested_too_deeply_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "p1"
    folder.mkdir()
    (folder / "study.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(BadInputError) as error:
        study_inputs(folder)
    assert error.value.field == str(folder / "study.json")
    assert error.value.reason == "cannot be read: nested too deeply"


def test_control_characters_in_a_study_name_are_escaped(tmp_path: Path) -> None:
    """H-M53: a folder named "evil\\x1b[31mRED\\nFailed: fake" wrote its escape sequence to
    the terminal and forged a "Failed:" line."""
    cohort = tmp_path / "cohort"
    (cohort / "evil\x1b[31mRED\nFailed: fake" / "spect_4h").mkdir(parents=True)
    run = _lutetia("dose", "images", "--cohort", str(cohort), "--table", str(tmp_path / "t.csv"),
                   "--workers", "1")  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert "\x1b" not in run.stdout
    failed = [line for line in run.stdout.splitlines() if line.startswith("Failed:")]
    assert len(failed) == 1
    assert failed[0].startswith("Failed: evil\\x1b[31mRED\\nFailed: fake: ")


def _sentinel() -> tuple[bool, Any]:
    return True, [{"study": "another cohort's patient"}]


def test_a_cohort_does_not_take_another_clients_results(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    """H-M54: keys by position alone ("study-0") made two cohorts on one scheduler share
    results: one cohort's table held the other's patient and doses (a review found it with
    two cohorts at once). Here another client holds every key the engine has used for a
    study's first task; the run must compute its own."""
    from distributed import Client

    cohort = tmp_path / "cohort"
    write_study(phantom, cohort / "p1")
    with (
        local_cluster(1, processes=False) as cluster,
        Client(cluster) as other,  # type: ignore[no-untyped-call]
    ):  # fmt: skip
        held = [
            other.submit(_sentinel, pure=False, key=key)
            for key in ("study-0", "study-0-p1", "study-0-0")
        ]
        assert all(f.result()[0] is True for f in held)
        result = run_cohort(find_studies(cohort), Options(), scheduler=cluster.scheduler_address)
    assert {row["study"] for row in result.rows} == {"p1"}
    assert not result.failures


def test_a_scheduler_lost_mid_run_ends_it_with_one_error(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    """H-M49: a scheduler killed while studies ran gave "internal error:
    FuturesCancelledError" (exit 1) and tracebacks; it is one error naming --scheduler."""
    import shutil
    import signal
    import time

    cohort = tmp_path / "cohort"
    write_study(phantom, cohort / "p00")
    for i in range(1, 8):
        shutil.copytree(cohort / "p00", cohort / f"p{i:02d}")
    dask = Path(sys.executable).with_name("dask")
    file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"}
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    worker = None
    try:
        for _ in range(300):
            if file.exists() and file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(file.read_text(encoding="utf-8"))["address"]
        worker = subprocess.Popen(
            [str(dask), "worker", address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip

        def kill_at_first(done: int, total: int) -> None:
            if done == 1:
                scheduler.send_signal(signal.SIGKILL)

        with pytest.raises(BadInputError) as error:
            run_cohort(find_studies(cohort), Options(), scheduler=address, progress=kill_at_first)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.kill()
                process.wait(timeout=30)
    assert error.value.field == "--scheduler"
    assert error.value.reason.startswith("the connection to the Dask scheduler was lost after ")
    assert error.value.reason.endswith(" of 8 studies: no table written")


def test_a_calibration_option_the_study_overrides_is_said(phantom: PhantomTruth) -> None:
    """H-M56: --calibration-cps-per-mbq 5 with a study.json of 10 used 10 without a word
    (the same TIA as without the option)."""
    from dataclasses import replace

    from lutetia.services.image_dosimetry import run_study

    inputs = study_inputs(phantom.folder)
    assert inputs.calibration_cps_per_mbq is None  # the phantom's folder has no study.json
    study = replace(inputs, calibration_cps_per_mbq=CALIBRATION)  # as its study.json gives
    said = " | ".join(run_study(study, Options(calibration_cps_per_mbq=5.0))["warnings"])
    assert "calibration: the study's 10 cps/MBq (study.json) used, not " in said
    assert "--calibration-cps-per-mbq 5" in said
    same = run_study(study, Options(calibration_cps_per_mbq=CALIBRATION))["warnings"]
    assert not any(w.startswith("calibration: the study's") for w in same)
