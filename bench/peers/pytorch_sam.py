#!/usr/bin/env python3
"""PyTorch peer for bench/compare_peers.sh: the official segment-anything code (a checkout at
--reference) with random weights, timed the way `segkit bench` times segkit. Prints one JSON line.

The model parts are called exactly as upstream's SamPredictor calls them (preprocess + image
encoder; prompt encoder + mask decoder + postprocess_masks), so torchvision, which upstream
imports only for its input transforms and NMS, is optional."""
import argparse
import json
import statistics
import sys
import time
import types


def stub_torchvision():
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    names = ["torchvision", "torchvision.transforms", "torchvision.transforms.functional", "torchvision.ops",
             "torchvision.ops.boxes"]
    mods = {n: types.ModuleType(n) for n in names}
    mods["torchvision.transforms.functional"].resize = None
    mods["torchvision.transforms.functional"].to_pil_image = None
    mods["torchvision.ops.boxes"].batched_nms = None
    mods["torchvision.ops.boxes"].box_area = None
    sys.modules.update(mods)


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def median_ms(repeat, fn):
    fn()  # warm-up, as segkit bench
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="checkout of facebookresearch/segment-anything")
    ap.add_argument("--variant", default="vit_b")
    ap.add_argument("--height", type=int, default=1200)
    ap.add_argument("--width", type=int, default=1800)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    a = ap.parse_args()

    sys.path.insert(0, a.reference)
    stub_torchvision()
    import torch
    from segment_anything import sam_model_registry

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t = time.perf_counter()
    sam = sam_model_registry[a.variant]().eval()
    load_ms = (time.perf_counter() - t) * 1000
    size = sam.image_encoder.img_size
    scale = size / max(a.height, a.width)
    in_h, in_w = int(a.height * scale + 0.5), int(a.width * scale + 0.5)
    image = torch.randint(0, 256, (1, 3, in_h, in_w)).float()
    out = {"peer": "pytorch", "torch": torch.__version__, "variant": a.variant, "precision": a.precision,
           "threads": a.threads, "repeat": a.repeat, "load_ms": load_ms, "note": "random init, no checkpoint file"}

    with torch.inference_mode():
        def encode():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
                return sam.image_encoder(sam.preprocess(image))
        reset_peak()
        out["encoder_ms"] = median_ms(a.repeat, encode)
        out["encoder_peak_rss_mb"] = peak_rss_mb()
        emb = encode().float()
        pe = sam.prompt_encoder.get_dense_pe()

        def decode(coords, labels, postprocess):
            sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
            low, iou = sam.mask_decoder(image_embeddings=emb, image_pe=pe, sparse_prompt_embeddings=sparse,
                                        dense_prompt_embeddings=dense, multimask_output=True)
            if postprocess:
                masks = sam.postprocess_masks(low, (in_h, in_w), (a.height, a.width))
                return masks > sam.mask_threshold
            return low

        one = torch.tensor([[[in_w / 2.0, in_h / 2.0]]])
        grid = torch.tensor([[[(i % 8 + 0.5) / 8 * in_w, (i // 8 + 0.5) / 8 * in_h]] for i in range(64)])
        reset_peak()
        out["decoder_ms"] = median_ms(a.repeat, lambda: decode(one, torch.ones(1, 1, dtype=torch.int), True))
        out["decoder_batch64_ms"] = median_ms(a.repeat, lambda: decode(grid, torch.ones(64, 1, dtype=torch.int), False))
        out["decoder_peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
