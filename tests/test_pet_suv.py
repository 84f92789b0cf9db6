"""PET SUVbw and the case file's ``psma_pet`` block from images.

SUVbw = C·W / (A_inj·e^(−λΔt)): Kinahan PE, Fletcher JW, Semin Ultrasound CT MR
2010;31:496-505 (doi:10.1053/j.sult.2010.10.001), eq. 1; QIBA FDG-PET/CT
profile (2016). Half-lives: ICRP Publication 107 (68Ga 67.71 min, 177Lu 6.647 d).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from lutetia.cases.model import LesionSite, PsmaPet
from lutetia.errors import BadInputError
from lutetia.imaging.dicom import Injection, read_injection, read_patient_weight_kg, read_series
from lutetia.imaging.nifti import read_label_map, read_label_names
from lutetia.imaging.pet import LESION_SITES, measure_psma_pet, psma_pet_block, suv_bw
from lutetia.imaging.phantom import INJECTED_AT, PET_TRACER, PhantomTruth, make_phantom
from lutetia.imaging.volume import Grid, Volume

GRID = Grid((3, 4, 5), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
GA68 = Injection(150e6, INJECTED_AT, "Ga-68", "test", half_life_h=4062.6 / 3600)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> PhantomTruth:
    return make_phantom(
        tmp_path_factory.mktemp("pet"), shape=(48, 48, 48), spacing_mm=(6.4, 6.4, 6.4),
        timepoints_h=(24.0,),
    )  # fmt: skip


def _concentration(value: float, minutes: float) -> Volume:
    return Volume(
        GRID, np.full(GRID.shape, value), "activity_concentration", "Bq/mL",
        INJECTED_AT + timedelta(minutes=minutes), "test",
    )  # fmt: skip


def test_suv_bw_by_hand() -> None:
    # C = 10 kBq/mL, W = 80 kg, A = 150 MBq of 68Ga injected 60 min before the scan.
    suv = suv_bw(_concentration(10_000.0, 60), 80.0, GA68)
    decayed = 150e6 * 2 ** (-60 / 67.71)
    assert np.allclose(suv.values, 10_000.0 * 80_000.0 / decayed, rtol=1e-9)
    assert suv.quantity == "suv_bw"
    assert suv.unit == "g/mL"
    # 2^(−60/67.71) = 0.541063; 8e8 g·Bq/mL / (150e6 Bq × 0.541063) = 9.8571 g/mL
    assert float(suv.values[0, 0, 0]) == pytest.approx(9.8571, abs=1e-4)


def test_suv_of_a_uniform_body_is_one() -> None:
    # All the injected activity spread evenly over 80 kg of unit density: SUV = 1.
    concentration = 150e6 * 2 ** (-30 / 67.71) / 80_000.0
    suv = suv_bw(_concentration(concentration, 30), 80.0, GA68)
    assert np.allclose(suv.values, 1.0, rtol=1e-9)


def test_inconsistent_half_life_is_refused() -> None:
    wrong = replace(GA68, half_life_h=6586.2 / 3600)  # the 18F half-life under a 68Ga code
    with pytest.raises(BadInputError, match="differs from ICRP-107") as error:
        suv_bw(_concentration(1.0, 60), 80.0, wrong)
    assert error.value.field == "RadionuclideHalfLife"
    with pytest.raises(BadInputError) as error:
        suv_bw(_concentration(1.0, 60), 80.0, replace(GA68, nuclide=None))
    assert error.value.field == "RadionuclideCodeSequence"


@pytest.mark.parametrize("weight", [0.0, -70.0, 5.0, 1000.0, math.nan])
def test_implausible_weight_is_refused(weight: float) -> None:
    with pytest.raises(BadInputError) as error:
        suv_bw(_concentration(1.0, 60), weight, GA68)
    assert error.value.field == "patient_weight_kg"


def test_scan_before_injection_is_refused() -> None:
    with pytest.raises(BadInputError) as error:
        suv_bw(_concentration(1.0, -5), 80.0, GA68)
    assert error.value.field == "injection.at"


def test_phantom_pet_gives_the_true_suv_and_a_valid_case_block(phantom: PhantomTruth) -> None:
    pet = read_series(phantom.pet_dir)
    injection = read_injection(phantom.pet_dir)
    weight = read_patient_weight_kg(phantom.pet_dir)
    assert (injection.nuclide, weight) == ("Ga-68", phantom.pet_weight_kg)
    suv = suv_bw(pet, weight, injection)
    labels = read_label_map(phantom.labels_path)
    names = read_label_names(phantom.label_names_path)
    measurement = measure_psma_pet(suv, labels, names, tracer=PET_TRACER)
    block = measurement.block
    # per-slice int16 storage of the PET: a relative step of 1/32000 of the slice maximum
    truth = phantom.organs
    assert block["liver_suvmean"] == pytest.approx(truth["liver"].pet_suv, rel=2e-3)
    assert block["parotid_suvmean"] == pytest.approx(truth["parotid_left"].pet_suv, rel=2e-3)
    lesions = {lesion["site"]: lesion for lesion in block["lesions"]}
    assert lesions["bone"]["suvmax"] == pytest.approx(truth["lesion_bone_1"].pet_suv, rel=2e-3)
    assert lesions["lymph_node"]["suvmax"] == pytest.approx(
        truth["lesion_lymph_node_1"].pet_suv, rel=2e-3
    )
    assert block["date"] == phantom.pet_at.isoformat()
    model = PsmaPet.model_validate(block)  # the case file accepts it as it is
    assert model.tracer == PET_TRACER
    assert len(model.lesions) == 2
    assert any("fdg" in item for item in measurement.missing)


def test_missing_regions_are_reported_not_filled(phantom: PhantomTruth) -> None:
    pet = suv_bw(read_series(phantom.pet_dir), 80.0, read_injection(phantom.pet_dir))
    grid, array = read_label_map(phantom.labels_path)
    only_liver = np.where(array == phantom.organs["liver"].label, 1, 0).astype(np.int32)
    measurement = measure_psma_pet(pet, (grid, only_liver), {1: "liver"})
    assert "parotid_suvmean" not in measurement.block
    assert measurement.block["lesions"] == []
    assert any(m.startswith("parotid_suvmean") for m in measurement.missing)
    assert any(m.startswith("tracer") for m in measurement.missing)
    with pytest.raises(BadInputError) as error:
        psma_pet_block(pet, (grid, only_liver), {})
    assert error.value.field == "names"


def test_lesion_size_of_a_box_is_its_diagonal_and_short_axis() -> None:
    grid = Grid((10, 12, 14), (1.0, 2.0, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    array = np.zeros(grid.shape, dtype=np.int32)
    # array[k, j, i]; spacing (Δi, Δj, Δk) = (1, 2, 3) mm
    array[2:5, 3:7, 4:9] = 1  # 5 × 4 × 3 voxels along i, j, k: 5 × 8 × 9 mm
    array[6:9, 1:3, 1:11] = 2  # 10 × 2 × 3 voxels: 10 × 4 × 9 mm
    suv = Volume(grid, np.ones(grid.shape), "suv_bw", "g/mL", INJECTED_AT, "test")
    lesions = psma_pet_block(suv, (grid, array), {1: "lesion_bone_1", 2: "lesion_lymph_node_1"})[
        "lesions"
    ]
    # longest diameter of a box: its space diagonal, √(5² + 8² + 9²) = 13.04 mm
    assert lesions[0]["size_mm"] == pytest.approx(math.sqrt(5**2 + 8**2 + 9**2), abs=0.05)
    assert lesions[1]["size_mm"] == pytest.approx(4.0, abs=0.05)  # smallest width (short axis)


def test_lesion_sites_match_the_case_format() -> None:
    assert set(LESION_SITES) == set(get_args(LesionSite))


def test_suv_block_refuses_a_label_map_on_another_grid(tmp_path: Path) -> None:
    suv = Volume(GRID, np.ones(GRID.shape), "suv_bw", "g/mL", INJECTED_AT, "test")
    other = Grid(GRID.shape, GRID.spacing_mm, (1.0, 0.0, 0.0), GRID.direction)
    with pytest.raises(BadInputError) as error:
        psma_pet_block(suv, (other, np.zeros(GRID.shape, dtype=np.int32)), {})
    assert error.value.field == "labels"
