"""segkit.unet.train and UNetModel: the CLI's `unet train | predict | eval` from Python, with the
same results, and Python exceptions for bad input."""
import json
import subprocess

import numpy as np
import pytest

import segkit
from conftest import DATA, SAM_TINY

PIL = pytest.importorskip("PIL.Image")

# A few seconds of training on 4 small images: enough to compare Python with the CLI.
TINY = dict(epochs=2, steps_per_epoch=2, batch_size=2, crop=32, depth=2, width=4, lr=5e-3, seed=3, quiet=True)
CLI_TINY = ["--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "2", "--crop", "32", "--depth", "2",
            "--width", "4", "--lr", "5e-3", "--seed", "3", "--quiet"]


@pytest.fixture(scope="module")
def cells():
    """DATA/images and DATA/masks: grey 40×48 images of disks, masks 0/1 (tests/data/unet/README.md)."""
    return DATA / "unet" / "cells"


@pytest.fixture(scope="module")
def run(cells, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return out, segkit.unet.train(data=cells, out=out, **TINY)


def test_train_returns_the_run(run):
    out, result = run
    assert result["epochs_done"] == 2
    assert [e["epoch"] for e in result["log"]] == [1, 2]
    assert all(np.isfinite(e["train_loss"]) for e in result["log"])
    assert result["best"] == str(out / "best.safetensors") and (out / "best.safetensors").exists()
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["train_loss"] for e in logged] == [e["train_loss"] for e in result["log"]]


def test_training_matches_the_cli(cells, run, tmp_path, segkit_cli):
    out, _ = run
    cli_out = tmp_path / "cli-run"
    subprocess.run([str(segkit_cli), "unet", "train", "--data", str(cells), "-o", str(cli_out), *CLI_TINY],
                   check=True)
    python_log = (out / "log.jsonl").read_text().splitlines()
    cli_log = (cli_out / "log.jsonl").read_text().splitlines()
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
    assert [strip(line) for line in python_log] == [strip(line) for line in cli_log]


def test_predict_matches_the_cli(cells, run, tmp_path, segkit_cli):
    out, result = run
    model = segkit.UNetModel.load(result["best"])
    image_path = cells / "images" / "c1.png"
    subprocess.run([str(segkit_cli), "unet", "predict", "-m", result["best"], "-i", str(image_path),
                    "-o", str(tmp_path), "--quiet"], check=True)
    expected = np.asarray(PIL.open(tmp_path / "c1.png"))
    grey = np.asarray(PIL.open(image_path))
    labels = model.predict(grey)["labels"]
    assert labels.dtype == np.int32 and labels.shape == grey.shape
    np.testing.assert_array_equal(labels, expected)
    rgb = np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))  # as a decoded grey file
    np.testing.assert_array_equal(model.predict(rgb)["labels"], expected)


def test_probabilities_and_tiles(cells, run):
    model = segkit.UNetModel.load(run[1]["best"])
    grey = np.asarray(PIL.open(cells / "images" / "c2.png"))
    whole = model.predict(grey, probabilities=True)
    p = whole["probabilities"]
    assert p.shape == (2, *grey.shape) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(p.argmax(axis=0), whole["labels"])
    assert model.predict(grey)["probabilities"] is None
    big = np.ascontiguousarray(np.tile(grey, (4, 4)))  # 160×192: several tiles of 128 (overlap 56)
    np.testing.assert_array_equal(model.predict(big, tile=128)["labels"], model.predict(big)["labels"])


def test_evaluate_matches_the_cli(cells, run, segkit_cli):
    best = run[1]["best"]
    metrics = segkit.UNetModel.load(best).evaluate(cells)
    printed = subprocess.run([str(segkit_cli), "unet", "eval", "-m", best, "--data", str(cells), "--json", "-"],
                             check=True, capture_output=True, text=True).stdout
    cli = json.loads(printed)
    assert metrics["mean_iou"] == pytest.approx(cli["mean_iou"], abs=1e-12)
    assert 0 <= metrics["mean_iou"] <= 1 and metrics["per_category_iou"].shape == (2,)


def test_load_model_gives_a_unet(run, tmp_path):
    model = segkit.load_model(run[1]["best"])
    assert isinstance(model, segkit.UNetModel) and model.family == "unet"
    assert model.classes == 2 and model.in_channels == 1 and model.config["depth"] == 2
    model.save(tmp_path / "copy.safetensors")
    again = segkit.UNetModel.load(tmp_path / "copy.safetensors")
    image = np.full((16, 16), 200, np.uint8)
    np.testing.assert_array_equal(again.predict(image)["labels"], model.predict(image)["labels"])


def test_resume_continues_the_run(cells, tmp_path):
    out = tmp_path / "run"
    segkit.unet.train(data=cells, out=out, **{**TINY, "epochs": 1})
    result = segkit.unet.train(out=out, resume=True, epochs=2, quiet=True)
    assert result["epochs_done"] == 2
    assert len((out / "log.jsonl").read_text().splitlines()) == 2


def test_bad_input(cells, run, tmp_path):
    model = segkit.UNetModel.load(run[1]["best"])
    with pytest.raises(ValueError, match="expected dtype uint8"):
        model.predict(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match=r"expected shape \(H, W\) \(grey\) or \(H, W, 3\)"):
        model.predict(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match="not C-contiguous"):
        model.predict(np.zeros((8, 16), np.uint8)[:, ::2])
    with pytest.raises(ValueError, match="tile"):
        model.predict(np.zeros((8, 8), np.uint8), tile=-2)
    with pytest.raises(FileNotFoundError):
        segkit.UNetModel.load(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="needs a U-Net model"):
        segkit.UNetModel.load(SAM_TINY)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        model.evaluate(tmp_path / "nothing")
    with pytest.raises(ValueError, match="data: required"):
        segkit.unet.train(out=tmp_path / "r")
    with pytest.raises(ValueError, match='upsample: expected one of "transpose", "bilinear"'):
        segkit.unet.train(data=cells, out=tmp_path / "r", upsample="nearest")
    with pytest.raises(ValueError, match="dist_url: .*needs rank and world_size"):
        segkit.unet.train(data=cells, out=tmp_path / "r", dist_url="tcp://127.0.0.1:29500")
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        segkit.unet.train(data=cells, out=tmp_path / "r", augment=["mixup"], **{**TINY, "epochs": 1})
    with pytest.raises(TypeError):
        segkit.unet.train(data=cells, out=tmp_path / "r", epochs="2")
    with pytest.raises(TypeError):
        segkit.unet.train(data=cells, out=tmp_path / "r", val_split="c0")  # a list of stems
    assert not (tmp_path / "r" / "best.safetensors").exists()
