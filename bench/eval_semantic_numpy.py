#!/usr/bin/env python3
"""NumPy reference for bench_eval_semantic: the usual bincount confusion-matrix evaluation
(as in many segmentation code bases) over the raw uint8 label maps the C++ bench wrote.
Prints one JSON line; when numpy is missing, a line saying so."""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gt", required=True)
    ap.add_argument("--pred", required=True)
    ap.add_argument("--images", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--num-labels", type=int, required=True)
    ap.add_argument("--ignore-index", type=int, default=255)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    try:
        import numpy as np
    except ImportError:
        print(json.dumps({"bench": "eval_semantic", "impl": "numpy", "skipped": "numpy is not installed"}))
        return 0

    n = args.num_labels
    shape = (args.images, args.height, args.width)
    gts = np.fromfile(args.gt, dtype=np.uint8).reshape(shape)
    preds = np.fromfile(args.pred, dtype=np.uint8).reshape(shape)

    def evaluate():
        # Same counting rule as segkit / evaluate's mean_iou: ignored gt dropped, labels outside
        # [0, n) in no class (an extra bin n collects them and is cut away).
        hist = np.zeros((n + 1) * (n + 1), dtype=np.int64)
        for gt, pred in zip(gts, preds):
            valid = gt != args.ignore_index
            g = np.minimum(gt[valid].astype(np.int64), n)
            p = np.minimum(pred[valid].astype(np.int64), n)
            hist += np.bincount(g * (n + 1) + p, minlength=(n + 1) * (n + 1))
        cm = hist.reshape(n + 1, n + 1)
        intersect = np.diag(cm)[:n]
        area_label = cm[:n, :].sum(axis=1)
        area_pred = cm[:, :n].sum(axis=0)
        union = area_pred + area_label - intersect
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = intersect / union
        return intersect, union, np.nanmean(iou)

    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        intersect, union, miou = evaluate()
        best = min(best, time.perf_counter() - t0)
    mpx = args.images * args.height * args.width / 1e6
    print(json.dumps({
        "bench": "eval_semantic", "impl": "numpy", "numpy": np.__version__, "threads": 1,
        "seconds": best, "mpx_per_s": mpx / best, "mpx_per_s_per_core": mpx / best,
        "mean_iou": float(miou), "area_intersect": [int(v) for v in intersect],
        "area_union": [int(v) for v in union]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
