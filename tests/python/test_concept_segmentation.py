"""pipeline("promptable-concept-segmentation") and Sam3Model on the tiny SAM 3: transformers'
post-processed instances from the fixture (scores, boxes, masks) in its pipeline's structure and
order, the same instances as `segkit predict --text`, prompt forms, and refused input."""
import json
import subprocess

import numpy as np
import pytest
from PIL import Image

import segkit
from segkit import pipeline

from conftest import DATA, SAM_TINY, read_safetensors

SAM3 = DATA / "sam3" / "model"
SYNTH = DATA / "sam3" / "images" / "synth_rgb.png"
SYNTH_RGBA = DATA / "sam3" / "images" / "synth_rgba.png"
# transformers 5.17's Sam3Processor output for the phrase on this image (tests/data/sam3/README.md).
CASE, PHRASE = "synth_rgb_text1", "yellow truck"


@pytest.fixture(scope="module")
def sam3():
    return segkit.load_model(SAM3)


@pytest.fixture(scope="module")
def fixture_case():
    """The case's kept instances (scores, boxes, masks) and its score threshold."""
    path = DATA / "sam3" / "mask_cases.safetensors"
    tensors = read_safetensors(path)
    header_size = int.from_bytes(path.read_bytes()[:8], "little")
    metadata = json.loads(path.read_bytes()[8 : 8 + header_size])["__metadata__"]
    pp = f"{CASE}/pp.b0.inst."
    shape = tensors[pp + "masks_shape"].tolist()
    bits = np.unpackbits(tensors[pp + "masks_packed"].view(np.uint8), bitorder="little")
    return {
        "threshold": json.loads(metadata["thresholds"])[CASE]["score"],
        "scores": tensors[pp + "scores"],
        "boxes": tensors[pp + "boxes"],
        "masks": bits[: int(np.prod(shape))].reshape(shape).astype(bool),
    }


def test_pipeline_gives_transformers_instances_highest_score_first(sam3, fixture_case):
    found = pipeline("promptable-concept-segmentation", model=sam3)(SYNTH, text=PHRASE,
                                                                     threshold=fixture_case["threshold"])
    order = np.argsort(-fixture_case["scores"], kind="stable")
    assert len(found) == len(order) > 1
    for result, k in zip(found, order):
        assert set(result) == {"score", "box", "mask", "label"}
        assert result["label"] == PHRASE
        assert isinstance(result["score"], float)
        assert result["score"] == pytest.approx(float(fixture_case["scores"][k]), abs=1e-4)
        box = fixture_case["boxes"][k]
        ours = [result["box"][key] for key in ("xmin", "ymin", "xmax", "ymax")]
        assert all(isinstance(v, int) for v in ours)
        for value, reference in zip(ours, box):
            # torch's .int() truncates; a box within 1e-3 px of an integer may land either side.
            if abs(reference - round(reference)) > 1e-3:
                assert value == int(reference)
            else:
                assert abs(value - reference) <= 1 + 1e-3
        assert result["mask"].dtype == bool and result["mask"].shape == (150, 200)
        assert (result["mask"] == fixture_case["masks"][k]).mean() >= 0.999
    assert [r["score"] for r in found] == sorted((r["score"] for r in found), reverse=True)


def test_sam3_model_segment_is_query_order(sam3, fixture_case):
    assert isinstance(sam3, segkit.Sam3Model)
    r = sam3.segment(segkit.load_image(SYNTH), text=PHRASE, threshold=fixture_case["threshold"])
    assert r["text"] == PHRASE and not r["truncated"]
    assert list(r["queries"]) == sorted(r["queries"])
    np.testing.assert_allclose(r["scores"], fixture_case["scores"], atol=1e-4)
    np.testing.assert_allclose(r["boxes"], fixture_case["boxes"], atol=1e-3)
    assert r["masks"].shape == fixture_case["masks"].shape


def test_same_instances_as_segkit_predict(sam3, segkit_cli, tmp_path):
    out = tmp_path / "found.json"
    subprocess.run([str(segkit_cli), "predict", "-m", str(SAM3), "-i", str(SYNTH), "-t", PHRASE, "--threshold", "0.15",
                    "-o", str(out), "-q", "--threads", str(segkit.num_threads())], check=True)
    records = sorted(json.loads(out.read_text()), key=lambda r: -r["score"])
    found = pipeline("promptable-concept-segmentation", model=sam3, threshold=0.15)(SYNTH, text=PHRASE)
    assert len(found) == len(records) > 0
    for result, record in zip(found, records):
        assert record["label"] == PHRASE
        assert result["score"] == pytest.approx(record["score"], abs=1e-6)
        assert int(result["mask"].sum()) == record["area"]


def test_defaults_top_k_and_pipeline_defaults(sam3):
    pipe = pipeline("promptable-concept-segmentation", model=sam3)
    at_defaults = pipe(SYNTH, text=PHRASE)
    assert at_defaults == [] or min(r["score"] for r in at_defaults) > 0.3
    low = pipe(SYNTH, text=PHRASE, threshold=0.1)
    assert len(low) > 3
    assert [r["score"] for r in pipe(SYNTH, text=PHRASE, threshold=0.1, top_k=3)] == [r["score"] for r in low[:3]]
    assert len(pipeline("promptable-concept-segmentation", model=sam3, threshold=0.1, top_k=2)(SYNTH, text=PHRASE)) == 2
    fewer_pixels = pipe(SYNTH, text=PHRASE, threshold=0.1, mask_threshold=0.9)
    assert sum(r["mask"].sum() for r in fewer_pixels) < sum(r["mask"].sum() for r in low)


def test_boxes_alone_have_no_label_and_take_each_form(sam3):
    pipe = pipeline("promptable-concept-segmentation", model=sam3, threshold=0.1)
    nested = pipe(SYNTH, input_boxes=[[[10, 60, 70, 140]]], input_boxes_labels=[[1]])
    assert nested and all("label" not in r for r in nested)
    for boxes, labels in (([[10, 60, 70, 140]], [1]), ([10, 60, 70, 140], 1), (np.array([[10, 60, 70, 140]]), None)):
        again = pipe(SYNTH, input_boxes=boxes, input_boxes_labels=labels)
        assert [r["score"] for r in again] == [r["score"] for r in nested]
    negative = pipe(SYNTH, text=PHRASE, input_boxes=[[[10, 60, 70, 140]]], input_boxes_labels=[[0]])
    assert all(r["label"] == PHRASE for r in negative)
    assert [r["score"] for r in negative] != [r["score"] for r in pipe(SYNTH, text=PHRASE)]


def test_inputs_path_pil_array_lists_and_dicts(sam3):
    pipe = pipeline("promptable-concept-segmentation", model=sam3, threshold=0.1)
    by_path = pipe(SYNTH, text=PHRASE)
    scores = [r["score"] for r in by_path]
    assert [r["score"] for r in pipe(Image.open(SYNTH), text=PHRASE)] == scores
    assert [r["score"] for r in pipe(segkit.load_image(SYNTH), text=PHRASE)] == scores
    both = pipe([SYNTH, str(SYNTH_RGBA)], text=[PHRASE, "truck"])
    assert len(both) == 2 and [r["score"] for r in both[0]] == scores
    assert all(r["label"] == "truck" for r in both[1])
    broadcast = pipe([SYNTH, SYNTH], text=PHRASE)
    assert [[r["score"] for r in rs] for rs in broadcast] == [scores, scores]
    dicts = pipe([{"image": SYNTH, "text": PHRASE}, {"image": SYNTH, "input_boxes": [[[10, 60, 70, 140]]]}])
    assert [r["score"] for r in dicts[0]] == scores and all("label" not in r for r in dicts[1])
    assert [r["score"] for r in pipe({"image": SYNTH, "text": PHRASE})] == scores


def test_refused_input(sam3):
    pipe = pipeline("promptable-concept-segmentation", model=sam3)
    with pytest.raises(ValueError, match="at least one prompt"):
        pipe(SYNTH)
    with pytest.raises(TypeError, match="unexpected keyword argument 'subtask'"):
        pipe(SYNTH, text=PHRASE, subtask="panoptic")
    with pytest.raises(ValueError, match="top_k"):
        pipe(SYNTH, text=PHRASE, top_k=0)
    with pytest.raises(ValueError, match="input_boxes_labels: expected 2 labels"):
        pipe(SYNTH, input_boxes=[[[1, 1, 50, 50], [60, 60, 90, 90]]], input_boxes_labels=[[1]])
    with pytest.raises(ValueError, match="input_boxes: expected"):
        pipe(SYNTH, input_boxes=[[[1, 1, 50]]])
    with pytest.raises(ValueError, match="box_labels: expected 1 \\(positive\\) or 0"):
        sam3.segment(segkit.load_image(SYNTH), boxes=[1, 1, 50, 50], box_labels=[2])
    with pytest.raises(ValueError, match="text: 1 entries for 2 images"):
        pipe([SYNTH, SYNTH], text=[PHRASE])
    with pytest.raises(ValueError, match="give text, boxes or both"):
        sam3.segment(segkit.load_image(SYNTH))
    with pytest.raises(ValueError, match="needs a SAM 3 model"):
        pipeline("promptable-concept-segmentation", model=SAM_TINY)
    with pytest.raises(ValueError, match="needs a SAM 3 model"):
        segkit.Sam3Model.load(SAM_TINY)
    with pytest.raises(ValueError, match="URLs are not supported"):
        pipe("https://example.com/truck.jpg", text=PHRASE)
