"""Shared by the peer scripts: import the official segment-anything code from a checkout and build a
model of a given variant with seeded random weights (no checkpoint file), so that every peer built
from the same seed runs the same weights.

`smoke` is not a SAM size: a 2-block, 64-wide image encoder with the standard 1024 input and the
standard prompt encoder and mask decoder, only for checking the peer scripts in seconds."""
import sys
import types


def stub_torchvision():
    """Upstream imports torchvision in its transforms and in the automatic mask generator. The
    encoder and decoder timings never call those functions, so where python3-torchvision is not
    installed, empty modules let the imports succeed; the generator needs the real package."""
    try:
        import torchvision  # noqa: F401
        return True
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
    return False


def import_reference(path):
    """Puts the checkout first on sys.path; returns whether the real torchvision is there."""
    sys.path.insert(0, path)
    return stub_torchvision()


VARIANTS = ("vit_b", "vit_l", "vit_h", "smoke")


def build(variant, seed=0):
    import importlib

    import torch
    from segment_anything import sam_model_registry

    torch.manual_seed(seed)
    if variant == "smoke":
        # The module, not the function of the same name that the package exports.
        builders = importlib.import_module("segment_anything.build_sam")
        sam = builders._build_sam(encoder_embed_dim=64, encoder_depth=2, encoder_num_heads=2,
                                  encoder_global_attn_indexes=[1])
    else:
        sam = sam_model_registry[variant]()
    return sam.eval()
