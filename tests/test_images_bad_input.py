"""Bad input to ``lutetia dose images`` and ``lutetia pet``: exit 2, one line, no file left.

Each test is one class of defect found by a sweep of corrupted phantom studies
(:mod:`lutetia.imaging.phantom` on a coarse 20³ grid): DICOM values that are
not numbers or not finite, series that do not belong together, calibrations
and time zones out of range, malformed label files, label maps and
RTSTRUCTs, outputs written into the input series, and a cohort asking for an
absurd number of worker processes. Before the fixes these exited 1 (internal
error), printed several lines, or — the worst — computed a wrong number.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lutetia.cli import main
from lutetia.imaging.phantom import PhantomTruth, make_phantom
from tests.conftest import EXAMPLES
from tests.series_edit import edited_copy

CASE = EXAMPLES / "01-vision-eligible.json"
Edit = Callable[[Any], None]


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    return make_phantom(
        tmp_path_factory.mktemp("bad-input"),
        shape=(20, 20, 20),
        spacing_mm=(14.0, 14.0, 14.0),
        timepoints_h=(4, 24, 72),
        shift_mm=(0.0, 0.0, 0.0),
    )


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> str:
    """Run the command; it must exit 2 with exactly one line naming ``needle``."""
    code, out, err = _cli(argv, capsys)
    assert code == 2, (argv, err)
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert needle in err, (needle, err)
    return err


def _images(
    phantom: PhantomTruth,
    *,
    spect: list[Path] | None = None,
    masks: Path | None = None,
    labels: Path | None = None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    argv = ["dose", "images"]
    for path in spect or phantom.spect_dirs:
        argv += ["--spect", str(path)]
    argv += ["--masks", str(masks or phantom.labels_path)]
    argv += ["--labels", str(labels or phantom.label_names_path)]
    return [*argv, "--calibration-cps-per-mbq", "10", *extra]


def _pet(
    phantom: PhantomTruth, *, pet: Path | None = None, extra: tuple[str, ...] = ()
) -> list[str]:
    return [
        "pet",
        "--pet", str(pet or phantom.pet_dir),
        "--masks", str(phantom.labels_path),
        "--labels", str(phantom.label_names_path),
        *extra,
    ]  # fmt: skip


def _raw(dataset: Any, keyword: str, value: str) -> None:
    """Store ``value`` as text in a numeric tag (as a broken writer would)."""
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataelem import DataElement

    tag = tag_for_keyword(keyword)
    assert tag is not None
    dataset[tag] = DataElement(tag, "LO", value)


def _set(keyword: str, value: Any) -> Edit:
    def edit(dataset: Any) -> None:
        setattr(dataset, keyword, value)

    return edit


def _delete(keyword: str) -> Edit:
    def edit(dataset: Any) -> None:
        delattr(dataset, keyword)

    return edit


def _text(keyword: str, value: str, *, item: str | None = None) -> Edit:
    def edit(dataset: Any) -> None:
        _raw(dataset if item is None else dataset[item][0], keyword, value)

    return edit


# --------------------------------------------------------------- DICOM values


SPECT_EDITS = [
    pytest.param(_text("RescaleSlope", "abc"), "RescaleSlope", id="slope-text"),
    pytest.param(_text("RescaleSlope", "NaN"), "RescaleSlope", id="slope-nan"),
    pytest.param(_set("RescaleSlope", "0"), "RescaleSlope", id="slope-zero"),
    pytest.param(_set("RescaleSlope", "-1"), "RescaleSlope", id="slope-negative"),
    pytest.param(_text("RescaleIntercept", "x"), "RescaleIntercept", id="intercept-text"),
    pytest.param(
        _text("RadionuclideTotalDose", "abc", item="RadiopharmaceuticalInformationSequence"),
        "RadionuclideTotalDose",
        id="total-dose-text",
    ),
    pytest.param(
        _text("RadionuclideHalfLife", "abc", item="RadiopharmaceuticalInformationSequence"),
        "RadionuclideHalfLife",
        id="half-life-text",
    ),
    pytest.param(
        _text("RadionuclideHalfLife", "NaN", item="RadiopharmaceuticalInformationSequence"),
        "RadionuclideHalfLife",
        id="half-life-nan",  # was accepted: NaN passes every comparison with ICRP-107
    ),
    pytest.param(
        _text("ActualFrameDuration", "abc", item="RotationInformationSequence"),
        "ActualFrameDuration",
        id="frame-duration-text",
    ),
    pytest.param(
        _text("NumberOfFramesInRotation", "x", item="RotationInformationSequence"),
        "NumberOfFramesInRotation",
        id="views-text",
    ),
    pytest.param(_text("SpacingBetweenSlices", "abc"), "SpacingBetweenSlices", id="gap-text"),
    pytest.param(_set("TimezoneOffsetFromUTC", "+2500"), "TimezoneOffsetFromUTC", id="offset-25h"),
    pytest.param(
        _set("TimezoneOffsetFromUTC", "+0199"), "TimezoneOffsetFromUTC", id="offset-99min"
    ),
    pytest.param(_set("DecayCorrection", "FOO"), "DecayCorrection", id="decay-correction"),
    pytest.param(_set("NumberOfFrames", 7), "PixelData", id="frames-fewer-than-data"),
]


@pytest.mark.parametrize(("edit", "needle"), SPECT_EDITS)
def test_spect_tags_that_are_not_valid_numbers_exit_2(
    phantom: PhantomTruth,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Edit,
    needle: str,
) -> None:
    first = edited_copy(phantom.spect_dirs[0], tmp_path / "spect_4h", edit)
    _refused(_images(phantom, spect=[first, *phantom.spect_dirs[1:]]), capsys, needle)


PET_EDITS = [
    pytest.param(_text("PatientWeight", "abc"), (), "PatientWeight", id="weight-text"),
    pytest.param(_text("PatientWeight", "1e9"), (), "PatientWeight", id="weight-in-file-1e9"),
    pytest.param(_delete("PatientWeight"), ("--weight-kg", "1e9"), "--weight-kg", id="w-1e9"),
    pytest.param(_delete("PatientWeight"), ("--weight-kg", "0"), "--weight-kg", id="w-0"),
    pytest.param(_set("Units", "CNTS"), (), "--pet", id="counts-not-bqml"),
    pytest.param(_text("RescaleSlope", "inf"), (), "RescaleSlope", id="slope-inf"),
]


@pytest.mark.parametrize(("edit", "extra", "needle"), PET_EDITS)
def test_pet_weights_and_values_name_their_source(
    phantom: PhantomTruth,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    edit: Edit,
    extra: tuple[str, ...],
    needle: str,
) -> None:
    pet = edited_copy(phantom.pet_dir, tmp_path / "pet", edit)
    _refused(_pet(phantom, pet=pet, extra=extra), capsys, needle)


# --------------------------------------------------------------- series that do not belong together


def _copy_with(phantom: PhantomTruth, folder: Path, index: int, edit: Edit) -> list[Path]:
    spect = list(phantom.spect_dirs)
    spect[index] = edited_copy(spect[index], folder / spect[index].name, edit)
    return spect


def _moved(dataset: Any) -> None:
    dataset.DetectorInformationSequence[0].ImagePositionPatient = ["5000", "5000", "5000"]


SERIES = [
    pytest.param(lambda p, d: [p.spect_dirs[0], p.spect_dirs[0], p.spect_dirs[1]], "twice",
                 id="same-folder-twice"),
    pytest.param(lambda p, d: [*p.spect_dirs, shutil.copytree(p.spect_dirs[1], d / "copy")],
                 "same time", id="same-time-point-copied"),
    pytest.param(lambda p, d: _copy_with(p, d, 1, _set("PatientID", "SOMEONE-ELSE")),
                 "different patients", id="other-patient"),
    pytest.param(lambda p, d: _copy_with(p, d, 1, _moved), "field of view",
                 id="no-overlap-with-first"),
]  # fmt: skip


@pytest.mark.parametrize(("spect", "needle"), SERIES)
def test_series_that_do_not_make_one_study_exit_2(
    phantom: PhantomTruth,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spect: Callable[[PhantomTruth, Path], list[Path]],
    needle: str,
) -> None:
    err = _refused(_images(phantom, spect=spect(phantom, tmp_path)), capsys, needle)
    assert "--spect" in err


# --------------------------------------------------------------- calibration and time zone


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--calibration-cps-per-mbq", "1e-300"),  # was: overflow to inf, exit 0
        ("--calibration-cps-per-mbq", "1e300"),  # was: doses of 1e-297 Gy, exit 0
        ("--timezone", "+14:30"),  # no such UTC offset
        ("--timezone", "-15:00"),
    ],
)
def test_calibration_and_timezone_out_of_range_exit_2(
    phantom: PhantomTruth, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    _refused(_images(phantom, extra=(f"{option}={value}",)), capsys, option)


# --------------------------------------------------------------- label files


LABEL_FILES = [
    pytest.param("l.json", '{"2": "liver", "2": "spleen"}', "named twice", id="json-key-twice"),
    pytest.param("l.json", '{"2": "liver", "3": "Liver"}', "same name", id="json-name-twice"),
    pytest.param("l.csv", "2,liver\n3,liver\n", "same name", id="csv-name-twice"),
    pytest.param("l.json", '{"2": null}', "not a string", id="json-null-name"),
    pytest.param("l.json", '{"2": 5}', "not a string", id="json-number-name"),
    pytest.param("l.json", '{"2": " "}', "no name", id="json-blank-name"),
    pytest.param("l.json", '{"0": "liver"}', "background", id="json-label-0"),
    pytest.param("l.json", '{"-2": "liver"}', "background", id="json-label-negative"),
    pytest.param("l.json", b"\xff\xfe\x00garbage", "UTF-8", id="binary"),
]


@pytest.mark.parametrize(("name", "content", "needle"), LABEL_FILES)
def test_malformed_label_files_exit_2(
    phantom: PhantomTruth,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    name: str,
    content: str | bytes,
    needle: str,
) -> None:
    labels = tmp_path / name
    if isinstance(content, bytes):
        labels.write_bytes(content)
    else:
        labels.write_text(content, encoding="utf-8")
    _refused(_images(phantom, labels=labels), capsys, needle)
    argv = [*_pet(phantom)[:-2], "--labels", str(labels)]
    _refused(argv, capsys, needle)


# --------------------------------------------------------------- corrupt label maps and RTSTRUCTs


@pytest.mark.parametrize("cut", ["gz-head", "gz-tail", "nii"])
def test_truncated_label_map_exits_2(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: str
) -> None:
    data = phantom.labels_path.read_bytes()
    if cut == "nii":
        masks = tmp_path / "labels.nii"
        masks.write_bytes(gzip.decompress(data)[:2000])
    else:
        masks = tmp_path / "labels.nii.gz"
        masks.write_bytes(data[:300] if cut == "gz-head" else data[:-10])
    _refused(_images(phantom, masks=masks), capsys, "masks")


def _rtstruct(folder: Path, kind: str, phantom: PhantomTruth) -> Path:
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    dataset = pydicom.dcmread(next(iter(sorted(phantom.ct_dir.iterdir()))))
    dataset.Modality = "RTSTRUCT"
    roi = Dataset()
    roi.ROIName = "liver"
    if kind == "roi-number-text":
        _raw(roi, "ROINumber", "abc")
    else:
        roi.ROINumber = 1
    dataset.StructureSetROISequence = Sequence([roi])
    contour = Dataset()
    contour.ContourGeometricType = "CLOSED_PLANAR"
    if kind == "contour-text":
        _raw(contour, "ContourData", "a\\b\\c")
    elif kind != "no-contour-data":
        contour.ContourData = ["0", "0", "0", "10", "0", "0", "0", "10", "0"]
    item = Dataset()
    if kind != "no-referenced-roi":
        item.ReferencedROINumber = 1
    item.ContourSequence = Sequence([contour])
    dataset.ROIContourSequence = Sequence([item])
    path = folder / f"rtstruct-{kind}.dcm"
    dataset.save_as(path)
    return path


@pytest.mark.parametrize(
    "kind", ["roi-number-text", "no-referenced-roi", "no-contour-data", "contour-text"]
)
def test_malformed_rtstruct_exits_2(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    masks = _rtstruct(tmp_path, kind, phantom)
    argv = _images(phantom, masks=masks)
    argv.remove("--labels")
    argv.remove(str(phantom.label_names_path))
    _refused(argv, capsys, "ROINumber" if "roi" in kind else "structure 'liver'")


# --------------------------------------------------------------- outputs inside the inputs


def test_outputs_are_never_written_into_an_input_series(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spect = [shutil.copytree(p, tmp_path / p.name) for p in phantom.spect_dirs]
    before = {p: p.read_bytes() for folder in spect for p in folder.iterdir()}
    voxelwise = ("--voxelwise",)
    cases: list[tuple[tuple[str, ...], str]] = [
        (("--out", str(spect[0])), "--out"),  # dosimetry.json into a series folder
        ((*voxelwise, "--out", str(spect[1])), "--out"),  # …and dose.dcm: a second series
        ((*voxelwise, "--rtdose", str(spect[0] / "nm.dcm")), "--rtdose"),  # over the input
        ((*voxelwise, "--rtdose", str(spect[2] / "dose.dcm")), "--rtdose"),
    ]
    for extra, needle in cases:
        _refused(_images(phantom, spect=spect, extra=extra), capsys, needle)
    after = {p: p.read_bytes() for folder in spect for p in folder.iterdir()}
    assert after == before  # nothing replaced, nothing added

    pet = shutil.copytree(phantom.pet_dir, tmp_path / "pet")
    listing = sorted(pet.iterdir())
    first = listing[0].read_bytes()
    for target in (listing[0], pet / "case.json"):
        argv = _pet(phantom, pet=pet, extra=("--case", str(CASE), "--out", str(target)))
        _refused(argv, capsys, "--out")
    assert sorted(pet.iterdir()) == listing
    assert listing[0].read_bytes() == first


# --------------------------------------------------------------- cohort


def test_cohort_refuses_more_workers_than_the_machine_can_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = tmp_path / "cohort"
    (cohort / "patient" / "spect_4h").mkdir(parents=True)
    (cohort / "patient" / "study.json").write_text(json.dumps({"spect": ["spect_4h"]}))
    table = tmp_path / "t.csv"
    argv = ["dose", "images", "--cohort", str(cohort), "--table", str(table), "--workers"]
    _refused([*argv, "100000"], capsys, "--workers")  # was: tried to start 100000 processes
    assert not table.exists()


# --------------------------------------------------------------- errors name the option typed


def test_errors_about_masks_and_labels_name_the_options(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The imaging layer names ``masks`` and ``labels_file``; the commands say ``--masks`` and
    ``--labels``, the options the user typed."""
    truncated = tmp_path / "labels.nii.gz"
    truncated.write_bytes(phantom.labels_path.read_bytes()[:300])
    for argv in (
        _images(phantom, masks=truncated),
        [*_pet(phantom)[:-4], "--masks", str(truncated)],
    ):
        assert "error: --masks: " in _refused(argv, capsys, "--masks:")
    labels = tmp_path / "labels.json"
    labels.write_text('{"1": "liver", "1": "spleen"}', encoding="utf-8")
    for argv in (_images(phantom, labels=labels), [*_pet(phantom)[:-2], "--labels", str(labels)]):
        assert "error: --labels: " in _refused(argv, capsys, "--labels:")
