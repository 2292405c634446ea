"""Bad input gives a Python exception with segkit's one-line message, never a crash."""
import numpy as np
import pytest

import segkit

from conftest import DATA, DOG, SAM_TINY


@pytest.fixture(scope="module")
def predictor(sam_tiny, dog):
    p = segkit.SamPredictor(sam_tiny)
    p.set_image(dog)
    return p


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((8, 8, 3), dtype=np.float32), "dtype uint8"),
        (np.zeros((8, 8, 3), dtype=np.int8), "dtype uint8"),
        (np.zeros((8, 8, 3), dtype=bool), "dtype uint8"),
        (np.zeros((8, 8), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((8, 8, 4), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((2, 8, 8, 3), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((0, 8, 3), dtype=np.uint8), "empty"),
        (np.zeros((8, 16, 3), dtype=np.uint8)[:, ::2], "C-contiguous"),
        (np.zeros((3, 8, 8), dtype=np.uint8).transpose(1, 2, 0), "C-contiguous"),
        ([[[0, 0, 0]]], "numpy.ndarray"),
        (None, "numpy.ndarray"),
    ],
)
def test_set_image_refuses_bad_arrays(sam_tiny, image, message):
    p = segkit.SamPredictor(sam_tiny)
    with pytest.raises(ValueError, match=message):
        p.set_image(image)
    assert not p.is_image_set


def test_set_image_refuses_unknown_format(sam_tiny, dog):
    with pytest.raises(ValueError, match="image_format"):
        segkit.SamPredictor(sam_tiny).set_image(dog, image_format="RGBA")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(point_coords=[[1, 2]]), "point_labels must be supplied"),
        (dict(point_labels=[1]), "point_coords must be supplied"),
        (dict(point_coords=[1, 2], point_labels=[1]), r"point_coords: expected shape \(N, 2\)"),
        (dict(point_coords=[[1, 2, 3]], point_labels=[1]), r"point_coords: expected shape \(N, 2\)"),
        (dict(point_coords=[[1, 2]], point_labels=[1, 0]), "point_labels"),
        (dict(point_coords=[[1, 2]], point_labels=[2]), "point_labels"),
        (dict(point_coords="10,20", point_labels=[1]), "point_coords"),
        (dict(point_coords=[["a", "b"]], point_labels=[1]), "point_coords"),
        (dict(point_coords=[[np.nan, 2]], point_labels=[1]), "finite"),
        (dict(box=[1, 2, 3]), "box"),
        (dict(box=[30, 40, 10, 10]), "box"),
        (dict(point_coords=[[1, 2]], point_labels=[1], mask_input=np.zeros((1, 32, 32))), "mask_input"),
        (dict(point_coords=[[1, 2]], point_labels=[1], mask_input=np.zeros((2, 64, 64))), "mask_input"),
    ],
)
def test_predict_refuses_bad_prompts(predictor, kwargs, message):
    with pytest.raises(ValueError, match=message):
        predictor.predict(**kwargs)


def test_predict_accepts_any_numeric_dtype_and_layout(predictor):
    coords = np.array([[200, 150], [60, 40]], dtype=np.int64)
    want = predictor.predict(point_coords=coords.astype(np.float32), point_labels=np.array([1, 0]))
    got = predictor.predict(point_coords=np.asfortranarray(coords), point_labels=np.array([1.0, 0.0]))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such"):
        segkit.load_model(tmp_path / "no-such")
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache"):
        segkit.load_model("no-such-org/no-such-model")
    with pytest.raises(ValueError, match="unknown model format"):
        segkit.load_model(DOG)
    with pytest.raises(ValueError, match="precision"):
        segkit.load_model(SAM_TINY, precision="fp8")
    with pytest.raises(ValueError, match="device 'tpu': expected cpu, cuda or cuda:N"):
        segkit.load_model(SAM_TINY, device="tpu")
    with pytest.raises(TypeError, match="device"):
        segkit.load_model(SAM_TINY, device=True)


def test_devices_are_named_as_transformers_names_them():
    assert segkit.load_model(SAM_TINY, device=-1).family == "sam"  # transformers' CPU
    assert segkit.load_model(SAM_TINY, device=None).family == "sam"
    if "no CUDA here" in _cuda_refusal():  # a CPU build: GPU index 0 is cuda:0, refused in one line
        with pytest.raises(ValueError, match="device 'cuda:0': no CUDA here"):
            segkit.pipeline("mask-generation", model=SAM_TINY, device=0)
        with pytest.raises(ValueError, match="device 'cuda:1': no CUDA here"):
            segkit.load_model(SAM_TINY, device="cuda:1")


def _cuda_refusal():
    try:
        segkit.load_model(SAM_TINY, device="cuda")
    except ValueError as e:
        return str(e)
    return ""


def test_a_model_of_another_family_is_refused():
    model = segkit.load_model(DATA / "mask2former" / "model")
    assert model.family != "sam"
    with pytest.raises(ValueError, match="SAM"):
        segkit.SamPredictor(model)
    with pytest.raises(ValueError, match="SAM"):
        segkit.SamAutomaticMaskGenerator(model)
    with pytest.raises(ValueError, match="SAM"):
        segkit.pipeline("mask-generation", model=model)


def test_load_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        segkit.load_image(tmp_path / "missing.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ValueError, match="broken.png"):
        segkit.load_image(broken)


def test_set_num_threads():
    before = segkit.num_threads()
    segkit.set_num_threads(1)
    assert segkit.num_threads() == 1
    segkit.set_num_threads(before)
