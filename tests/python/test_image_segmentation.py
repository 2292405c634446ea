"""pipeline("image-segmentation") and Mask2FormerModel on the tiny Mask2Former: the segments of
`segkit segment` (labels, scores, masks) in transformers' structure and order, transformers'
pipeline defaults, and refused input."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import segkit
from segkit import pipeline

from conftest import DATA, SAM_TINY, read_safetensors

MASK2FORMER = DATA / "mask2former" / "model"
IMG0 = DATA / "mask2former" / "inputs" / "img0.png"


@pytest.fixture(scope="module")
def mask2former():
    return segkit.load_model(MASK2FORMER)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A folder with the fixture image and the dog at half size (the tiny model gives two
    semantic classes there, one on img0)."""
    folder = tmp_path_factory.mktemp("images")
    Image.open(IMG0).save(folder / "img0.png")
    dog = segkit.load_image(DATA / "server" / "dog.jpg")
    Image.fromarray(np.ascontiguousarray(dog[::2, ::2])).save(folder / "dog_half.png")
    return folder


def coco_rle_counts(text):
    """The run lengths of a COCO compressed RLE string (pycocotools' rleFrString)."""
    counts, p = [], 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def coco_rle_mask(rle):
    h, w = rle["size"]
    counts = coco_rle_counts(rle["counts"])
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    return np.repeat(values, counts).reshape(w, h).T


def cli_segments(cli, folder, out, subtask, flags, labels):
    """`segkit segment` over the folder: per image stem, a list of (label, score, H×W bool mask)
    in the CLI's order; score None where the CLI's files carry none (semantic, panoptic). It runs
    on as many threads as this process (float sums, and so the 6th decimal of scores, can depend
    on the count; the CLI uses every core by default)."""
    subprocess.run([str(cli), "segment", "-m", str(MASK2FORMER), "--input", str(folder), "--task", subtask,
                    "-o", str(out), "-q", "--threads", str(segkit.num_threads()), *flags], check=True)
    result = {}
    for image in sorted(folder.iterdir()):
        stem = image.stem
        if subtask == "semantic":
            classes = np.asarray(Image.open(out / f"{stem}.png")).astype(np.int64)
            result[stem] = [(labels[c], None, classes == c) for c in np.unique(classes)]
        elif subtask == "instance":
            records = json.loads((out / "instances" / f"{stem}.json").read_text())
            result[stem] = [(labels[r["category_id"]], r["score"], coco_rle_mask(r["segmentation"])) for r in records]
        else:
            rgb = np.asarray(Image.open(out / f"{stem}.png")).astype(np.int64)
            ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
            info = json.loads((out / "segments" / f"{stem}.json").read_text())["segments_info"]
            result[stem] = [(labels[s["category_id"]], None, ids == s["id"]) for s in info]
    return result


def as_bool(mask):
    assert isinstance(mask, Image.Image) and mask.mode == "L"
    a = np.asarray(mask)
    assert set(np.unique(a)) <= {0, 255}
    return a == 255


# (subtask, pipeline parameters, `segkit segment` flags): the same post-processing.
CASES = [
    ("semantic", {}, []),
    ("instance", dict(threshold=0.0), ["--threshold", "0"]),
    ("instance", dict(threshold=0.35), ["--threshold", "0.35"]),
    ("panoptic", dict(threshold=0.0), ["--threshold", "0", "--overlap-mask-area-threshold", "0.5"]),
    ("panoptic", dict(threshold=0.3, mask_threshold=0.1, overlap_mask_area_threshold=0.0),
     ["--threshold", "0.3", "--mask-threshold", "0.1", "--overlap-mask-area-threshold", "0"]),
    (None, dict(threshold=0.0, overlap_mask_area_threshold=0.8), ["--threshold", "0"]),  # subtask None: panoptic
]


@pytest.mark.parametrize("subtask, params, flags", CASES)
def test_each_subtask_gives_the_segments_of_segkit_segment(mask2former, images, segkit_cli, tmp_path,
                                                           subtask, params, flags):
    cli = cli_segments(segkit_cli, images, tmp_path / "out", subtask or "panoptic", flags, mask2former.labels)
    pipe = pipeline("image-segmentation", model=mask2former, subtask=subtask)
    segments = 0
    for image in sorted(images.iterdir()):
        got = pipe(str(image), **params)
        want = cli[image.stem]
        assert [o["label"] for o in got] == [label for label, _, _ in want], image.stem
        assert all(set(o) == {"score", "label", "mask"} for o in got)
        masks = [as_bool(o["mask"]) for o in got]
        assert all(m.shape == want[0][2].shape for m in masks)
        if subtask == "instance":
            # transformers' masks are where the id map shows the instance: later instances
            # cover earlier ones. The CLI writes each instance's whole mask.
            assert [o["score"] for o in got] == [score for _, score, _ in want]
            covered = np.zeros_like(masks[0]) if masks else None
            for mask, (_, _, whole) in reversed(list(zip(masks, want))):
                np.testing.assert_array_equal(mask, whole & ~covered)
                covered |= whole
        else:
            for mask, (_, _, cli_mask) in zip(masks, want):
                np.testing.assert_array_equal(mask, cli_mask)
        if subtask == "semantic":
            assert all(o["score"] is None for o in got)
        else:
            assert all(isinstance(o["score"], float) for o in got)
        segments += len(got)
    assert segments >= 3  # the case shows something to compare
    if subtask == "semantic":
        assert len(cli["dog_half"]) == 2


def test_panoptic_scores_are_transformers(mask2former):
    """The CLI writes no panoptic scores: they are checked against transformers' per-query scores
    and labels of the fixture (kept queries in query order, rounded to 6 decimals)."""
    case = read_safetensors(DATA / "mask2former" / "cases" / "img0_hub.safetensors")
    scores, labels = case["post.panoptic.pred_scores"][0], case["post.panoptic.pred_labels"][0]
    got = pipeline("image-segmentation", model=mask2former)(IMG0, threshold=0.0)
    assert len(got) >= 5
    queries = iter(range(len(scores)))
    for o in got:
        q = next(q for q in queries if abs(o["score"] - round(float(scores[q]), 6)) <= 1.5e-6)
        assert o["label"] == mask2former.labels[labels[q]]


def test_defaults_are_transformers_pipeline(mask2former, images):
    pipe = pipeline("image-segmentation", model=mask2former)
    # threshold 0.9: the tiny model's best panoptic score is about 0.63, so nothing is kept
    # (0.5, Mask2FormerImageProcessor's default, keeps six).
    assert pipe(IMG0) == []
    assert len(pipe(IMG0, threshold=0.5)) == 6
    # mask_threshold 0.5.
    six = pipe(IMG0, threshold=0.0)
    assert len(six) == len(pipe(IMG0, threshold=0.0, mask_threshold=0.5)) == 6
    assert len(pipe(IMG0, threshold=0.0, mask_threshold=0.3)) == 0
    # overlap_mask_area_threshold 0.5 (the processor's 0.8 keeps nothing here).
    dog = images / "dog_half.png"
    assert len(pipe(dog, threshold=0.0, mask_threshold=0.3)) == 1
    assert len(pipe(dog, threshold=0.0, mask_threshold=0.3, overlap_mask_area_threshold=0.5)) == 1
    assert len(pipe(dog, threshold=0.0, mask_threshold=0.3, overlap_mask_area_threshold=0.8)) == 0
    # subtask None is panoptic, the first a Mask2Former processor has.
    assert [o["score"] for o in six] == [o["score"] for o in pipe(IMG0, subtask="panoptic", threshold=0.0)]
    # Defaults given to pipeline() apply to each call, and the call's own win.
    semantic = pipeline("image-segmentation", model=mask2former, subtask="semantic")
    assert [o["score"] for o in semantic(IMG0)] == [None]
    assert len(semantic(IMG0, subtask="instance", threshold=0.0)) == 12


def test_label_ids_to_fuse_lists_each_fused_query_as_transformers(mask2former, images, segkit_cli, tmp_path):
    road = mask2former.labels.index("road")
    cli = cli_segments(segkit_cli, images, tmp_path / "out", "panoptic",
                       ["--threshold", "0", "--mask-threshold", "0.1", "--overlap-mask-area-threshold", "0",
                        "--label-ids-to-fuse", str(road)], mask2former.labels)
    pipe = pipeline("image-segmentation", model=mask2former, label_ids_to_fuse=[road])
    for image in sorted(images.iterdir()):
        got = pipe(image, threshold=0.0, mask_threshold=0.1, overlap_mask_area_threshold=0.0)
        fused = [o for o in got if o["label"] == "road"]
        assert len(fused) > 1  # one entry per fused query, all with the one merged mask
        assert all(np.array_equal(as_bool(o["mask"]), as_bool(fused[0]["mask"])) for o in fused)
        unique, seen = [], set()  # the CLI lists each segment once, where it first appears
        for o in got:
            mask = as_bool(o["mask"])
            if mask.tobytes() not in seen:
                seen.add(mask.tobytes())
                unique.append((o["label"], mask))
        want = cli[image.stem]
        assert [label for label, _ in unique] == [label for label, _, _ in want]
        for (_, mask), (_, _, cli_mask) in zip(unique, want):
            np.testing.assert_array_equal(mask, cli_mask)


def test_inputs_path_pil_array_and_lists(mask2former):
    pipe = pipeline("image-segmentation", model=str(MASK2FORMER), subtask="instance", threshold=0.0)
    want = pipe(IMG0)
    array = segkit.load_image(IMG0)
    inputs = [str(IMG0), Image.open(IMG0), array, IMG0]
    results = pipe(inputs)
    assert isinstance(results, list) and len(results) == len(inputs)
    for got in results:
        assert isinstance(got, list) and len(got) == len(want) > 0
        for a, b in zip(got, want):
            assert a["label"] == b["label"] and a["score"] == b["score"]
            np.testing.assert_array_equal(np.asarray(a["mask"]), np.asarray(b["mask"]))
    assert pipe([]) == []
    assert len(pipe((array, array))) == 2


def test_mask2former_model(mask2former):
    assert isinstance(mask2former, segkit.Mask2FormerModel) and isinstance(mask2former, segkit.Model)
    assert mask2former.family == "mask2former"
    assert mask2former.labels == ["person", "car", "dog", "sky", "road", "grass", "wall"]
    assert isinstance(segkit.Mask2FormerModel.load(MASK2FORMER, precision="fp32"), segkit.Mask2FormerModel)
    assert not isinstance(segkit.load_model(SAM_TINY), segkit.Mask2FormerModel)
    image = segkit.load_image(IMG0)
    r = mask2former.segment(image, "instance", threshold=0.0)
    assert set(r) == {"ids", "segments", "instance_masks"}
    ids, masks = r["ids"], r["instance_masks"]
    assert ids.dtype == np.int32 and ids.shape == (341, 512) and ids.flags.c_contiguous
    assert ids.base is not None and not ids.flags.owndata  # a view of segkit's buffer, kept by its owner
    assert masks.dtype == np.bool_ and masks.shape == (len(r["segments"]), 341, 512)
    assert set(r["segments"][0]) == {"id", "label_id", "score", "was_fused"}
    for k, s in enumerate(r["segments"]):
        assert s["id"] == k
        assert np.all(masks[k][ids == k])
    panoptic = mask2former.segment(image, "panoptic", threshold=0.0, overlap_mask_area_threshold=0.8)
    assert panoptic["instance_masks"] is None and len(panoptic["segments"]) == 6  # transformers' count
    semantic = mask2former.segment(image, "semantic")
    assert [s["score"] for s in semantic["segments"]] == [None]
    # Mask2FormerImageProcessor's defaults: threshold 0.5, overlap 0.8.
    assert len(mask2former.segment(image, "panoptic")["segments"]) == 6


def test_wrong_family_is_refused_both_ways(mask2former, sam_tiny):
    with pytest.raises(ValueError, match="Mask2Former"):
        pipeline("image-segmentation", model=SAM_TINY)
    with pytest.raises(ValueError, match="Mask2Former"):
        pipeline("image-segmentation", model=sam_tiny)
    with pytest.raises(ValueError, match="SAM"):
        pipeline("mask-generation", model=MASK2FORMER)
    with pytest.raises(ValueError, match="SAM"):
        pipeline("mask-generation", model=mask2former)
    with pytest.raises(ValueError, match="Mask2Former"):
        segkit.Mask2FormerModel.load(SAM_TINY)
    with pytest.raises(ValueError, match="SAM"):
        segkit.SamPredictor(mask2former)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((8, 8, 3), dtype=np.float32), "dtype uint8"),
        (np.zeros((8, 8, 3), dtype=np.uint16), "dtype uint8"),
        (np.zeros((8, 8), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((8, 8, 4), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((1, 8, 8, 3), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((0, 8, 3), dtype=np.uint8), "empty"),
        (np.zeros((8, 16, 3), dtype=np.uint8)[:, ::2], "C-contiguous"),
        (42, "image"),
        ("https://example.com/cat.png", "URL"),
    ],
)
def test_bad_images_are_refused(mask2former, image, message):
    pipe = pipeline("image-segmentation", model=mask2former)
    with pytest.raises(ValueError, match=message):
        pipe(image)
    with pytest.raises(ValueError, match=message):
        pipe([segkit.load_image(IMG0), image])


def test_bad_parameters_are_refused(mask2former):
    pipe = pipeline("image-segmentation", model=mask2former)
    with pytest.raises(ValueError, match="subtask"):
        pipe(IMG0, subtask="depth")
    with pytest.raises(ValueError, match="subtask"):
        pipeline("image-segmentation", model=mask2former, subtask="Panoptic")
    with pytest.raises(TypeError, match="points_per_batch"):
        pipe(IMG0, points_per_batch=4)
    with pytest.raises(TypeError, match="known: subtask"):
        pipeline("image-segmentation", model=mask2former, task_inputs=["panoptic"])
    with pytest.raises(ValueError, match="label 7"):
        pipe(IMG0, label_ids_to_fuse=[7])
    with pytest.raises(TypeError, match="label_ids_to_fuse"):
        pipe(IMG0, label_ids_to_fuse=4)
    with pytest.raises(TypeError):
        pipe(IMG0, threshold="high")
    with pytest.raises(FileNotFoundError):
        pipe(DATA / "no-such-image.png")
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        pipeline("image-segmentation", model="/no-such-model")
    with pytest.raises(ValueError, match="model"):
        pipeline("image-segmentation")
    with pytest.raises(ValueError, match="task"):
        mask2former.segment(segkit.load_image(IMG0), "depth")


def test_without_pillow_the_pipeline_says_what_to_install(mask2former, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` fails as if it were not installed
    with pytest.raises(ImportError, match="python3-pil.*Pillow"):
        pipeline("image-segmentation", model=mask2former)
