"""Bad input to ``lutetia dose images`` and ``lutetia pet`` that gave a number (review of
2026-12-02, a sweep of about 300 cases).

Each test stands for a class (docs/hazards.md, H-M33 to H-M39): an output that replaces
another, a scheduler that never answers, emission values no activity gives, a date read as
midnight, a time point or administration no measurement can have, a CT that is not the
SPECT's, a region measured where the image does not reach.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from lutetia.cli import main
from lutetia.errors import BadInputError
from lutetia.imaging.phantom import PhantomTruth
from lutetia.services.image_dosimetry import Options, StudyInputs, run_study
from tests.series_edit import CALIBRATION, edited_copy, still_phantom
from tests.series_edit import study_inputs as _inputs


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    return still_phantom(tmp_path_factory.mktemp("sweep"), 32, 8.0)


def _spect(
    phantom: PhantomTruth, folder: Path, change: Callable[[pydicom.Dataset], None], *which: int
) -> tuple[Path, ...]:
    """The phantom's SPECT series, those of ``which`` (all if none) copied and changed."""
    series = [Path(p) for p in phantom.spect_dirs]
    for index in which or range(len(series)):
        series[index] = edited_copy(series[index], folder / series[index].name, change)
    return tuple(series)


def _item(dataset: pydicom.Dataset) -> Any:
    return dataset.RadiopharmaceuticalInformationSequence[0]


# --- H-M33: an output that replaces another -------------------------------------------------


@pytest.mark.parametrize("name", ["dosimetry.json", "fit_status.nii.gz"])
def test_rtdose_naming_a_file_of_out_is_refused_and_nothing_is_touched(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # It exited 0, left the old dosimetry.json empty and wrote no RT Dose at all.
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("OLD", encoding="utf-8")
    args = ["dose", "images", *[a for p in phantom.spect_dirs for a in ("--spect", str(p))],
            "--masks", str(phantom.labels_path), "--labels", str(phantom.label_names_path),
            "--calibration-cps-per-mbq", str(CALIBRATION), "--voxelwise",
            "--out", str(out), "--rtdose", str(out / name)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--rtdose" in err
    assert "--out also writes" in err
    assert err.count("--rtdose") == 1  # named once, as the field (it once named it twice)
    assert (out / name).read_text(encoding="utf-8") == "OLD"
    assert sorted(p.name for p in out.iterdir()) == [name]


# --- H-M34: a scheduler that is not one -----------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP server that accepts and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()
    for connection in held:
        connection.close()


@pytest.fixture
def http_port() -> Iterator[int]:
    """A TCP server that answers every connection in HTTP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)

    def serve() -> None:
        while True:
            try:
                connection = server.accept()[0]
            except OSError:
                return
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


def test_a_silent_scheduler_address_is_refused_within_the_timeout(silent_port: int) -> None:
    # A Client waited on it without end (killed after 600 s).
    import time

    from lutetia.services.cohort import SCHEDULER_TIMEOUT_S, _probe_scheduler

    started = time.monotonic()
    with pytest.raises(BadInputError, match="no answer within") as error:
        _probe_scheduler(f"tcp://127.0.0.1:{silent_port}")
    assert error.value.field == "--scheduler"
    assert time.monotonic() - started < SCHEDULER_TIMEOUT_S + 5


def test_the_probe_works_inside_a_running_event_loop(http_port: int) -> None:
    # In the full test run another test left an event loop running, and asyncio.run() in the
    # caller's thread failed: every address was "not a Dask scheduler (RuntimeError)".
    import asyncio

    from lutetia.services.cohort import _probe_scheduler

    async def inside() -> None:
        with pytest.raises(BadInputError, match="not a Dask scheduler") as error:
            _probe_scheduler(f"tcp://127.0.0.1:{http_port}")
        assert "RuntimeError" not in error.value.reason

    # The loop runs in a thread of its own: this test's thread may hold one already (the
    # browser tests' Playwright keeps its loop running for the session).
    failures: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(inside())
        except BaseException as failure:  # handed to the test's thread
            failures.append(failure)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    if failures:
        raise failures[0]


def test_a_server_of_another_protocol_is_not_a_scheduler(http_port: int) -> None:
    # Its bytes, read as frame sizes, made a Client allocate 3.5 EB: exit 1, MemoryError.
    from lutetia.services.cohort import _probe_scheduler

    with pytest.raises(BadInputError, match="not a Dask scheduler") as error:
        _probe_scheduler(f"tcp://127.0.0.1:{http_port}")
    assert error.value.field == "--scheduler"


def test_a_cohort_runs_on_an_existing_scheduler(phantom: PhantomTruth, tmp_path: Path) -> None:
    # --scheduler had no test with a real scheduler before. The scheduler runs in a process
    # of its own (as a cluster would), the cohort as the command.
    import os
    import subprocess
    import sys

    study = tmp_path / "cohort" / "patient-a"
    shutil.copytree(phantom.folder, study)
    (study / "study.json").write_text(
        json.dumps({
            "spect": [Path(p).name for p in phantom.spect_dirs], "masks": "labels.nii.gz",
            "labels": "labels.json", "calibration_cps_per_mbq": CALIBRATION,
        })
    )  # fmt: skip
    cluster_code = (
        "import sys\n"
        "from distributed import LocalCluster\n"
        "cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,\n"
        "                       protocol='tcp', dashboard_address=None)\n"
        "print(cluster.scheduler_address, flush=True)\n"
        "sys.stdin.read()\n"
        "cluster.close()\n"
    )
    env = {**os.environ, "NO_COLOR": "1", "DASK_TEMPORARY_DIRECTORY": str(tmp_path)}
    with subprocess.Popen([sys.executable, "-c", cluster_code], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=env) as cluster:  # fmt: skip
        assert cluster.stdout is not None
        assert cluster.stdin is not None
        address = cluster.stdout.readline().strip()
        assert address.startswith("tcp://")
        table = tmp_path / "doses.csv"
        completed = subprocess.run(
            [sys.executable, "-m", "lutetia", "dose", "images", "--cohort",
             str(tmp_path / "cohort"), "--table", str(table), "--scheduler", address, "--json"],
            capture_output=True, text=True, check=False, env=env, timeout=300,
        )  # fmt: skip
        cluster.stdin.close()
        cluster.wait(timeout=60)
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["succeeded"] == 1
    assert f"scheduler {address}" in document["ran_on"]
    assert "kidney_left" in table.read_text(encoding="utf-8")


# --- H-M35: emission values that no activity gives ------------------------------------------


def test_negative_activity_beyond_noise_is_refused(phantom: PhantomTruth, tmp_path: Path) -> None:
    # RescaleIntercept −100000 gave a liver of −1224 MBq at 24 h and a lesion dose of 112 Gy.
    def shift(dataset: pydicom.Dataset) -> None:
        dataset.RescaleIntercept = "-100000"

    series = _spect(phantom, tmp_path, shift, 1)
    with pytest.raises(BadInputError, match="not negative beyond noise") as error:
        run_study(_inputs(phantom, series), Options())
    assert error.value.field.startswith(str(series[1]))
    assert error.value.field.endswith("PixelData")


def test_negative_noise_is_accepted(phantom: PhantomTruth, tmp_path: Path) -> None:
    import numpy as np

    from lutetia.imaging.dicom import NEGATIVE_FRACTION, read_series

    def dip(dataset: pydicom.Dataset) -> None:
        stored = dataset.pixel_array.astype(np.int32)
        peak = float(stored.max()) * float(dataset.RescaleSlope)
        dataset.RescaleIntercept = f"{-0.9 * NEGATIVE_FRACTION * peak:.6g}"

    series = _spect(phantom, tmp_path, dip, 0)
    volume = read_series(series[0], calibration_cps_per_mbq=CALIBRATION)
    assert float(volume.values.min()) < 0


def _emission(values: Any) -> None:
    from lutetia.imaging.dicom import _check_emission_values
    from lutetia.imaging.volume import Grid

    grid = Grid((10, 10, 10), (10.0, 10.0, 10.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    _check_emission_values(values, grid, "nm.dcm", "Bq/mL", "activity_concentration")


@pytest.mark.parametrize(("low", "refused"), [(-4.9, False), (-5.1, True)])
def test_an_emission_image_may_dip_to_five_percent_below_zero(low: float, refused: bool) -> None:
    import numpy as np

    values = np.zeros((10, 10, 10))
    values[0, 0, 0], values[0, 0, 1] = 100.0, low
    if refused:
        with pytest.raises(BadInputError, match="not negative beyond noise") as error:
            _emission(values)
        assert error.value.field == "nm.dcm: PixelData"
    else:
        _emission(values)


@pytest.mark.parametrize(("total_mbq", "refused"), [(49_999.0, False), (50_001.0, True)])
def test_an_emission_image_may_hold_up_to_fifty_gigabecquerel(
    total_mbq: float, refused: bool
) -> None:
    import numpy as np

    values = np.full((10, 10, 10), total_mbq * 1e6 / 1000)  # Bq/mL in 1,000 voxels of 1 mL
    if refused:
        with pytest.raises(BadInputError, match="more than any administration"):
            _emission(values)
    else:
        _emission(values)


def test_an_image_holding_more_than_any_administration_is_refused(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # RescaleSlope 1e30 on one series gave exit 0 with every dose null.
    def huge(dataset: pydicom.Dataset) -> None:
        dataset.RescaleSlope = "1e12"

    series = _spect(phantom, tmp_path, huge, 2)
    with pytest.raises(BadInputError, match="more than any administration") as error:
        run_study(_inputs(phantom, series), Options())
    assert error.value.field.startswith(str(series[2]))


# --- H-M36: a date read as midnight, a zero half-life ---------------------------------------


@pytest.mark.parametrize("value", ["20260302", "2026", "2026xx", "202603020900+01"])
def test_an_administration_time_without_a_time_of_day_is_refused(
    phantom: PhantomTruth, tmp_path: Path, value: str
) -> None:
    # "20260302" was read as midnight: times 13/33/81 h instead of 4/24/72 h, kidney +22 %.
    def date_only(dataset: pydicom.Dataset) -> None:
        _item(dataset).RadiopharmaceuticalStartDateTime = value

    series = _spect(phantom, tmp_path, date_only)
    with pytest.raises(BadInputError, match="to the minute") as error:
        run_study(_inputs(phantom, series), Options())
    assert error.value.field.endswith("RadiopharmaceuticalStartDateTime")
    # a date without its time would be read as the start of the day; text is no date at all
    assert ("start of the day" in error.value.reason) == (value in {"20260302", "2026"})


def test_a_zero_half_life_tag_is_refused_not_ignored(phantom: PhantomTruth, tmp_path: Path) -> None:
    def zero(dataset: pydicom.Dataset) -> None:
        _item(dataset).RadionuclideHalfLife = "0"

    series = _spect(phantom, tmp_path, zero, 0)
    with pytest.raises(BadInputError, match="must be positive") as error:
        run_study(_inputs(phantom, series), Options())
    assert error.value.field.endswith("RadionuclideHalfLife")


# --- H-M37: a time point or an administration no measurement can have -----------------------


def test_an_administration_far_below_what_the_images_hold_is_refused(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # Every series stating 1 MBq: 1763 MBq in the body at 4 h, 10449 Gy/GBq for a kidney.
    def one_mbq(dataset: pydicom.Dataset) -> None:
        _item(dataset).RadionuclideTotalDose = "1"

    series = _spect(phantom, tmp_path, one_mbq)
    with pytest.raises(BadInputError, match="times the") as error:
        run_study(_inputs(phantom, series), Options())
    assert "RadionuclideTotalDose" in error.value.reason


@pytest.mark.parametrize(
    ("factor", "refused", "warned"),
    [(0.00099, False, True), (0.00101, False, False), (1.49, False, False), (1.51, True, False)],
)
def test_the_field_of_view_may_hold_up_to_one_and_a_half_times_what_is_left(
    factor: float, refused: bool, warned: bool
) -> None:
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from lutetia.imaging.dicom import Injection
    from lutetia.imaging.volume import Grid, Volume
    from lutetia.nuclides import decay_factor, nuclide
    from lutetia.services.image_dosimetry import (
        MAX_FOV_TO_ADMINISTERED,
        MIN_FOV_TO_ADMINISTERED,
        _check_against_administration,
    )

    assert MAX_FOV_TO_ADMINISTERED == 1.5
    assert MIN_FOV_TO_ADMINISTERED == 0.001
    given = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    scanned = given + timedelta(hours=24)
    left_bq = 7.4e9 * decay_factor(given, scanned, nuclide("Lu-177").half_life_h)
    grid = Grid((2, 2, 2), (10.0, 10.0, 10.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    per_ml = factor * left_bq / (8 * grid.voxel_volume_ml)
    volume = Volume(grid, np.full(grid.shape, per_ml), "activity_concentration", "Bq/mL",
                    scanned, "test")  # fmt: skip
    injection = Injection(7.4e9, given, "Lu-177", "test", None)
    if refused:
        with pytest.raises(BadInputError, match=r"1\.51 times"):
            _check_against_administration(volume, injection, Path("spect"))
        return
    warning = _check_against_administration(volume, injection, Path("spect"))
    if warned:
        assert warning is not None
        assert "(below 0.1 %)" in warning
        assert "Rescale Slope" in warning
    else:
        assert warning is None


def test_a_field_of_view_holding_a_thousandth_of_what_is_left_is_said(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # A Rescale Slope lost or written 1000 times too small was read without a word.
    def thousandth(dataset: pydicom.Dataset) -> None:
        dataset.RescaleSlope = f"{float(dataset.RescaleSlope) / 1000:.10g}"

    series = _spect(phantom, tmp_path, thousandth, 1)
    document = run_study(_inputs(phantom, series), Options())
    said = [w for w in document["warnings"] if "field of view holds" in w]
    assert len(said) == 1
    assert str(series[1]) in said[0]
    assert "Rescale Slope" in said[0]
    untouched = run_study(_inputs(phantom), Options())
    assert not [w for w in untouched["warnings"] if "field of view holds" in w]


def test_time_points_with_different_utc_offsets_are_said(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # A clock an hour off between time points went through without a word.
    def summer(dataset: pydicom.Dataset) -> None:
        dataset.TimezoneOffsetFromUTC = "+0200"

    series = _spect(phantom, tmp_path, summer, 2)
    document = run_study(_inputs(phantom, series), Options())
    said = [w for w in document["warnings"] if "different UTC offsets" in w]
    assert len(said) == 1
    assert "+01:00, +02:00" in said[0]
    untouched = run_study(_inputs(phantom), Options())
    assert not [w for w in untouched["warnings"] if "different UTC offsets" in w]


def test_a_time_point_years_after_the_administration_is_refused(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    def later(dataset: pydicom.Dataset) -> None:
        dataset.AcquisitionDate = (
            str(int(dataset.AcquisitionDate[:4]) + 10) + dataset.AcquisitionDate[4:]
        )

    series = _spect(phantom, tmp_path, later, 2)
    with pytest.raises(BadInputError, match="later than any measurement") as error:
        run_study(_inputs(phantom, series), Options())
    assert error.value.field == str(series[2])


def test_series_without_a_patient_id_are_said(phantom: PhantomTruth, tmp_path: Path) -> None:
    def anonymous(dataset: pydicom.Dataset) -> None:
        del dataset.PatientID

    series = _spect(phantom, tmp_path, anonymous, 1)
    warnings = run_study(_inputs(phantom, series), Options())["warnings"]
    assert any("no Patient ID" in w and str(series[1]) in w for w in warnings)


# --- H-M38: a CT that is not the SPECT's ----------------------------------------------------


def _ct(phantom: PhantomTruth, folder: Path, change: Callable[[pydicom.Dataset], None]) -> Path:
    return edited_copy(Path(phantom.ct_dir), folder / "ct", change)


@pytest.mark.parametrize(
    ("tag", "value", "field"),
    [("RescaleIntercept", None, "RescaleIntercept"), ("RescaleSlope", "-1", "RescaleSlope")],
)
def test_a_ct_without_a_usable_rescale_is_refused(
    phantom: PhantomTruth, tmp_path: Path, tag: str, value: str | None, field: str
) -> None:
    # No intercept was taken as 0 (HU +1024: masses ×1.58); slope −1 ended in "bed_gy".
    def change(dataset: pydicom.Dataset) -> None:
        if value is None:
            delattr(dataset, tag)
        else:
            setattr(dataset, tag, value)

    ct = _ct(phantom, tmp_path, change)
    with pytest.raises(BadInputError) as error:
        run_study(_inputs(phantom, ct=ct), Options())
    assert error.value.field.endswith(field)


def test_a_ct_of_another_patient_is_refused(phantom: PhantomTruth, tmp_path: Path) -> None:
    def other(dataset: pydicom.Dataset) -> None:
        dataset.PatientID = "OTHER"

    ct = _ct(phantom, tmp_path, other)
    with pytest.raises(BadInputError, match="is of patient 'OTHER'") as error:
        run_study(_inputs(phantom, ct=ct), Options())
    assert error.value.field == "--ct"


def test_a_ct_in_another_frame_of_reference_is_named_by_its_folder(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # It was refused as "ct.frame_of_reference_uid", a name of the program, not of an input.
    def elsewhere(dataset: pydicom.Dataset) -> None:
        dataset.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"

    ct = _ct(phantom, tmp_path, elsewhere)
    with pytest.raises(BadInputError, match="differs from the masks'") as error:
        run_study(_inputs(phantom, ct=ct), Options())
    assert error.value.field == f"--ct {ct}: FrameOfReferenceUID"


def test_a_ct_that_covers_no_region_is_refused(phantom: PhantomTruth, tmp_path: Path) -> None:
    # A CT 5 m away gave water densities for every region, said only in each mass_method.
    def away(dataset: pydicom.Dataset) -> None:
        x, y, z = (float(v) for v in dataset.ImagePositionPatient)
        dataset.ImagePositionPatient = [x, y, z + 5000.0]

    ct = _ct(phantom, tmp_path, away)
    with pytest.raises(BadInputError, match="covers none of the regions") as error:
        run_study(_inputs(phantom, ct=ct), Options())
    assert error.value.field == "--ct"


def test_a_ct_showing_air_where_the_regions_are_is_refused(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    import numpy as np

    def air(dataset: pydicom.Dataset) -> None:
        dataset.PixelData = np.zeros_like(dataset.pixel_array).tobytes()  # −1024 HU

    ct = _ct(phantom, tmp_path, air)
    with pytest.raises(BadInputError, match=r"\(air\)") as error:
        run_study(_inputs(phantom, ct=ct), Options())
    assert error.value.field == "--ct"


@pytest.mark.parametrize(("density", "refused"), [(0.049, True), (0.051, False), (0.1, False)])
def test_a_region_is_air_below_a_twentieth_of_a_gram_per_millilitre(
    phantom: PhantomTruth, density: float, refused: bool
) -> None:
    # Lung (about 0.26 g/mL; emphysema to −900 HU, 0.1 g/mL) is tissue; below 0.05 g/mL
    # (−950 HU) the CT shows air where the region is.
    from types import SimpleNamespace

    from lutetia.services.image_dosimetry import MIN_CT_DENSITY_G_PER_ML, _check_ct

    assert MIN_CT_DENSITY_G_PER_ML == 0.05
    masses = {
        "lung_left": SimpleNamespace(
            method="CT (HU → density)", density_g_per_ml=density, ct_coverage=1.0
        )
    }
    inputs = _inputs(phantom, ct=Path(phantom.ct_dir))
    warnings: list[str] = []
    if refused:
        with pytest.raises(BadInputError, match=r"region lung_left: .* 0\.049 g/mL \(air\)"):
            _check_ct(inputs, masses, warnings)
    else:
        _check_ct(inputs, masses, warnings)
        assert not warnings


def test_a_region_the_ct_does_not_reach_is_warned(phantom: PhantomTruth, tmp_path: Path) -> None:
    ct = tmp_path / "ct"
    shutil.copytree(Path(phantom.ct_dir), ct)
    files = sorted(ct.glob("*.dcm"))
    for file in files[len(files) // 2 :]:
        file.unlink()  # half the body
    warnings = run_study(_inputs(phantom, ct=ct), Options())["warnings"]
    assert any("mass from default density" in w or "covers only" in w for w in warnings)


# --- H-M39: a region measured where a later image does not reach ----------------------------


def test_a_region_outside_a_later_field_of_view_is_not_measured_there(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # Half the PixelSpacing halves the field of view: the 0 MBq measured outside it entered
    # the fit (lesion 95.8 Gy instead of 123.8 Gy) with only an "underestimated" warning.
    def half(dataset: pydicom.Dataset) -> None:
        dataset.PixelSpacing = [v / 2 for v in dataset.PixelSpacing]

    series = _spect(phantom, tmp_path, half, 1)
    document = run_study(_inputs(phantom, series), Options())
    left_out = [w for w in document["warnings"] if "left out of its curve" in w]
    assert left_out
    name = left_out[0].split(":")[0]
    points = document["regions"][name]["timepoints"]
    assert points[1]["activity_mbq"] is None
    assert all(p["activity_mbq"] is not None for i, p in enumerate(points) if i != 1)


@pytest.mark.parametrize(("planes", "measured"), [(91, True), (89, False)])
def test_a_region_is_measured_up_to_a_tenth_outside_the_field_of_view(
    planes: int, measured: bool
) -> None:
    # A region of 100 voxels in a line across the slices; the later time point has fewer
    # slices: 9 % of the region outside is measured (and said), 11 % is not measured.
    from datetime import UTC, datetime

    import numpy as np

    from lutetia.imaging.registration import Registration
    from lutetia.imaging.volume import Grid, Volume
    from lutetia.services.image_dosimetry import MAX_MEASURED_LOST_FRACTION, _region_activities

    assert MAX_MEASURED_LOST_FRACTION == 0.10
    axes = (1, 0, 0, 0, 1, 0, 0, 0, 1)
    first = Grid((100, 1, 1), (10.0, 10.0, 10.0), (0.0, 0.0, 0.0), axes)
    later = Grid((planes, 1, 1), (10.0, 10.0, 10.0), (0.0, 0.0, 0.0), axes)
    at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    volumes = [
        Volume(grid, np.full(grid.shape, 1e4), "activity_concentration", "Bq/mL", at, "test")
        for grid in (first, later)
    ]
    still = Registration((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), "none", 0.0, 1.0,
                         1.0, 0, "none", ())  # fmt: skip
    warnings: list[str] = []
    mask = np.ones(first.shape, dtype=bool)
    activities = _region_activities("kidney_left", mask, volumes, [still, still], warnings)
    assert activities[0] == pytest.approx(100 * 1e4 * 1.0 / 1e6)
    if measured:
        assert activities[1] == pytest.approx(planes * 1e4 * 1.0 / 1e6)
        assert "underestimated" in warnings[0]
    else:
        assert activities[1] is None
        assert "left out of its curve" in warnings[0]


def test_an_organ_dosimetry_error_names_the_regions_quantity_not_an_option() -> None:
    from lutetia.services.image_dosimetry import _as_region_error

    renamed = _as_region_error(BadInputError("--mass-g", "must be positive"))
    assert (renamed.field, renamed.reason) == ("mass_g", "must be positive")
    kept = BadInputError("activity_mbq[1]", "must be non-negative")
    assert _as_region_error(kept) is kept


# --- H-M35 (PET): SUVs no PET gives ---------------------------------------------------------


def _pet_args(phantom: PhantomTruth, pet: Path) -> list[str]:
    return ["pet", "--pet", str(pet), "--masks", str(phantom.labels_path),
            "--labels", str(phantom.label_names_path), "--json"]  # fmt: skip


def test_bq_per_ml_labelled_suv_is_refused(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Units GML on Bq/mL values gave a liver SUV of 5072.
    def gml(dataset: pydicom.Dataset) -> None:
        dataset.Units = "GML"

    pet = edited_copy(Path(phantom.pet_dir), tmp_path / "pet", gml)
    assert main(_pet_args(phantom, pet)) == 2
    assert "Units" in capsys.readouterr().err


def test_an_administration_days_before_a_pet_is_refused(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 6 days before a 68Ga PET: decay factor 0, liver SUV 1.29e39.
    from datetime import datetime, timedelta

    def early(dataset: pydicom.Dataset) -> None:
        item = _item(dataset)
        text = str(item.RadiopharmaceuticalStartDateTime)
        at = datetime.strptime(text, "%Y%m%d%H%M%S%z") - timedelta(days=6)
        item.RadiopharmaceuticalStartDateTime = at.strftime("%Y%m%d%H%M%S%z")

    pet = edited_copy(Path(phantom.pet_dir), tmp_path / "pet", early)
    assert main(_pet_args(phantom, pet)) == 2
    err = capsys.readouterr().err
    assert "half-lives" in err
    # named by the file and its tag, not by the program's "injection.at"
    tag = "RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime"
    assert f"{pet}: {tag}" in err
    assert "injection.at" not in err


@pytest.mark.parametrize(
    ("change", "tag"),
    [
        (lambda item: setattr(item.RadionuclideCodeSequence[0], "CodeMeaning", "?"),
         "RadionuclideCodeSequence"),
        (lambda item: setattr(item, "RadionuclideHalfLife", "9000"), "RadionuclideHalfLife"),
    ],
)  # fmt: skip
def test_a_pet_nuclide_error_names_the_file(
    phantom: PhantomTruth,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Any], None],
    tag: str,
) -> None:
    # The half-life and the nuclide code were named without the file they came from.
    def changed(dataset: pydicom.Dataset) -> None:
        item = _item(dataset)
        if tag == "RadionuclideCodeSequence":
            item.RadionuclideCodeSequence[0].CodeValue = "X-0"
        change(item)

    pet = edited_copy(Path(phantom.pet_dir), tmp_path / "pet", changed)
    assert main(_pet_args(phantom, pet)) == 2
    assert f"{pet}: RadiopharmaceuticalInformationSequence[0].{tag}" in capsys.readouterr().err


# --- H-M39 (PET): a region measured where the PET does not reach ----------------------------


def test_a_pet_region_mostly_outside_the_field_of_view_is_not_measured(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A liver 99 % outside the PET gave liver_suvmean 0.0 as a measured value.
    pet = tmp_path / "pet"
    shutil.copytree(Path(phantom.pet_dir), pet)
    files = sorted(
        pet.glob("*.dcm"), key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2])
    )
    for file in files[: len(files) * 3 // 4]:
        file.unlink()  # the lower three quarters of the body
    assert main(_pet_args(phantom, pet)) == 0
    document = json.loads(capsys.readouterr().out)
    block, missing = document["psma_pet"], document["missing"]
    # the liver lies in the lower body: not measured, and listed missing with its share
    assert "liver_suvmean" not in block
    assert any(
        m.startswith("liver_suvmean") and "outside the PET's field of view" in m for m in missing
    )
    assert not any("no region named 'liver'" in m for m in missing)


def test_the_outside_fraction_decides_what_is_measured() -> None:
    import numpy as np

    from lutetia.imaging.pet import MAX_OUTSIDE_FRACTION, measure_psma_pet
    from lutetia.imaging.volume import Grid, Volume

    grid = Grid((2, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    from datetime import UTC, datetime

    suv = Volume(
        grid, np.full(grid.shape, 5.0), "suv_bw", "g/mL", datetime(2026, 1, 1, tzinfo=UTC), "t"
    )
    labels = np.ones(grid.shape, dtype=np.int32)
    kept = measure_psma_pet(suv, (grid, labels), {1: "liver"},
                            outside_fraction={"liver": MAX_OUTSIDE_FRACTION})  # fmt: skip
    assert kept.block["liver_suvmean"] == 5.0
    cut = measure_psma_pet(suv, (grid, labels), {1: "liver"},
                           outside_fraction={"liver": MAX_OUTSIDE_FRACTION + 0.01})  # fmt: skip
    assert "liver_suvmean" not in cut.block
    assert any("11 % of region 'liver'" in m for m in cut.missing)


@pytest.mark.parametrize("tracer", ["   ", "\t"])
def test_a_blank_tracer_is_refused(
    phantom: PhantomTruth, capsys: pytest.CaptureFixture[str], tracer: str
) -> None:
    assert main([*_pet_args(phantom, Path(phantom.pet_dir)), f"--tracer={tracer}"]) == 2
    assert "--tracer" in capsys.readouterr().err


def test_a_tracer_other_than_the_files_is_said(
    phantom: PhantomTruth, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_pet_args(phantom, Path(phantom.pet_dir)), "--tracer=18F-FDG"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("--tracer '18F-FDG' differs" in n for n in notes)


def test_a_folder_of_two_series_is_named(phantom: PhantomTruth, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(Path(phantom.ct_dir), mixed / "ct")
    shutil.copytree(Path(phantom.pet_dir), mixed / "pet")
    from lutetia.imaging.dicom import read_series

    with pytest.raises(BadInputError, match="2 series found") as error:
        read_series(mixed)
    assert error.value.field == str(mixed)


def test_a_masks_file_of_no_known_kind_is_named_before_the_labels(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # It blamed --labels ("only a NIfTI label map takes a labels file").
    from lutetia.imaging.masks import read_masks

    masks = tmp_path / "m.mha"
    masks.write_bytes(b"ObjectType = Image\n")
    with pytest.raises(BadInputError, match="neither NIfTI nor DICOM") as error:
        read_masks(masks, labels_file=phantom.label_names_path, reference=phantom.grid)
    assert error.value.field == "masks"


def test_an_invalid_case_is_named_by_its_path(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = tmp_path / "c.json"
    case.write_text("{}", encoding="utf-8")
    args = [*_pet_args(phantom, Path(phantom.pet_dir)), "--case", str(case),
            "--out", str(tmp_path / "o.json")]  # fmt: skip
    assert main(args) == 2
    assert f"--case {case}" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


# --- H-M40: a series-wide value that is not a number ---------------------------------------


@pytest.mark.parametrize("weight", ["nan", "inf"])
def test_a_weight_that_is_not_a_number_is_named_as_such(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str], weight: str
) -> None:
    # Every file stating NaN was refused as "nan differs from nan", a difference there is not.
    def not_a_number(dataset: pydicom.Dataset) -> None:
        dataset.PatientWeight = weight

    pet = edited_copy(Path(phantom.pet_dir), tmp_path / "pet", not_a_number)
    assert main(_pet_args(phantom, pet)) == 2
    err = capsys.readouterr().err
    assert "PatientWeight" in err
    assert "differs" not in err
    assert "must be positive" in err


@pytest.mark.parametrize("where", ["rotation", "top"])
def test_a_zero_frame_duration_is_refused_as_not_positive(
    phantom: PhantomTruth, tmp_path: Path, where: str
) -> None:
    # A frame duration of 0 was reported as "missing": it is there, and wrong.
    def zero(dataset: pydicom.Dataset) -> None:
        if where == "top":
            dataset.ActualFrameDuration = 0
        else:
            dataset.RotationInformationSequence[0].ActualFrameDuration = 0

    series = _spect(phantom, tmp_path, zero, 1)
    with pytest.raises(BadInputError, match="must be positive") as error:
        run_study(_inputs(phantom, series), Options())
    assert error.value.field.endswith("ActualFrameDuration")
    assert str(series[1]) in error.value.field


def test_an_empty_label_map_is_named_empty_not_outside(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # A label map of zeros was said to lie outside the field of view.
    import numpy as np
    import SimpleITK

    itk: Any = SimpleITK  # without its partial type hints (mypy --strict)
    source = itk.ReadImage(str(phantom.labels_path))
    zeros = itk.GetImageFromArray(np.zeros_like(itk.GetArrayFromImage(source), dtype=np.int16))
    zeros.CopyInformation(source)
    empty = tmp_path / "empty.nii.gz"
    itk.WriteImage(zeros, str(empty))
    inputs = _inputs(phantom)
    inputs = StudyInputs(
        spect=inputs.spect, masks=empty, ct=None, labels=inputs.labels,
        calibration_cps_per_mbq=CALIBRATION,
    )  # fmt: skip
    with pytest.raises(BadInputError, match="holds no region") as error:
        run_study(inputs, Options())
    assert "field of view" not in error.value.reason


def test_a_bad_utc_offset_is_named_where_it_is(phantom: PhantomTruth, tmp_path: Path) -> None:
    # TimezoneOffsetFromUTC, a tag of the file, was named as if in the radiopharmaceutical
    # sequence when the administration time was read first.
    def wrong(dataset: pydicom.Dataset) -> None:
        dataset.TimezoneOffsetFromUTC = "+2500"
        item = _item(dataset)
        item.RadiopharmaceuticalStartDateTime = str(item.RadiopharmaceuticalStartDateTime)[:14]

    series = _spect(phantom, tmp_path, wrong, 0)
    with pytest.raises(BadInputError, match="UTC offset") as error:
        run_study(_inputs(phantom, series), Options())
    assert error.value.field.endswith(": TimezoneOffsetFromUTC")
    assert "RadiopharmaceuticalInformationSequence" not in error.value.field


@pytest.mark.parametrize("value", ["08", "8"])
def test_an_administration_time_of_an_hour_alone_is_refused(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    # A TM of "08" was read as 08:00 without a word (up to 59 min off: a 68Ga SUV 45 % off).
    def hour(dataset: pydicom.Dataset) -> None:
        item = _item(dataset)
        del item.RadiopharmaceuticalStartDateTime
        item.RadiopharmaceuticalStartTime = value

    pet = edited_copy(Path(phantom.pet_dir), tmp_path / "pet", hour)
    assert main(_pet_args(phantom, pet)) == 2
    err = capsys.readouterr().err
    assert "RadiopharmaceuticalStartTime" in err
    assert "to the minute" in err


@pytest.mark.parametrize(("value", "accepted"), [("0930", True), ("093000.5", True), ("09", False)])
def test_an_acquisition_time_needs_its_minute(
    phantom: PhantomTruth, tmp_path: Path, value: str, accepted: bool
) -> None:
    from lutetia.imaging.dicom import read_series

    def clock(dataset: pydicom.Dataset) -> None:
        for keyword in ("AcquisitionDateTime", "AcquisitionTime", "SeriesTime", "ContentTime"):
            if keyword in dataset and keyword != "AcquisitionDateTime":
                setattr(dataset, keyword, value)
        if "AcquisitionDateTime" in dataset:
            del dataset.AcquisitionDateTime

    series = _spect(phantom, tmp_path, clock, 1)
    if accepted:
        volume = read_series(series[1], calibration_cps_per_mbq=CALIBRATION)
        assert volume.acquired_at is not None
        assert (volume.acquired_at.hour, volume.acquired_at.minute) == (9, 30)
    else:
        with pytest.raises(BadInputError, match="to the minute") as error:
            read_series(series[1], calibration_cps_per_mbq=CALIBRATION)
        assert error.value.field.endswith("Time")


def test_spect_stating_the_administration_in_becquerel_gives_the_same_doses(
    phantom: PhantomTruth, tmp_path: Path
) -> None:
    # NM files that state Radionuclide Total Dose in Bq (the standard says MBq) were refused.
    def becquerel(dataset: pydicom.Dataset) -> None:
        item = _item(dataset)
        item.RadionuclideTotalDose = f"{float(item.RadionuclideTotalDose) * 1e6:.10g}"

    series = _spect(phantom, tmp_path, becquerel)
    document = run_study(_inputs(phantom, series), Options())
    said = [w for w in document["warnings"] if "read in Bq, not in MBq" in w]
    assert len(said) == len(series)
    reference = run_study(_inputs(phantom), Options())
    assert document["injection"]["activity_mbq"] == reference["injection"]["activity_mbq"]
    for name, region in reference["regions"].items():
        assert document["regions"][name]["absorbed_dose_gy"] == region["absorbed_dose_gy"]


@pytest.mark.parametrize(
    ("inside", "outside", "refused", "warned"),
    [(999.0, 1.0, False, False), (1001.0, 1.0, True, False), (5.0, 1001.0, False, True),
     (5.0, 999.0, False, False)],
)  # fmt: skip
def test_an_suv_above_a_thousand_is_refused_in_the_regions_and_said_outside(
    inside: float, outside: float, refused: bool, warned: bool
) -> None:
    # One hot voxel outside every region (a contamination) refused the whole PET.
    from datetime import UTC, datetime

    import numpy as np

    from lutetia.imaging.pet import MAX_SUV_G_PER_ML, check_suv_plausible
    from lutetia.imaging.volume import Grid, Volume

    assert MAX_SUV_G_PER_ML == 1000.0
    grid = Grid((4, 4, 4), (4.0, 4.0, 4.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    values = np.ones(grid.shape)
    regions = np.zeros(grid.shape, dtype=bool)
    regions[1:3, 1:3, 1:3] = True
    values[2, 2, 2] = inside
    values[0, 0, 0] = outside
    suv = Volume(grid, values, "suv_bw", "g/mL", datetime(2026, 3, 2, 10, tzinfo=UTC), "test")
    for scanner_suv in (False, True):
        if refused:
            with pytest.raises(BadInputError, match="in the regions") as error:
                check_suv_plausible(suv, "--pet", regions, scanner_suv=scanner_suv)
            # a mislabelled unit is named only where the scanner's SUVs are read
            assert ("Units GML" in error.value.reason) == scanner_suv
        else:
            said = check_suv_plausible(suv, "--pet", regions, scanner_suv=scanner_suv)
            assert (said is not None) == warned
            if said is not None:
                assert "outside the regions" in said


def test_a_hot_spot_outside_the_regions_leaves_the_pet_measured(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    first = True

    def hot(dataset: pydicom.Dataset) -> None:
        nonlocal first
        if first:  # the first slice's corner: 2000 times the slice's maximum
            pixels = dataset.pixel_array.copy()
            pixels[0, 0] = np.iinfo(pixels.dtype).max
            dataset.PixelData = pixels.tobytes()
            dataset.RescaleSlope = f"{float(dataset.RescaleSlope) * 2000:.10g}"
            first = False

    pet = edited_copy(Path(phantom.pet_dir), tmp_path / "pet", hot)
    assert main(_pet_args(phantom, pet)) == 0
    document = json.loads(capsys.readouterr().out)
    notes = [n for n in document["notes"] if "outside the regions" in n]
    assert len(notes) == 1
    assert document["psma_pet"]["liver_suvmean"] is not None


@pytest.mark.parametrize(("half_lives", "refused"), [(9.9, False), (10.1, True)])
def test_a_pet_is_at_most_ten_half_lives_after_its_administration(
    half_lives: float, refused: bool
) -> None:
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from lutetia.imaging.dicom import Injection
    from lutetia.imaging.pet import MAX_UPTAKE_HALF_LIVES, suv_bw
    from lutetia.imaging.volume import Grid, Volume
    from lutetia.nuclides import nuclide

    assert MAX_UPTAKE_HALF_LIVES == 10.0
    given = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    scanned = given + timedelta(hours=half_lives * nuclide("Ga-68").half_life_h)
    grid = Grid((2, 2, 2), (4.0, 4.0, 4.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    volume = Volume(grid, np.full(grid.shape, 10.0), "activity_concentration", "Bq/mL",
                    scanned, "test")  # fmt: skip
    injection = Injection(150e6, given, "Ga-68", "test", None)
    if refused:
        with pytest.raises(BadInputError, match="more than 10 half-lives") as error:
            suv_bw(volume, 80.0, injection)
        assert error.value.field == "injection.at"
    else:
        suv = suv_bw(volume, 80.0, injection)
        # SUV = C·W/(A·2^(−n)) (Kinahan & Fletcher 2010 eq. 1)
        assert float(suv.values.max()) == pytest.approx(10.0 * 80e3 / (150e6 * 2**-half_lives))
