"""U-Net from Python: ``segkit unet train`` as ``segkit.unet.train``, checkpoints as ``UNetModel``.

    import segkit
    run = segkit.unet.train(data="cells/", out="run/", epochs=20, crop=128)
    model = segkit.UNetModel.load(run["best"])
    labels = model.predict(image)["labels"]      # H×W int32 class indices

The options are the CLI's, with underscores for dashes and Python values for flags
(docs/unet.md, docs/python.md).
"""
from . import _native

UNetModel = _native.UNetModel


def train(**options):
    """Trains a U-Net on ``data`` (``data/images/*`` and ``data/masks/*`` matched by stem) into
    the run folder ``out``, as ``segkit unet train`` does, with its options as keywords:
    ``val``, ``val_split`` (a list of stems), ``classes``, ``epochs`` (0: 50, or the run's own with
    ``resume=True``), ``steps_per_epoch``, ``batch_size``, ``lr``, ``weight_decay``, ``crop``,
    ``depth``, ``width``, ``upsample`` ("transpose", "bilinear"), ``padding`` ("same", "valid"),
    ``batch_norm``, ``loss`` ("ce", "dice", "ce+dice"), ``class_weights``, ``border_weight``,
    ``border_sigma``, ``ema``, ``dropout``, ``augment`` (a list of "flip", "rot90", "elastic",
    "intensity"), ``seed``, ``precision`` ("fp32", "bf16"), ``resume``, ``quiet``; data-parallel:
    ``dist_url``, ``rank``, ``world_size``, ``dist_timeout`` (or a launcher's variables, as the CLI
    reads them; docs/distributed.md), ``sync_batch_norm``.

    Returns ``{"epochs_done", "log": [one dict per epoch, as log.jsonl], "best", "last"}`` (the
    checkpoints' paths). ValueError for bad options or data, KeyboardInterrupt after saving the
    run's state on Ctrl-C (continue with ``resume=True``).
    """
    return _native.unet_train(**options)


def load(path):
    """``UNetModel.load(path)``: a checkpoint of ``segkit unet train`` (or an ensemble)."""
    return UNetModel.load(path)


__all__ = ["UNetModel", "load", "train"]
