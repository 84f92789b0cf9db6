"""``lutetia pet``: the ``psma_pet`` block from the phantom's PET, and a case that assess runs.

The phantom's PET (:mod:`lutetia.imaging.phantom`) holds a known SUVbw per
organ (uniform), so SUVmean and SUVmax of every region are the organ's SUV.
"""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from lutetia.cli import main
from lutetia.imaging.phantom import PhantomTruth, make_phantom
from tests.conftest import EXAMPLES

CASE = EXAMPLES / "01-vision-eligible.json"


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    return make_phantom(
        tmp_path_factory.mktemp("pet"), shape=(40, 40, 40), spacing_mm=(7.0, 7.0, 7.0)
    )


def _args(phantom: PhantomTruth) -> list[str]:
    return [
        "pet",
        "--pet", str(phantom.pet_dir),
        "--masks", str(phantom.labels_path),
        "--labels", str(phantom.label_names_path),
    ]  # fmt: skip


def test_block_holds_the_phantom_suvs(
    phantom: PhantomTruth, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_args(phantom), "--tracer", "68Ga-PSMA-11", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    block = document["psma_pet"]
    organs = phantom.organs
    assert block["liver_suvmean"] == pytest.approx(organs["liver"].pet_suv, rel=1e-3)
    assert block["parotid_suvmean"] == pytest.approx(organs["parotid_left"].pet_suv, rel=1e-3)
    assert block["tracer"] == "68Ga-PSMA-11"
    assert block["date"] == phantom.pet_at.isoformat()
    sites = {lesion["site"]: lesion for lesion in block["lesions"]}
    assert set(sites) == {"bone", "lymph_node"}
    assert sites["bone"]["suvmax"] == pytest.approx(organs["lesion_bone_1"].pet_suv, rel=1e-3)
    node = organs["lesion_lymph_node_1"].pet_suv
    assert sites["lymph_node"]["suvmax"] == pytest.approx(node, rel=1e-3)
    assert all(lesion["size_mm"] > 0 for lesion in block["lesions"])
    assert any("fdg" in m for m in document["missing"])  # never invented
    names = {r["name"] for r in document["regions"]}
    assert "kidneys" not in names  # combined regions are not measured twice
    assert {"kidney_left", "kidney_right", "liver"} <= names


def test_tracer_from_the_dicom_tag_else_listed_as_missing(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without --tracer: the PET's Radiopharmaceutical (0018,0031), said in the notes.
    assert main([*_args(phantom), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["psma_pet"]["tracer"] == "68Ga-PSMA-11"
    assert any("Radiopharmaceutical (0018,0031)" in note for note in document["notes"])
    # A PET without the tag: the tracer is missing, never guessed.
    bare = tmp_path / "pet"
    bare.mkdir()
    for path in sorted(phantom.pet_dir.iterdir()):
        dataset = pydicom.dcmread(path)
        del dataset.RadiopharmaceuticalInformationSequence[0].Radiopharmaceutical
        dataset.save_as(bare / path.name)
    argv = ["pet", "--pet", str(bare), "--masks", str(phantom.labels_path)]
    assert main([*argv, "--labels", str(phantom.label_names_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "tracer" not in document["psma_pet"]
    assert any(m.startswith("tracer") for m in document["missing"])


def test_a_weight_given_in_place_of_the_files_is_noted_and_scales_the_suv(
    phantom: PhantomTruth, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_args(phantom), "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    file_kg = float(pydicom.dcmread(next(phantom.pet_dir.iterdir())).PatientWeight)
    assert main([*_args(phantom), "--weight-kg", f"{2 * file_kg:g}", "--json"]) == 0
    doubled = json.loads(capsys.readouterr().out)
    assert doubled["psma_pet"]["liver_suvmean"] == pytest.approx(
        2 * own["psma_pet"]["liver_suvmean"], rel=1e-9
    )
    assert any("--weight-kg" in note and "Patient Weight" in note for note in doubled["notes"])
    assert not any("--weight-kg" in note for note in own["notes"])
    # The file's own weight given again: nothing to note.
    assert main([*_args(phantom), "--weight-kg", f"{file_kg:g}", "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert not any("--weight-kg" in note for note in same["notes"])


def test_case_written_with_the_block_runs_through_assess(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "case.json"
    argv = [*_args(phantom), "--tracer", "68Ga-PSMA-11", "--case", str(CASE), "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["replaced_psma_pet"] is True
    written = json.loads(out.read_text())
    original = json.loads(CASE.read_text())
    assert written["psma_pet"] == document["psma_pet"]
    assert {k: v for k, v in written.items() if k != "psma_pet"} == {
        k: v for k, v in original.items() if k != "psma_pet"
    }
    assert main(["assess", str(out), "--json"]) == 0
    assessment = json.loads(capsys.readouterr().out)
    codes = {f["code"] for f in assessment["findings"]}
    assert "imaging.high_uptake" in codes  # both lesions above the parotid SUVmean


def test_bad_inputs_name_the_option(
    phantom: PhantomTruth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yaml_case = next(EXAMPLES.glob("*.yaml"))
    cases: list[tuple[list[str], str]] = [
        ([*_args(phantom), "--case", str(CASE)], "--out"),
        ([*_args(phantom), "--out", str(tmp_path / "c.json")], "--case"),
        (
            [*_args(phantom), "--case", str(yaml_case), "--out", str(tmp_path / "c.json")],
            "--case",
        ),
        ([*_args(phantom), "--case", str(CASE), "--out", str(CASE)], "--out"),
        (["pet", "--pet", str(phantom.ct_dir), "--masks", str(phantom.labels_path)], "--pet"),
        (["pet", "--pet", str(tmp_path), "--masks", str(phantom.labels_path)], str(tmp_path)),
        ([*_args(phantom), "--weight-kg", "nan"], "--weight-kg"),
        ([*_args(phantom), "--timezone", "CET"], "--timezone"),
    ]
    before = CASE.read_bytes()
    for argv, needle in cases:
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 2, (argv, captured.err)
        assert captured.out == ""
        assert len(captured.err.strip().splitlines()) == 1
        assert needle in captured.err, (needle, captured.err)
    assert CASE.read_bytes() == before
    assert not (tmp_path / "c.json").exists()
