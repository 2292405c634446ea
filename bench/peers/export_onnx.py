#!/usr/bin/env python3
"""ONNX graphs for the ONNX Runtime peer of bench/compare_peers.sh, exported from the official
segment-anything code (a checkout at --reference) with the seeded random weights the PyTorch peer
uses. Writes into --out/<variant>/:

  encoder.onnx        image encoder: `image` 1x3x1024x1024, already resized, normalised and padded
                      (what Sam.preprocess returns) -> `image_embeddings` 1x256x64x64;
  decoder.onnx        the prompt path as upstream's scripts/export_onnx_model.py exports it, with its
                      defaults: SamOnnxModel with return_single_mask off (all mask tokens upscaled to
                      orig_im_size), one prompt set per call, dynamic number of points;
  decoder_batch.onnx  prompt encoder + mask decoder only (no upscaling), with a dynamic prompt
                      dimension as well, to time many prompts in one call as the automatic mask
                      generator batches them; outputs the low-resolution masks and IoU predictions.

All at opset 17 unless --opset says otherwise. Graphs already exported with the same settings are
kept (export.json records them), so a second run costs nothing. Needs only torch (Debian
python3-torch); the `onnx` Python package is not used."""
import argparse
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_reference  # noqa: E402

FORMAT = 1  # bump when the graphs written here change, so cached exports are redone


def export(module, inputs, names, outputs, dynamic_axes, opset, path):
    import torch

    tmp = path + ".tmp"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(module, inputs, tmp, export_params=True, verbose=False, opset_version=opset,
                          do_constant_folding=True, input_names=names, output_names=outputs,
                          dynamic_axes=dynamic_axes)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", required=True, help="checkout of facebookresearch/segment-anything")
    ap.add_argument("--variant", default="vit_b", choices=sam_reference.VARIANTS)
    ap.add_argument("--out", required=True, help="folder; graphs go to OUT/VARIANT/")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads while tracing")
    a = ap.parse_args()

    sam_reference.import_reference(a.reference)
    import torch

    folder = os.path.join(a.out, a.variant)
    stamp_path = os.path.join(folder, "export.json")
    files = ["encoder.onnx", "decoder.onnx", "decoder_batch.onnx"]
    stamp = {"format": FORMAT, "variant": a.variant, "seed": a.seed, "opset": a.opset, "torch": torch.__version__,
             "reference": os.path.abspath(a.reference), "files": files}
    try:
        with open(stamp_path) as f:
            if json.load(f) == stamp and all(os.path.isfile(os.path.join(folder, n)) for n in files):
                print(f"export_onnx: {folder} is up to date", file=sys.stderr)
                return
    except (OSError, ValueError):
        pass
    os.makedirs(folder, exist_ok=True)
    if os.path.exists(stamp_path):
        os.remove(stamp_path)  # graphs below are about to change

    from segment_anything.utils.onnx import SamOnnxModel

    torch.set_num_threads(a.threads)
    sam = sam_reference.build(a.variant, a.seed)
    embed_dim = sam.prompt_encoder.embed_dim
    embed_size = sam.prompt_encoder.image_embedding_size
    size = sam.image_encoder.img_size
    embeddings = torch.randn(1, embed_dim, *embed_size)

    t = time.perf_counter()
    with torch.no_grad():
        export(sam.image_encoder, (torch.randn(1, 3, size, size),), ["image"], ["image_embeddings"], None, a.opset,
               os.path.join(folder, "encoder.onnx"))
    print(f"export_onnx: encoder.onnx in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    # As upstream's export script: same module, inputs, names and dynamic axes.
    onnx_model = SamOnnxModel(model=sam, return_single_mask=False)
    dummy = {
        "image_embeddings": embeddings,
        "point_coords": torch.randint(low=0, high=1024, size=(1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(low=0, high=4, size=(1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, *[4 * x for x in embed_size]),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float),
    }
    export(onnx_model, tuple(dummy.values()), list(dummy), ["masks", "iou_predictions", "low_res_masks"],
           {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}, a.opset,
           os.path.join(folder, "decoder.onnx"))

    class DecoderBatch(torch.nn.Module):
        """Upstream's traceable point embedding, then the mask decoder on P prompts at once, with no
        mask input (the no-mask embedding, as the prompt encoder uses when masks is None)."""

        def __init__(self):
            super().__init__()
            self.onnx_model = onnx_model

        @torch.no_grad()
        def forward(self, image_embeddings, point_coords, point_labels):
            sparse = self.onnx_model._embed_points(point_coords, point_labels)
            dense = sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, *embed_size)
            return sam.mask_decoder.predict_masks(image_embeddings=image_embeddings,
                                                  image_pe=sam.prompt_encoder.get_dense_pe(),
                                                  sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense)

    points = {"point_coords": {0: "prompts", 1: "num_points"}, "point_labels": {0: "prompts", 1: "num_points"}}
    export(DecoderBatch(), (embeddings, dummy["point_coords"].repeat(3, 1, 1), dummy["point_labels"].repeat(3, 1)),
           ["image_embeddings", "point_coords", "point_labels"], ["low_res_masks", "iou_predictions"],
           {**points, "low_res_masks": {0: "prompts"}, "iou_predictions": {0: "prompts"}}, a.opset,
           os.path.join(folder, "decoder_batch.onnx"))
    with open(stamp_path + ".tmp", "w") as f:
        json.dump(stamp, f)
    os.replace(stamp_path + ".tmp", stamp_path)
    print(f"export_onnx: wrote {folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
