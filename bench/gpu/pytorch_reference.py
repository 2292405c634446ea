"""The PyTorch half of issue 26's table: the work segkit_gpu_bench times, in transformers 5.x on
the same card, on random weights of the same shapes. Prints one JSON object.

    python3 bench/gpu/pytorch_reference.py --mask2former-config CONFIG.json [--image truck.jpg] [--repeat 10]

Each item runs on its own: one that fails is reported under "errors" and the rest go on.
"""
import argparse
import json
import sys
import time

import torch


def timed(fn, repeat):
    """Median milliseconds of `repeat` runs after one warm-up, each ended by a device sync."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2]


def sam_model(variant):
    from transformers import SamConfig, SamModel

    vision = {}
    if variant == "vit_h":
        vision = dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, global_attn_indexes=[7, 15, 23, 31])
    config = SamConfig(vision_config=vision)
    with torch.device("cuda"):  # initialised on the GPU: seconds instead of a minute on the CPU
        return SamModel(config).eval()


def sam_encoder(variant, dtype, repeat):
    model = sam_model(variant)
    x = torch.randn(1, 3, 1024, 1024, device="cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
        return timed(lambda: model.vision_encoder(x), repeat)


def sam_decoder(repeat):
    model = sam_model("vit_b")
    with torch.inference_mode():
        embeddings = model.get_image_embeddings(torch.randn(1, 3, 1024, 1024, device="cuda"))
        points = torch.rand(1, 64, 1, 2, device="cuda") * 1024
        labels = torch.ones(1, 64, 1, dtype=torch.long, device="cuda")

        def decode():
            out = model(image_embeddings=embeddings, input_points=points, input_labels=labels, multimask_output=True)
            masks = out.pred_masks[0]  # 64×3×256×256 → the 1200×1800 image, as segkit's decoder bench
            up = torch.nn.functional.interpolate(masks, (1024, 1024), mode="bilinear", align_corners=False)
            return torch.nn.functional.interpolate(up[..., :683, :], (1200, 1800), mode="bilinear", align_corners=False)

        return timed(decode, repeat)


def sam_everything(image_path, repeat):
    from PIL import Image
    from transformers import SamImageProcessor, pipeline

    model = sam_model("vit_b")
    pipe = pipeline("mask-generation", model=model, image_processor=SamImageProcessor(), device=0)
    image = Image.open(image_path).convert("RGB") if image_path else Image.new("RGB", (1800, 1200))
    with torch.inference_mode():
        return timed(lambda: pipe(image), max(1, repeat // 3))


def mask2former(config_path, dtype, repeat):
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation

    config = Mask2FormerConfig.from_json_file(config_path)
    with torch.device("cuda"):
        model = Mask2FormerForUniversalSegmentation(config).eval()
    x = torch.randn(1, 3, 800, 1216, device="cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
        return timed(lambda: model(pixel_values=x), repeat)


def sam3(dtype, repeat):
    from transformers import Sam3Config, Sam3Model

    with torch.device("cuda"):
        model = Sam3Model(Sam3Config()).eval()
    x = torch.randn(1, 3, 1008, 1008, device="cuda")
    ids = torch.randint(1, 1000, (1, 32), device="cuda")
    mask = torch.ones_like(ids)
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
        return timed(lambda: model(pixel_values=x, input_ids=ids, attention_mask=mask), repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--image", default="")
    parser.add_argument("--mask2former-config", default="")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "repeat": args.repeat, "errors": {}}
    items = {
        "sam_vit_b_encoder": lambda: out.update(sam_vit_b_encoder_bf16_ms=sam_encoder("vit_b", "bf16", args.repeat)),
        "sam_vit_h_encoder": lambda: out.update(
            sam_vit_h_encoder_bf16_ms=sam_encoder("vit_h", "bf16", args.repeat),
            sam_vit_h_encoder_fp32_ms=sam_encoder("vit_h", "fp32", args.repeat),
        ),
        "sam_decoder": lambda: out.update(sam_decoder_64_prompts_ms=sam_decoder(args.repeat)),
        "sam_everything": lambda: out.update(sam_everything_vit_b_ms=sam_everything(args.image, args.repeat)),
        "mask2former": lambda: out.update(
            mask2former_swin_t_800x1216_fp32_ms=mask2former(args.mask2former_config, "fp32", args.repeat),
            mask2former_swin_t_800x1216_bf16_ms=mask2former(args.mask2former_config, "bf16", args.repeat),
        ),
        "sam3": lambda: out.update(
            sam3_1008_one_phrase_fp32_ms=sam3("fp32", args.repeat), sam3_1008_one_phrase_bf16_ms=sam3("bf16", args.repeat)
        ),
    }
    for name, run in items.items():
        if only and name not in only:
            continue
        try:
            run()
        except Exception as e:  # one item's failure is reported with the others' results
            out["errors"][name] = f"{type(e).__name__}: {e}"
        torch.cuda.empty_cache()
        print(f"pytorch_reference: {name} done", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
