"""Masks onto the SPECT grid (NIfTI, DICOM SEG, RTSTRUCT), region names, masses from CT.

Reference values are analytic: a sphere's volume 4/3·πr³, a cylinder's πr²h,
an annulus' π(R² − r²)h. Tolerances are stated where they are used: a mask on
a voxel grid differs from the analytic solid by the voxels cut by its surface,
about ± half a voxel layer over the surface area; the coverage fraction
thresholded at 0.5 makes that error average out, so a few per cent suffice
for regions of tens of voxels across.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import nibabel as _nibabel
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from matplotlib.path import Path as MplPath
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from lutetia.errors import BadInputError
from lutetia.imaging.masks import (
    coverage_fraction,
    map_region_name,
    masks_from_label_map,
    points_in_polygon,
    read_masks,
)
from lutetia.imaging.mass import DensityCalibration, default_calibration, region_masses
from lutetia.imaging.volume import Grid, Volume

nibabel: Any = _nibabel  # untyped constructors

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
FRAME = "1.2.826.0.1.3680043.8.498.1"


def spect_grid(frame: str | None = FRAME) -> Grid:
    """A 32³ SPECT-like grid of 4.8 mm voxels centred near the origin."""
    return Grid((32, 32, 32), (4.8, 4.8, 4.8), (-74.4, -74.4, -74.4), IDENTITY, frame)


def lps_of(grid: Grid) -> np.ndarray[Any, Any]:
    k, j, i = np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij")
    return grid.index_to_lps(np.stack([i, j, k], axis=-1).astype(np.float64))


def sphere_labels(grid: Grid, centre: tuple[float, float, float], radius: float) -> Any:
    distance = np.linalg.norm(lps_of(grid) - np.array(centre), axis=-1)
    return (distance <= radius).astype(np.int16)


# ----------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("source", "name", "groups"),
    [
        ("Kidney_L", "kidney_left", ("kidneys",)),
        ("kidney right", "kidney_right", ("kidneys",)),
        ("KidneyR", "kidney_right", ("kidneys",)),
        ("Kidneys", "kidneys", ()),
        ("LIVER", "liver", ()),
        ("Spleen", "spleen", ()),
        ("parotid_gland_left", "parotid_left", ("parotid_glands", "salivary_glands")),
        ("Submandibular R", "submandibular_right", ("submandibular_glands", "salivary_glands")),
        ("parotid", "parotid_glands", ("salivary_glands",)),
        ("Salivary glands", "salivary_glands", ()),
        ("lacrimal_gland_right", "lacrimal_right", ("lacrimal_glands",)),
        ("Bone marrow", "red_marrow", ()),
        ("lesion_3", "lesion_3", ("lesions",)),
        ("Lesion 12", "lesion_12", ("lesions",)),
        ("TUMOR_03", "lesion_3", ("lesions",)),
        ("met7", "lesion_7", ("lesions",)),
        ("urinary_bladder", "bladder", ()),
        ("External", "body", ()),
    ],
)
def test_region_names_map_to_the_case_vocabulary(
    source: str, name: str, groups: tuple[str, ...]
) -> None:
    mapped = map_region_name(source)
    assert (mapped.name, mapped.groups, mapped.known) == (name, groups, True)


@pytest.mark.parametrize("source", ["kidney_cyst_left", "Heart", "PTV_70", "aorta"])
def test_unknown_names_are_kept_as_they_are(source: str) -> None:
    mapped = map_region_name(source)
    assert (mapped.name, mapped.groups, mapped.known) == (source, (), False)


# ----------------------------------------------------------------- resampling


def test_sphere_from_anisotropic_label_map_keeps_its_volume() -> None:
    # CT-like label map, 1.5 × 1.5 × 3 mm voxels, on a grid shifted against the SPECT's.
    source = Grid((48, 64, 64), (1.5, 1.5, 3.0), (-50.3, -47.1, -70.2), IDENTITY, FRAME)
    radius = 30.0
    labels = sphere_labels(source, (0.0, 0.0, 0.0), radius)
    masks = masks_from_label_map(source, labels, {1: "liver"}, spect_grid())
    region = masks.regions["liver"]
    analytic = 4.0 / 3.0 * math.pi * radius**3 / 1000.0  # 113.1 mL
    # Source voxelisation of a 30 mm sphere at 1.5–3 mm: within 2 % of the analytic volume.
    assert region.volume_source_ml == pytest.approx(analytic, rel=0.02)
    # Coverage is volume-preserving up to sampling (≤ 1 %), the thresholded mask within 5 %
    # (a 30 mm sphere is 12.5 SPECT voxels across; the boundary layer is ±½ voxel).
    assert region.volume_covered_ml == pytest.approx(region.volume_source_ml, rel=0.01)
    assert region.volume_ml == pytest.approx(analytic, rel=0.05)
    assert abs(region.volume_change_percent) < 5.0
    assert masks.unmapped == ()
    assert masks["liver"].shape == spect_grid().shape


def test_coverage_of_a_voxel_aligned_block_is_exact() -> None:
    # The source grid subdivides the SPECT grid exactly (2.4 mm = 4.8/2): a block of whole
    # SPECT voxels covers them fully and nothing else.
    reference = spect_grid()
    source = Grid((64, 64, 64), (2.4, 2.4, 2.4), (-75.6, -75.6, -75.6), IDENTITY, FRAME)
    values = np.zeros(source.shape, dtype=bool)
    values[10:20, 4:12, 30:40] = True  # SPECT voxels k 5..9, j 2..5, i 15..19
    fraction = coverage_fraction(source, values, reference)
    expected = np.zeros(reference.shape)
    expected[5:10, 2:6, 15:20] = 1.0
    np.testing.assert_allclose(fraction, expected, atol=1e-6)


def test_left_and_right_kidney_make_the_kidneys_and_stay_separate() -> None:
    source = Grid((40, 40, 40), (3.0, 3.0, 3.0), (-60.0, -60.0, -60.0), IDENTITY, FRAME)
    labels = sphere_labels(source, (-30.0, 0.0, 0.0), 15.0)
    labels += 2 * sphere_labels(source, (30.0, 0.0, 0.0), 15.0)
    masks = masks_from_label_map(source, labels, {1: "Kidney_L", 2: "Kidney_R"}, spect_grid())
    left, right = masks.regions["kidney_left"], masks.regions["kidney_right"]
    both = masks.regions["kidneys"]
    assert not np.any(left.mask & right.mask)
    np.testing.assert_array_equal(both.mask, left.mask | right.mask)
    assert both.volume_source_ml == pytest.approx(left.volume_source_ml + right.volume_source_ml)
    assert set(both.source_names) == {"Kidney_L", "Kidney_R"}


def test_mismatched_frame_of_reference_is_refused_unless_told() -> None:
    source = Grid((20, 20, 20), (3.0, 3.0, 3.0), (-30.0, -30.0, -30.0), IDENTITY, "1.2.3.4")
    labels = sphere_labels(source, (0.0, 0.0, 0.0), 10.0)
    with pytest.raises(BadInputError) as error:
        masks_from_label_map(source, labels, {1: "spleen"}, spect_grid())
    assert error.value.field == "frame_of_reference_uid"
    told = masks_from_label_map(
        source, labels, {1: "spleen"}, spect_grid(), allow_other_frame_of_reference=True
    )
    assert "spleen" in told
    assert any("differs" in w for w in told.warnings)


def test_mask_outside_the_field_of_view_is_refused() -> None:
    far = Grid((10, 10, 10), (3.0, 3.0, 3.0), (500.0, 500.0, 500.0), IDENTITY, FRAME)
    labels = np.ones(far.shape, dtype=np.int16)
    with pytest.raises(BadInputError, match="field of view") as error:
        masks_from_label_map(far, labels, {1: "liver"}, spect_grid())
    assert error.value.field == "masks"


def test_partly_outside_and_empty_regions_are_reported() -> None:
    source = Grid((40, 40, 60), (3.0, 3.0, 3.0), (-60.0, -60.0, -60.0), IDENTITY, FRAME)
    labels = np.zeros(source.shape, dtype=np.int16)
    labels[10:20, 10:20, 40:60] = 1  # i 40..59 → x 60..117 mm; the SPECT ends at 79.2 mm
    masks = masks_from_label_map(source, labels, {1: "spleen", 2: "liver"}, spect_grid())
    assert any("'spleen'" in w and "outside the image's field of view" in w for w in masks.warnings)
    assert any("'liver' is empty" in w for w in masks.warnings)
    assert "liver" not in masks


def test_unknown_names_and_unnamed_labels_are_reported() -> None:
    source = Grid((20, 20, 20), (3.0, 3.0, 3.0), (-30.0, -30.0, -30.0), IDENTITY, FRAME)
    labels = sphere_labels(source, (-10.0, 0.0, 0.0), 8.0)
    labels[sphere_labels(source, (12.0, 0.0, 0.0), 8.0) == 1] = 5
    masks = masks_from_label_map(source, labels, {1: "Heart"}, spect_grid())
    assert set(masks.names()) == {"Heart", "label_5"}
    assert masks.unmapped == ("Heart", "label_5")
    assert any("label 5 has no name" in w for w in masks.warnings)


# ----------------------------------------------------------------- NIfTI


def test_nifti_label_map_with_labels_file(tmp_path: Path) -> None:
    # Written in RAS with a non-trivial affine; read back into LPS on the SPECT grid.
    source = Grid((40, 40, 40), (2.0, 2.5, 3.0), (-40.0, -50.0, -60.0), IDENTITY, None)
    labels = sphere_labels(source, (5.0, -3.0, 2.0), 20.0)
    affine_lps = source.affine_lps
    affine_ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_lps
    data = np.transpose(labels, (2, 1, 0))  # (k, j, i) → NIfTI (i, j, k)
    image = nibabel.Nifti1Image(data.astype(np.int16), affine_ras)
    path = tmp_path / "labels.nii.gz"
    nibabel.save(image, path)
    names = tmp_path / "labels.json"
    names.write_text(json.dumps({"1": "Spleen"}), encoding="utf-8")
    masks = read_masks(path, labels_file=names, reference=spect_grid())
    direct = masks_from_label_map(
        Grid(source.shape, source.spacing_mm, source.origin_mm, IDENTITY, FRAME),
        labels,
        {1: "spleen"},
        spect_grid(),
    )
    np.testing.assert_array_equal(masks["spleen"], direct["spleen"])
    assert any("frame of reference not checked" in w for w in masks.warnings)
    assert "labels.json" in masks.source
    # The sphere centre comes back where it was written (within half a SPECT voxel).
    centre = spect_grid().index_to_lps(np.argwhere(masks["spleen"]).mean(axis=0)[::-1])
    np.testing.assert_allclose(centre, (5.0, -3.0, 2.0), atol=2.4)


def test_nifti_single_label_takes_the_file_name_and_csv_labels(tmp_path: Path) -> None:
    source = Grid((20, 20, 20), (3.0, 3.0, 3.0), (-30.0, -30.0, -30.0), IDENTITY, None)
    labels = sphere_labels(source, (0.0, 0.0, 0.0), 12.0)
    affine_ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ source.affine_lps
    path = tmp_path / "kidney_left.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.transpose(labels, (2, 1, 0)), affine_ras), path)
    assert read_masks(path, reference=spect_grid()).names() == ("kidney_left", "kidneys")
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("label,name\n1,lesion 4\n", encoding="utf-8")
    assert read_masks(path, labels_file=csv_file, reference=spect_grid()).names() == (
        "lesion_4",
        "lesions",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("label,name\n1,liver\nx,spleen\n", encoding="utf-8")
    with pytest.raises(BadInputError) as error:
        read_masks(path, labels_file=bad, reference=spect_grid())
    assert error.value.field == "labels_file"


# ----------------------------------------------------------------- DICOM SEG


def ct_series(grid: Grid) -> list[Dataset]:
    """Minimal CT slices on ``grid`` (axial, identity direction) to derive a SEG from."""
    study, series = generate_uid(), generate_uid()
    slices = []
    for k in range(grid.shape[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = grid.frame_of_reference_uid
        ds.Modality = "CT"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
            "Test^Patient",
            "1",
            "",
            "M",
        )
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20260101", "120000", ""
        ds.ReferringPhysicianName, ds.StudyID, ds.SeriesNumber = "", "1", 1
        ds.InstanceNumber = k + 1
        ds.Manufacturer = "test"
        ds.ImagePositionPatient = list(grid.index_to_lps([0, 0, k]))
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [grid.spacing_mm[1], grid.spacing_mm[0]]
        ds.SliceThickness = grid.spacing_mm[2]
        ds.Rows, ds.Columns = grid.shape[1], grid.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.zeros(grid.shape[1:], dtype=np.int16).tobytes()
        slices.append(ds)
    return slices


@pytest.mark.parametrize("kind", ["BINARY", "FRACTIONAL"])
def test_dicom_seg_reads_back_identical(tmp_path: Path, kind: str) -> None:
    import highdicom
    from pydicom.sr.codedict import codes

    grid = Grid((16, 24, 20), (4.8, 4.8, 4.8), (-45.6, -55.2, -36.0), IDENTITY, FRAME)
    kidney = sphere_labels(grid, (-20.0, 0.0, 0.0), 12.0).astype(bool)
    lesion = sphere_labels(grid, (20.0, 5.0, 0.0), 9.0).astype(bool)
    descriptions = [
        highdicom.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=codes.SCT.Kidney,
            algorithm_type="MANUAL",
        )
        for number, label in ((1, "Kidney_L"), (2, "Lesion 1"))
    ]
    seg = highdicom.seg.Segmentation(
        source_images=ct_series(grid),
        pixel_array=np.stack([kidney, lesion], axis=-1).astype(np.uint8),
        segmentation_type=kind,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="lutetia tests",
        manufacturer_model_name="none",
        software_versions="0",
        device_serial_number="0",
    )
    path = tmp_path / "seg.dcm"
    seg.save_as(path)
    masks = read_masks(path, reference=grid)
    # Same grid: every voxel is covered fully or not at all, so the masks come back exactly.
    np.testing.assert_array_equal(masks["kidney_left"], kidney)
    np.testing.assert_array_equal(masks["lesion_1"], lesion)
    assert masks.regions["lesion_1"].volume_ml == pytest.approx(lesion.sum() * grid.voxel_volume_ml)
    assert kind.lower() in masks.source
    other = Grid(grid.shape, grid.spacing_mm, grid.origin_mm, IDENTITY, "1.2.3.9")
    with pytest.raises(BadInputError, match="frame of reference"):
        read_masks(path, reference=other)


# ----------------------------------------------------------------- RTSTRUCT


def circle(centre: tuple[float, float], radius: float, z: float, n: int = 90) -> list[float]:
    angle = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    points = np.stack(
        [centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle), np.full(n, z)],
        axis=1,
    )
    return [round(float(v), 4) for v in points.ravel()]


def write_rtstruct(
    path: Path, structures: dict[str, list[list[float]]], frame: str = FRAME
) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.481.3")
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.FrameOfReferenceUID = frame
    rois, contours = [], []
    for number, (name, polygons) in enumerate(structures.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, name, frame
        rois.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        sequence = []
        for data in polygons:
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(data) // 3
            contour.ContourData = data
            sequence.append(contour)
        item.ContourSequence = DicomSequence(sequence)
        contours.append(item)
    ds.StructureSetROISequence = DicomSequence(rois)
    ds.ROIContourSequence = DicomSequence(contours)
    ds.save_as(path, enforce_file_format=True)


def test_rtstruct_cylinder_and_annulus_fill_their_analytic_volume(tmp_path: Path) -> None:
    planes = np.arange(-30.0, 30.01, 2.0)  # 31 planes, 2 mm apart: a 62 mm tall stack
    height = len(planes) * 2.0
    cylinder = [circle((-30.0, 0.0), 20.0, z) for z in planes]
    # Annulus: outer 22 mm, hole 10 mm (even–odd rule), plus a second part on each plane.
    annulus = [
        c for z in planes for c in (circle((30.0, 0.0), 22.0, z), circle((30.0, 0.0), 10.0, z))
    ]
    path = tmp_path / "rs.dcm"
    write_rtstruct(path, {"Liver": cylinder, "GTV_2": annulus})
    masks = read_masks(path, reference=spect_grid())
    liver, lesion = masks.regions["liver"], masks.regions["lesion_2"]
    # Contour volumes (polygons of 90 vertices: area 0.08 % below the circle's).
    assert liver.volume_source_ml == pytest.approx(math.pi * 20.0**2 * height / 1000, rel=2e-3)
    annulus_ml = math.pi * (22.0**2 - 10.0**2) * height / 1000
    assert lesion.volume_source_ml == pytest.approx(annulus_ml, rel=2e-3)
    # Filled on 4.8 mm voxels: the covered volume within 2 % (sampling), the mask within
    # 6 % (the annulus has two surfaces and is 2.5 voxels thick).
    assert liver.volume_covered_ml == pytest.approx(liver.volume_source_ml, rel=0.02)
    assert liver.volume_ml == pytest.approx(liver.volume_source_ml, rel=0.05)
    assert lesion.volume_ml == pytest.approx(annulus_ml, rel=0.06)
    # The hole is empty: the voxel at the annulus centre is not in the mask.
    centre = np.rint(spect_grid().lps_to_index([30.0, 0.0, 0.0])).astype(int)
    assert not lesion.mask[centre[2], centre[1], centre[0]]
    assert "lesions" in masks


def test_rtstruct_in_another_frame_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rs.dcm"
    write_rtstruct(path, {"Liver": [circle((0.0, 0.0), 20.0, z) for z in (0.0, 3.0)]}, "1.2.3")
    with pytest.raises(BadInputError) as error:
        read_masks(path, reference=spect_grid())
    assert error.value.field == "frame_of_reference_uid"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=3, max_size=12, unique=True
    )
)
def test_point_in_polygon_agrees_with_matplotlib(vertices: list[tuple[float, float]]) -> None:
    # An independent implementation: matplotlib's Path.contains_points (even–odd for a
    # single polygon away from its edges). Points within 1e-6 of an edge are skipped.
    polygon = np.array(vertices, dtype=np.float64)
    rng = np.random.default_rng(0)
    points = rng.uniform(-60, 60, size=(400, 2))
    ours = points_in_polygon(points[:, 0], points[:, 1], polygon)
    theirs = MplPath(polygon, closed=False).contains_points(points, radius=0.0)
    path = MplPath(np.vstack([polygon, polygon[:1]]))
    near = path.contains_points(points, radius=1e-6) != path.contains_points(points, radius=-1e-6)
    # Self-intersecting polygons are skipped: there matplotlib's non-zero fill differs.
    assume(_is_simple(polygon))
    np.testing.assert_array_equal(ours[~near], theirs[~near])


def _is_simple(polygon: np.ndarray[Any, Any]) -> bool:
    """No two non-adjacent edges cross (then even–odd and non-zero fills agree)."""
    n = len(polygon)
    edges = [(polygon[i], polygon[(i + 1) % n]) for i in range(n)]

    def cross(o: Any, a: Any, b: Any) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue
            p1, p2 = edges[i]
            q1, q2 = edges[j]
            d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
            d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
            if d1 * d2 <= 0 and d3 * d4 <= 0:
                return False
    return True


# ----------------------------------------------------------------- masses


def test_masses_from_ct_with_known_density(tmp_path: Path) -> None:
    reference = spect_grid()
    source = Grid((40, 40, 40), (3.0, 3.0, 3.0), (-60.0, -60.0, -60.0), IDENTITY, FRAME)
    labels = sphere_labels(source, (-25.0, 0.0, 0.0), 18.0)
    labels += 2 * sphere_labels(source, (25.0, 0.0, 0.0), 18.0)
    masks = masks_from_label_map(source, labels, {1: "liver", 2: "lesion 1"}, reference)
    # A finer CT grid: 40 HU in the left half (x < 0), 1200 HU (bone) in the right half.
    ct_grid = Grid((64, 64, 64), (2.5, 2.5, 2.5), (-80.0, -80.0, -80.0), IDENTITY, FRAME)
    x = lps_of(ct_grid)[..., 0]
    hu = np.where(x < 0, 40.0, 1200.0)
    ct = Volume(ct_grid, hu, "ct_number", "HU", None, "test CT")
    calibration = DensityCalibration(((-1000.0, 0.0), (0.0, 1.0), (1000.0, 1.6)), "test")
    masses = region_masses(masks, ct, calibration=calibration)
    # Both above 0 HU, on the line (0, 1)–(1000, 1.6): 40 HU → 1.024; 1200 HU → capped at 1.6.
    assert masses["liver"].density_g_per_ml == pytest.approx(1.024)
    assert masses["lesion_1"].density_g_per_ml == pytest.approx(1.6)
    liver = masks.regions["liver"]
    assert masses["liver"].mass_g == pytest.approx(1.024 * liver.volume_ml)
    assert masses["liver"].volume_ml == liver.volume_ml
    assert "CT mean density" in masses["liver"].method
    default = region_masses(masks, None)
    assert default["liver"].density_g_per_ml == 1.0
    assert "default density 1 g/mL" in default["liver"].method


def test_default_calibration_follows_the_hu_definition_for_soft_tissue() -> None:
    # HU = 1000(μ − μ_w)/μ_w: water-equivalent matter has ρ = 1 + HU/1000, used from air
    # to 100 HU; the bone point is NIST cortical bone (1.85 g/mL) above 1000 HU.
    calibration = default_calibration()
    values = calibration.density_g_per_ml(np.array([-1000.0, -500.0, 0.0, 60.0, 100.0]))
    np.testing.assert_allclose(values[2:], [1.0, 1.06, 1.1])
    assert values[1] == pytest.approx(0.5 + 0.5 * 0.001205, rel=1e-6)
    hu_bone, rho_bone = calibration.points[-1]
    assert rho_bone == pytest.approx(1.85)
    assert 1000.0 < hu_bone < 2500.0
    assert calibration.density_g_per_ml(np.array([700.0]))[0] == pytest.approx(
        1.1 + (700.0 - 100.0) * (rho_bone - 1.1) / (hu_bone - 100.0)
    )


def test_mass_refuses_a_ct_in_another_frame_or_not_a_ct() -> None:
    source = Grid((20, 20, 20), (3.0, 3.0, 3.0), (-30.0, -30.0, -30.0), IDENTITY, FRAME)
    masks = masks_from_label_map(
        source, sphere_labels(source, (0.0, 0.0, 0.0), 10.0), {1: "spleen"}, spect_grid()
    )
    other = Grid((10, 10, 10), (5.0, 5.0, 5.0), (-25.0, -25.0, -25.0), IDENTITY, "9.9")
    ct = Volume(other, np.zeros(other.shape), "ct_number", "HU", None, "ct")
    with pytest.raises(BadInputError) as error:
        region_masses(masks, ct)
    assert error.value.field == "ct.frame_of_reference_uid"
    with pytest.raises(BadInputError):
        DensityCalibration(((0.0, 1.0), (0.0, 2.0)), "not increasing")


def test_read_masks_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    junk = tmp_path / "x.dcm"
    junk.write_bytes(b"not dicom")
    with pytest.raises(BadInputError) as error:
        read_masks(junk, reference=spect_grid())
    assert error.value.field == "masks"
    with pytest.raises(BadInputError):
        read_masks(tmp_path / "missing.nii.gz", reference=spect_grid())
