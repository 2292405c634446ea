"""segkit.evaluate gives the reference libraries' numbers: the golden cases of tests/data/metrics
(Hugging Face evaluate's mean_iou, pycocotools' COCOeval, panopticapi's pq_compute), the same
numbers as `segkit eval` on the same files, evaluate's quirks, and clear errors."""
import json
import math
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from segkit import _native, evaluate

from conftest import DATA

METRICS = DATA / "metrics"
CASES = json.loads((METRICS / "index.json").read_text())["cases"]
MEAN_IOU_KEYS = ["mean_iou", "mean_accuracy", "overall_accuracy", "per_category_iou", "per_category_accuracy"]
COCO_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def cases(kind):
    found = [c for c in CASES if c["kind"] == kind]
    assert found, kind
    return pytest.mark.parametrize("case", found, ids=[c["name"] for c in found])


def load_case(case):
    path = METRICS / case["path"]
    return path.parent, json.loads(path.read_text())


def values(x):
    """A number, a list (JSON null as NaN) or an array as a float64 array."""
    return np.array([math.nan if v is None else v for v in np.ravel(np.asarray(x, dtype=object))], dtype=np.float64)


def assert_close(got, want, what, tol=1e-9):
    g, w = values(got), values(want)
    assert g.shape == w.shape, what
    assert np.allclose(g, w, rtol=0, atol=tol, equal_nan=True), f"{what}: {g} != {w}"


def semantic_inputs(folder, case):
    preds = [np.array(Image.open(folder / image["pred"])) for image in case["images"]]
    refs = [np.array(Image.open(folder / image["gt"])) for image in case["images"]]
    return preds, refs


def semantic_options(case):
    return dict(num_labels=case["num_labels"], ignore_index=case["ignore_index"], nan_to_num=case["nan_to_num"],
                label_map=None if case["label_map"] is None else [tuple(p) for p in case["label_map"]],
                reduce_labels=case["reduce_labels"])


def reference_mean_iou(predictions, references, num_labels, ignore_index, nan_to_num=None, label_map=None,
                       reduce_labels=False):
    """evaluate's mean_iou written out in NumPy from tests/data/metrics/FIXTURES.md §1."""
    n = num_labels
    inter, pred_area, label_area = (np.zeros(n, np.int64) for _ in range(3))
    for p, g in zip(predictions, references):
        p, g = np.asarray(p).astype(np.int64).ravel(), np.asarray(g).astype(np.int64).ravel()
        for old, new in (label_map.items() if isinstance(label_map, dict) else label_map or []):
            g[g == old] = new
        if reduce_labels:
            g[g == 0] = 255
            g = g - 1
            g[g == 254] = 255
        keep = g != ignore_index
        p, g = p[keep], g[keep]
        p_in, g_in = (p >= 0) & (p < n), (g >= 0) & (g < n)
        pred_area += np.bincount(p[p_in], minlength=n)
        label_area += np.bincount(g[g_in], minlength=n)
        inter += np.bincount(g[g_in & (p == g)], minlength=n)
    union = pred_area + label_area - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou, acc = inter / union, inter / label_area
        overall = inter.sum() / label_area.sum()
    mean = lambda v: math.nan if np.isnan(v).all() else float(np.nanmean(v))  # noqa: E731
    out = {"mean_iou": mean(iou), "mean_accuracy": mean(acc), "overall_accuracy": float(overall),
           "per_category_iou": iou, "per_category_accuracy": acc}
    if nan_to_num is not None:
        out = {k: np.nan_to_num(v, nan=nan_to_num) for k, v in out.items()}
    return out


def run_cli(cli, *args):
    done = subprocess.run([str(cli), *map(str, args), "--json", "-"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------------------------------------
# mean_iou


@cases("semantic")
def test_mean_iou_gives_the_fixtures_numbers(case):
    folder, c = load_case(case)
    preds, refs = semantic_inputs(folder, c)
    got = evaluate.mean_iou(preds, refs, **semantic_options(c))
    assert list(got) == MEAN_IOU_KEYS
    for key in ("mean_iou", "mean_accuracy", "overall_accuracy"):
        assert type(got[key]) is float, key
    for key in ("per_category_iou", "per_category_accuracy"):
        assert got[key].dtype == np.float64 and got[key].shape == (c["num_labels"],), key
    for key, want in c["expected"]["mean_iou"].items():
        assert_close(got[key], want, key)


@cases("semantic")
def test_the_counts_behind_mean_iou_are_the_fixtures(case):
    folder, c = load_case(case)
    preds, refs = semantic_inputs(folder, c)
    o = semantic_options(c)
    got = _native.evaluate_semantic(preds, refs, o["num_labels"], o["ignore_index"], o["nan_to_num"],
                                    o["label_map"], o["reduce_labels"])
    e = c["expected"]
    for key in ("total_area_intersect", "total_area_union", "total_area_pred_label", "total_area_label"):
        assert got[key].tolist() == e[key], key
    for key in ("num_evaluated_pixels", "num_gt_out_of_range_pixels", "num_pred_out_of_range_pixels"):
        assert got[key] == e[key], key
    assert_close(got["per_category_dice"], e["dice_per_class"], "dice")
    assert_close(got["mean_dice"], e["mean_dice"], "mean_dice")


@cases("semantic")
@pytest.mark.parametrize("convert", ["int64", "int16", "uint32", "mixed", "lists"])
def test_mean_iou_is_the_same_for_every_integer_dtype(case, convert):
    """Pairs segkit cannot read in place go through class codes; the numbers must not change."""
    folder, c = load_case(case)
    preds, refs = semantic_inputs(folder, c)
    if convert == "int16" and max(int(a.max()) for a in preds + refs) > 32767:
        pytest.skip("labels beyond int16")
    if convert == "mixed":  # a model's int64 argmax against PNG references
        preds = [p.astype(np.int64) for p in preds]
    elif convert == "lists":
        preds, refs = [p.tolist() for p in preds], [r.tolist() for r in refs]
    else:
        preds, refs = [p.astype(convert) for p in preds], [r.astype(convert) for r in refs]
    got = evaluate.mean_iou(preds, refs, **semantic_options(c))
    for key, want in c["expected"]["mean_iou"].items():
        assert_close(got[key], want, key)


@cases("semantic")
def test_mean_iou_equals_segkit_eval_semantic(case, segkit_cli, tmp_path):
    folder, c = load_case(case)
    for d in ("pred", "gt"):
        (tmp_path / d).mkdir()
    for i, image in enumerate(c["images"]):  # the CLI matches the two folders by file name
        shutil.copy(folder / image["pred"], tmp_path / "pred" / f"{i:03d}.png")
        shutil.copy(folder / image["gt"], tmp_path / "gt" / f"{i:03d}.png")
    args = ["eval", "semantic", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt",
            "--num-labels", c["num_labels"], "--ignore-index", c["ignore_index"], "-q"]
    if c["reduce_labels"]:
        args.append("--reduce-labels")
    if c["nan_to_num"] is not None:
        args += ["--nan-to-num", c["nan_to_num"]]
    if c["label_map"] is not None:
        (tmp_path / "map.json").write_text(json.dumps(c["label_map"]))
        args += ["--label-map", tmp_path / "map.json"]
    cli = run_cli(segkit_cli, *args)
    got = evaluate.mean_iou(*semantic_inputs(folder, c), **semantic_options(c))
    for key in MEAN_IOU_KEYS:
        assert_close(got[key], cli[key], key, tol=0)


@pytest.mark.parametrize("seed", range(12))
def test_mean_iou_matches_a_numpy_reference_on_random_label_maps(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    dtype = [np.uint8, np.uint16, np.int32, np.int8, np.int16, np.int64, np.uint32, np.uint64][seed % 8]
    low = -3 if np.dtype(dtype).kind == "i" else 0
    top = min(255, int(np.iinfo(dtype).max))
    options = dict(num_labels=n, ignore_index=int(rng.choice([top, n, 0, -1 if low else top])),
                   nan_to_num=[None, 0.0, -1.0][seed % 3], reduce_labels=bool(seed % 4 == 1),
                   label_map={int(rng.integers(0, n + 3)): int(rng.integers(-1, n + 2)) for _ in range(2)}
                   if seed % 2 else None)
    shapes = [tuple(rng.integers(1, 30, size=2)) for _ in range(int(rng.integers(1, 4)))]
    preds = [rng.integers(low, n + 3, size=s).astype(dtype) for s in shapes]
    refs = [rng.integers(low, n + 3, size=s).astype(dtype) for s in shapes]
    for r in refs:  # some ignored pixels, and 255 for reduce_labels
        r[rng.random(r.shape) < 0.1] = options["ignore_index"]
        r[rng.random(r.shape) < 0.05] = top
    got = evaluate.mean_iou(preds, refs, **options)
    want = reference_mean_iou(preds, refs, **options)
    for key in MEAN_IOU_KEYS:
        assert_close(got[key], want[key], key, tol=1e-12)


def test_ignore_index_drops_the_pixel_whatever_the_prediction():
    got = evaluate.mean_iou([np.array([[0, 1], [1, 2]])], [np.array([[0, 9], [1, 9]])], num_labels=3, ignore_index=9)
    # Left: class 0 and 1 each right once; the two ignored pixels count nowhere; class 2 absent.
    assert got["per_category_iou"][:2].tolist() == [1.0, 1.0]
    assert math.isnan(got["per_category_iou"][2]) and got["mean_iou"] == 1.0 and got["overall_accuracy"] == 1.0


def test_label_map_applies_to_references_only_and_in_order():
    pred, ref = np.array([[10, 1, 1]], np.uint8), np.array([[10, 10, 20]], np.uint8)
    got = evaluate.mean_iou([pred], [ref], num_labels=3, ignore_index=255, label_map={10: 20, 20: 1})
    # References become [1, 1, 1]; the prediction's 10 is not mapped, so it misses.
    assert got["per_category_iou"][1] == 2 / 3 and got["per_category_accuracy"][1] == 2 / 3
    assert got["overall_accuracy"] == 2 / 3
    same = evaluate.mean_iou([pred], [ref], num_labels=3, ignore_index=255, label_map=[(10, 20), (20, 1)])
    np.testing.assert_array_equal(same["per_category_iou"], got["per_category_iou"])


def test_reduce_labels_shifts_references_only():
    pred = np.array([[0, 1, 2, 5]], np.uint8)
    ref = np.array([[1, 2, 0, 255]], np.uint8)  # -> 0, 1, ignored (255), ignored (255 stays)
    got = evaluate.mean_iou([pred], [ref], num_labels=3, ignore_index=255, reduce_labels=True)
    assert got["per_category_iou"][:2].tolist() == [1.0, 1.0] and math.isnan(got["per_category_iou"][2])
    assert got["overall_accuracy"] == 1.0


def test_nan_to_num_replaces_nan_after_the_means():
    pred, ref = np.array([[0, 0]]), np.array([[0, 1]])
    plain = evaluate.mean_iou([pred], [ref], num_labels=3, ignore_index=255)
    assert math.isnan(plain["per_category_iou"][2]) and math.isnan(plain["per_category_accuracy"][2])
    got = evaluate.mean_iou([pred], [ref], num_labels=3, ignore_index=255, nan_to_num=-1)
    assert got["per_category_iou"].tolist() == [0.5, 0.0, -1.0]
    assert got["mean_iou"] == 0.25  # the mean of 0.5 and 0, taken before NaN became -1
    empty = evaluate.mean_iou([pred], [np.full((1, 2), 255)], num_labels=3, ignore_index=255, nan_to_num=7)
    assert empty["mean_iou"] == empty["mean_accuracy"] == empty["overall_accuracy"] == 7.0


def test_labels_out_of_range_count_in_no_class():
    # A prediction of 7 with 3 classes misses its pixel's class; a reference of 7 (not ignored)
    # leaves the accuracy's denominator but its prediction still counts in the predicted areas.
    got = _native.evaluate_semantic([np.array([[0, 7, 1]], np.int32)], [np.array([[0, 0, 7]], np.int32)], 3, 255)
    assert got["total_area_label"].tolist() == [2, 0, 0]
    assert got["total_area_pred_label"].tolist() == [1, 1, 0]
    assert got["num_gt_out_of_range_pixels"] == 1 and got["num_pred_out_of_range_pixels"] == 1
    assert evaluate.mean_iou([np.array([[0, 7, 1]])], [np.array([[0, 0, 7]])], 3, 255)["overall_accuracy"] == 0.5


def test_wide_labels_are_not_narrowed_into_classes():
    big = [2**32 + 1, 2**40 + 2, -(2**32) + 1]  # 1, 2 and 1 once cut to 32 bits
    pred = np.array([big + [1]], np.int64)
    ref = np.array([[1, 2, 1, 1]], np.int64)
    got = evaluate.mean_iou([pred], [ref], num_labels=3, ignore_index=255)
    assert got["per_category_iou"].tolist()[1:] == [1 / 3, 0.0]
    huge = np.array([[2**64 - 1, 2**63 + 1, 1]], np.uint64)
    got = evaluate.mean_iou([huge], [np.array([[1, 1, 1]], np.uint64)], num_labels=3, ignore_index=2**63 - 1)
    assert got["per_category_accuracy"][1] == 1 / 3
    # Wide references: the ignore index and the label map see the 64-bit value.
    ref = np.array([[2**40, 2**41, 1]], np.int64)
    got = evaluate.mean_iou([np.array([[1, 1, 1]])], [ref], num_labels=3, ignore_index=2**40, label_map={2**41: 1})
    assert got["per_category_iou"][1] == 1.0 and got["overall_accuracy"] == 1.0


def test_any_array_layout_and_byte_order_is_read():
    rng = np.random.default_rng(0)
    preds = [rng.integers(0, 4, (20, 30)).astype(np.uint8)]
    refs = [rng.integers(0, 4, (20, 30)).astype(np.uint8)]
    want = evaluate.mean_iou(preds, refs, 4, 255)
    t = evaluate.mean_iou([np.ascontiguousarray(preds[0].T).T], [np.ascontiguousarray(refs[0].T).T], 4, 255)
    wide_p, wide_r = (np.zeros((20, 60), np.uint8) for _ in range(2))
    wide_p[:, ::2], wide_r[:, ::2] = preds[0], refs[0]
    strided = evaluate.mean_iou([wide_p[:, ::2]], [wide_r[:, ::2]], 4, 255)
    swapped = evaluate.mean_iou([preds[0].astype(">u2")], [refs[0].astype(">i4")], 4, 255)
    boolean = evaluate.mean_iou([preds[0] > 1], [refs[0] > 1], 2, 255)
    as_ints = evaluate.mean_iou([(preds[0] > 1).astype(np.uint8)], [(refs[0] > 1).astype(np.uint8)], 2, 255)
    stacked = evaluate.mean_iou(np.stack(preds), np.stack(refs), 4, 255)  # an N×H×W array is N images
    for got in (t, strided, swapped, stacked):
        np.testing.assert_array_equal(got["per_category_iou"], want["per_category_iou"])
    np.testing.assert_array_equal(boolean["per_category_iou"], as_ints["per_category_iou"])


def test_no_images_give_nan():
    got = evaluate.mean_iou([], [], num_labels=2, ignore_index=255)
    assert math.isnan(got["mean_iou"]) and np.isnan(got["per_category_iou"]).all()


@pytest.mark.parametrize(
    "preds, refs, kwargs, message",
    [
        ([np.zeros((2, 3), int)], [np.zeros((3, 2), int)], {}, r"predictions\[0\] has shape \(2, 3\)"),
        ([np.zeros((2, 2), np.float32)], [np.zeros((2, 2), int)], {}, r"predictions\[0\]: expected integer labels"),
        ([np.zeros((2, 2), int)], [np.zeros((2, 2), float)], {}, r"references\[0\]: expected integer labels"),
        ([np.zeros((2, 2), int)] * 2, [np.zeros((2, 2), int)], {}, "expected as many of each, got 2 and 1"),
        ([np.zeros((2, 2, 1), int)], [np.zeros((2, 2, 1), int)], {}, r"expected a 2-D label map"),
        ([np.zeros(4, int)], [np.zeros(4, int)], {}, r"expected a 2-D label map"),
        ([[["a"]]], [[[0]]], {}, "expected integer labels"),
        ([np.zeros((2, 2), int)], [np.zeros((2, 2), int)], {"num_labels": 0}, "num_labels: expected at least 1"),
        ([np.zeros((2, 2), int)], [np.zeros((2, 2), int)], {"num_labels": 5000}, "between 1 and 4096"),
        ([np.zeros((2, 2), int)], [np.zeros((2, 2), int)], {"label_map": [(1, 2, 3)]}, "label_map"),
        ([np.zeros((2, 2), int)], [np.zeros((2, 2), int)], {"label_map": {1.5: 2}}, "label_map"),
    ],
)
def test_mean_iou_refuses_bad_input(preds, refs, kwargs, message):
    options = {"num_labels": 3, "ignore_index": 255, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate.mean_iou(preds, refs, **options)


def test_the_native_function_refuses_what_the_package_would_convert():
    with pytest.raises(ValueError, match="C-contiguous"):
        _native.evaluate_semantic([np.zeros((4, 4), np.uint8).T[::2]], [np.zeros((2, 4), np.uint8)], 3, 255)
    with pytest.raises(ValueError, match="numpy.ndarray"):
        _native.evaluate_semantic([[[0]]], [np.zeros((1, 1), np.uint8)], 3, 255)
    with pytest.raises(ValueError, match="byte order"):
        _native.evaluate_semantic([np.zeros((1, 1), ">u2")], [np.zeros((1, 1), ">u2")], 3, 255)


# ---------------------------------------------------------------------------------------------
# COCO


@cases("coco_eval")
def test_coco_gives_the_fixtures_numbers(case):
    folder, c = load_case(case)
    got = evaluate.coco(folder / c["gt_json"], folder / c["results_json"])
    e = c["expected"]
    assert e["stats_labels"] == COCO_NAMES
    assert got["stats"].dtype == np.float64 and got["stats"].shape == (12,)
    assert_close(got["stats"], e["stats"], "stats")
    assert [got[name] for name in COCO_NAMES] == got["stats"].tolist()
    for key in ("per_category_ap", "per_category_ap50", "per_category_ar100"):
        assert list(got[key]) == [int(k) for k in e[key]], key
        assert_close(list(got[key].values()), list(e[key].values()), key)
    assert got["per_category_num_gt"] == {int(k): v for k, v in e["per_category_num_gt"].items()}


@cases("coco_eval")
def test_coco_equals_segkit_eval_instance(case, segkit_cli):
    folder, c = load_case(case)
    gt, results = folder / c["gt_json"], folder / c["results_json"]
    cli = run_cli(segkit_cli, "eval", "instance", "--gt", gt, "--results", results)
    got = evaluate.coco(str(gt), str(results), iou_type="segm", threads=1)
    assert got["stats"].tolist() == cli["stats"]
    assert got["per_category_ap"] == {int(k): v for k, v in cli["per_category_ap"].items()}


def test_coco_refuses_what_it_cannot_evaluate(tmp_path):
    folder = METRICS / "coco_eval" / "hand_check"
    with pytest.raises(ValueError, match="iou_type"):
        evaluate.coco(folder / "gt.json", folder / "results.json", iou_type="bbox")
    with pytest.raises(FileNotFoundError, match="results_file"):
        evaluate.coco(folder / "gt.json", tmp_path / "missing.json")
    with pytest.raises(ValueError, match="threads"):
        evaluate.coco(folder / "gt.json", folder / "results.json", threads=-1)
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(ValueError, match="bad.json"):
        evaluate.coco(folder / "gt.json", tmp_path / "bad.json")


# ---------------------------------------------------------------------------------------------
# Panoptic


def panoptic_files(folder, c):
    return folder / c["gt_json"], folder / c["pred_json"], folder / c["gt_folder"], folder / c["pred_folder"]


@cases("panoptic")
def test_panoptic_gives_the_fixtures_numbers(case):
    folder, c = load_case(case)
    got = evaluate.panoptic(*panoptic_files(folder, c))
    e = c["expected"]
    assert list(got) == ["All", "Things", "Stuff", "per_class"]
    for group in ("All", "Things", "Stuff"):
        assert got[group]["n"] == e[group]["n"], group
        for key in ("pq", "sq", "rq"):
            assert_close(got[group][key], e[group][key], f"{group} {key}")
    assert list(got["per_class"]) == [int(k) for k in e["per_class"]]
    for k, want in e["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert_close(got["per_class"][int(k)][key], want[key], f"class {k} {key}")


@cases("panoptic")
def test_panoptic_equals_segkit_eval_panoptic(case, segkit_cli):
    folder, c = load_case(case)
    gt_json, pred_json, gt_dir, pred_dir = panoptic_files(folder, c)
    cli = run_cli(segkit_cli, "eval", "panoptic", "--gt-json", gt_json, "--gt-dir", gt_dir,
                  "--pred-json", pred_json, "--pred-dir", pred_dir)
    got = evaluate.panoptic(gt_json, pred_json, gt_folder=gt_dir, pred_folder=pred_dir, threads=2)
    for group in ("All", "Things", "Stuff"):
        assert_close([got[group][k] for k in ("pq", "sq", "rq", "n")],
                     [cli[group][k] for k in ("pq", "sq", "rq", "n")], group, tol=0)
    assert {str(k): v for k, v in got["per_class"].items()} == cli["per_class"]


def test_panoptic_folders_default_to_the_json_paths_without_json():
    folder = METRICS / "panoptic" / "hand_check"  # gt.json beside gt/, pred.json beside pred/
    assert evaluate.panoptic(folder / "gt.json", folder / "pred.json") == evaluate.panoptic(
        folder / "gt.json", folder / "pred.json", folder / "gt", folder / "pred")


def test_panoptic_gives_nan_for_a_group_without_categories(tmp_path):
    folder = METRICS / "panoptic" / "hand_check"
    gt = json.loads((folder / "gt.json").read_text())
    for category in gt["categories"]:
        category["isthing"] = 1  # no stuff category left
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    got = evaluate.panoptic(tmp_path / "gt.json", folder / "pred.json", folder / "gt", folder / "pred")
    assert got["Stuff"]["n"] == 0 and all(math.isnan(got["Stuff"][k]) for k in ("pq", "sq", "rq"))
    assert got["Things"]["n"] == 3


def test_panoptic_refuses_what_it_cannot_evaluate(tmp_path):
    folder = METRICS / "panoptic" / "hand_check"
    with pytest.raises(FileNotFoundError, match="pred_folder"):
        evaluate.panoptic(folder / "gt.json", folder / "pred.json", folder / "gt", tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="gt_json_file"):
        evaluate.panoptic(tmp_path / "none.json", folder / "pred.json", folder / "gt", folder / "pred")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="image_01.png"):
        evaluate.panoptic(folder / "gt.json", folder / "pred.json", folder / "gt", empty)
