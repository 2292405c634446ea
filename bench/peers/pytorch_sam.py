#!/usr/bin/env python3
"""PyTorch peer for bench/compare_peers.sh: the official segment-anything code (a checkout at
--reference) with random weights, timed the way `segkit bench` times segkit. Prints one JSON line.

The model parts are called exactly as upstream's SamPredictor calls them (preprocess + image
encoder; prompt encoder + mask decoder + postprocess_masks), so torchvision, which upstream
imports only for its input transforms and NMS, is optional for those. With --generate it also times
segment-everything through upstream's SamAutomaticMaskGenerator at its defaults (`generate_ms`,
median of --generate-repeat runs after a warm-up; about 2 minutes a run for ViT-B in fp32 on 2
cores), which needs the real torchvision (Debian python3-torchvision) for its NMS and resizing."""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_reference  # noqa: E402


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
    """Median of `repeat` timed runs after one warm-up."""
    fn()  # warm-up, as segkit bench
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def time_generator(sam, a):
    """Upstream's automatic mask generator at its defaults (32x32 points, 64 per batch), on the
    image as an HxWx3 uint8 array, as upstream's scripts/amg.py passes it."""
    import numpy as np
    import torch
    from segment_anything import SamAutomaticMaskGenerator

    if a.image:
        from PIL import Image
        pixels = np.asarray(Image.open(a.image).convert("RGB"))
    else:
        pixels = np.random.default_rng(0).integers(0, 256, (a.height, a.width, 3), dtype=np.uint8)
    # The smoke variant only checks this script, so it samples a 4x4 grid instead of 32x32.
    generator = SamAutomaticMaskGenerator(sam, **({"points_per_side": 4} if a.variant == "smoke" else {}))
    if a.precision == "bf16":
        # As for encoder_ms above: autocast the image encoder only, and decode from fp32 embeddings
        # (under CPU autocast torch 1.13's mask decoder fails on mixed LayerNorm inputs, and
        # upstream's NMS through torchvision rejects bf16 scores).
        predictor = generator.predictor
        set_image = predictor.set_image

        def autocast_set_image(*args, **kwargs):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                set_image(*args, **kwargs)
            predictor.features = predictor.features.float()

        predictor.set_image = autocast_set_image
    masks = []

    def generate():
        masks[:] = generator.generate(pixels)

    reset_peak()
    with torch.inference_mode():
        ms = median_ms(a.generate_repeat, generate)
    return {"generate_ms": ms, "generate_repeat": a.generate_repeat, "generate_masks": len(masks),
            "generate_peak_rss_mb": peak_rss_mb()}


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive count, got {text}")
    return value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="checkout of facebookresearch/segment-anything")
    ap.add_argument("--variant", default="vit_b", choices=sam_reference.VARIANTS)
    ap.add_argument("--height", type=int, default=1200)
    ap.add_argument("--width", type=int, default=1800)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=positive, default=3)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--generate", action="store_true", help="also time SamAutomaticMaskGenerator at defaults")
    ap.add_argument("--generate-repeat", type=positive, default=1, help="timed generator runs after the warm-up")
    ap.add_argument("--image", help="image for the generator (default: random pixels of --height x --width)")
    a = ap.parse_args()

    has_torchvision = sam_reference.import_reference(a.reference)
    if a.generate and not has_torchvision:
        sys.exit("pytorch_sam.py: --generate needs torchvision (Debian package python3-torchvision)")
    import torch

    torch.set_num_threads(a.threads)
    t = time.perf_counter()
    sam = sam_reference.build(a.variant)
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
    out["peak_rss_mb"] = max(out["encoder_peak_rss_mb"], out["decoder_peak_rss_mb"])

    if a.generate:
        out.update(time_generator(sam, a))
        out["peak_rss_mb"] = max(out["peak_rss_mb"], out["generate_peak_rss_mb"])
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
