"""pipeline("mask-generation") and SamAutomaticMaskGenerator: the same records as upstream's
generator (tests/data/sam-tiny/amg goldens, the C++ test's tolerances) and as `segkit generate`."""
import json
import subprocess

import numpy as np
import pytest

import segkit
from segkit import pipeline

from conftest import DATA, DOG, SAM_TINY, read_safetensors, rle_to_mask

# transformers' call parameters that give the random-weight tiny model many masks, and their
# `segkit generate` flags: every crops_nms_thresh is both NMS thresholds.
PIPE_PARAMS = dict(points_per_crop=8, points_per_batch=16, pred_iou_thresh=-1.0, stability_score_thresh=0.2,
                   crops_nms_thresh=1.0, crops_n_layers=1, crop_n_points_downscale_factor=2)
CLI_FLAGS = ["--points-per-side", "8", "--points-per-batch", "16", "--pred-iou-thresh", "-1",
             "--stability-score-thresh", "0.2", "--box-nms-thresh", "1", "--crop-nms-thresh", "1",
             "--crop-n-layers", "1", "--crop-n-points-downscale-factor", "2"]


@pytest.fixture(scope="module")
def cli_records(segkit_cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("generate") / "dog.json"
    subprocess.run([str(segkit_cli), "generate", "-m", str(SAM_TINY), "-i", str(DOG), "-o", str(out),
                    "--output-mode", "uncompressed_rle", "-q", *CLI_FLAGS], check=True)
    return json.loads(out.read_text())


def test_seed_snippet_runs_unchanged(dog):
    pipe = pipeline("mask-generation", model=str(SAM_TINY))
    outputs = pipe(dog)
    assert set(outputs) == {"masks", "scores"}
    assert isinstance(outputs["masks"], list) and isinstance(outputs["scores"], np.ndarray)
    assert len(outputs["masks"]) == len(outputs["scores"])


def test_pipeline_gives_the_masks_and_scores_of_segkit_generate(cli_records):
    pipe = pipeline("mask-generation", model=SAM_TINY)
    outputs = pipe(str(DOG), **PIPE_PARAMS)
    assert len(cli_records) > 3
    assert len(outputs["masks"]) == len(cli_records)
    for mask, record in zip(outputs["masks"], cli_records):
        assert mask.dtype == np.bool_ and mask.shape == (534, 800)
        np.testing.assert_array_equal(mask, rle_to_mask(record["segmentation"]))
    np.testing.assert_allclose(outputs["scores"], [r["predicted_iou"] for r in cli_records], rtol=1e-6)


def test_pipeline_inputs_path_array_pil_and_lists(sam_tiny, dog):
    pipe = pipeline("mask-generation", model=sam_tiny, points_per_crop=4, pred_iou_thresh=-1.0,
                    stability_score_thresh=0.2)
    want = pipe(DOG)
    inputs = [dog, str(DOG)]
    try:
        from PIL import Image

        inputs.append(Image.open(DOG))
    except ImportError:
        pass
    results = pipe(inputs)
    assert isinstance(results, list) and len(results) == len(inputs)
    for got in results:
        assert len(got["masks"]) == len(want["masks"]) > 0
        for a, b in zip(got["masks"], want["masks"]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got["scores"], want["scores"])


def test_pipeline_rle_and_boxes(sam_tiny, dog):
    pipe = pipeline("mask-generation", model=sam_tiny)
    out = pipe(dog, **PIPE_PARAMS, output_rle_mask=True, output_bboxes_mask=True)
    assert len(out["rle_mask"]) == len(out["masks"]) == len(out["bounding_boxes"])
    for mask, rle, box in zip(out["masks"], out["rle_mask"], out["bounding_boxes"]):
        np.testing.assert_array_equal(rle_to_mask(rle), mask)
        ys, xs = np.nonzero(mask)
        assert list(box) == [xs.min(), ys.min(), xs.max(), ys.max()]


def test_pipeline_refuses_what_it_cannot_do(sam_tiny, dog):
    with pytest.raises(ValueError, match="task"):
        pipeline("depth-estimation", model=sam_tiny)
    with pytest.raises(ValueError, match="model"):
        pipeline("mask-generation")
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        pipeline("mask-generation", model="/no-such-model")
    pipe = pipeline("mask-generation", model=sam_tiny)
    with pytest.raises(TypeError, match="points_per_side"):
        pipe(dog, points_per_side=8)  # transformers calls it points_per_crop
    with pytest.raises(ValueError, match="mask_threshold"):
        pipe(dog, mask_threshold=0.5)
    with pytest.raises(ValueError, match="points_per_batch"):
        pipe(dog, points_per_batch=0)
    with pytest.raises(ValueError, match="URL"):
        pipe("https://example.com/cat.png")
    with pytest.raises(FileNotFoundError):
        pipe(str(DATA / "no-such-image.jpg"))
    with pytest.raises(ValueError, match="image"):
        pipe(42)


@pytest.mark.parametrize("name", ["truck_small.grid8_no_nms", "groceries_tall.min_region", "truck_small.crops1"])
def test_automatic_mask_generator_matches_upstream(sam_tiny, name):
    golden = json.loads((DATA / "sam-tiny" / "amg" / f"{name}.json").read_text())
    image = read_safetensors(DATA / "sam-tiny" / "cases" / f"{golden['image']}.safetensors")["image"]
    generator = segkit.SamAutomaticMaskGenerator(sam_tiny, **golden["params"], output_mode="uncompressed_rle")
    records = generator.generate(image)
    assert len(records) == golden["num_masks"] == len(golden["annotations"])
    for i, (got, want) in enumerate(zip(records, golden["annotations"])):
        assert set(got) == set(want), i
        a, b = rle_to_mask(got["segmentation"]), rle_to_mask(want["segmentation"])
        assert np.logical_and(a, b).sum() >= 0.99 * np.logical_or(a, b).sum(), i
        assert got["predicted_iou"] == pytest.approx(want["predicted_iou"], abs=1e-4), i
        assert got["stability_score"] == pytest.approx(want["stability_score"], abs=1e-4), i
        assert np.allclose(got["point_coords"], want["point_coords"], rtol=0, atol=1e-9), i
        assert got["crop_box"] == want["crop_box"], i
        assert np.allclose(got["bbox"], want["bbox"], atol=2), i
        assert got["area"] == pytest.approx(want["area"], abs=0.01 * want["area"] + 1), i
        assert got["area"] == int(a.sum()), i


def test_automatic_mask_generator_output_modes(sam_tiny, dog):
    params = dict(points_per_side=4, pred_iou_thresh=-1.0, stability_score_thresh=0.2)
    binary = segkit.SamAutomaticMaskGenerator(sam_tiny, **params).generate(dog)
    rle = segkit.SamAutomaticMaskGenerator(sam_tiny, **params, output_mode="uncompressed_rle").generate(dog)
    coco = segkit.SamAutomaticMaskGenerator(sam_tiny, **params, output_mode="coco_rle").generate(dog)
    assert len(binary) == len(rle) == len(coco) > 0
    for b, r, c in zip(binary, rle, coco):
        assert b["segmentation"].dtype == np.bool_ and b["segmentation"].shape == (534, 800)
        np.testing.assert_array_equal(b["segmentation"], rle_to_mask(r["segmentation"]))
        assert c["segmentation"]["size"] == [534, 800] and isinstance(c["segmentation"]["counts"], str)
        assert b["area"] == int(b["segmentation"].sum())


def test_automatic_mask_generator_refuses_bad_parameters(sam_tiny):
    with pytest.raises(ValueError, match="^points_per_side"):
        segkit.SamAutomaticMaskGenerator(sam_tiny, points_per_side=0)
    with pytest.raises(ValueError, match="^crop_overlap_ratio"):
        segkit.SamAutomaticMaskGenerator(sam_tiny, crop_overlap_ratio=1.0)
    with pytest.raises(TypeError, match="points_per_side"):
        segkit.SamAutomaticMaskGenerator(sam_tiny, points_per_side=8.5)
    with pytest.raises(ValueError, match="point_grids"):
        segkit.SamAutomaticMaskGenerator(sam_tiny, point_grids=[np.zeros((4, 2))])
    with pytest.raises(ValueError, match="output_mode|binary_mask"):
        segkit.SamAutomaticMaskGenerator(sam_tiny, output_mode="polygons")
