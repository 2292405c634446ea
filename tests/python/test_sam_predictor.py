"""segkit.SamPredictor against segment-anything's SamPredictor outputs (tests/data/sam-tiny/cases),
with the tolerances of the C++ golden test (tests/unit/models/sam/sam_golden_test.cpp)."""
import numpy as np
import pytest

import segkit


def relative_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b.astype(np.float64)), 1e-12))


def test_every_prompt_case_matches_upstream(sam_tiny, sam_cases):
    predictor = segkit.SamPredictor(sam_tiny)
    cases = 0
    for image, f, entry in sam_cases:
        predictor.set_image(f["image"])
        assert predictor.original_size == f["image"].shape[:2]
        for prompt in entry["prompts"]:
            name = prompt["name"]
            masks, iou, low = predictor.predict(
                point_coords=f.get(f"{name}.point_coords"),
                point_labels=f.get(f"{name}.point_labels"),
                box=f.get(f"{name}.box"),
                mask_input=f.get(f"{name}.mask_input"),
                multimask_output=prompt["multimask_output"],
            )
            where = f"{image}/{name}"
            want_masks = f[f"{name}.masks"]
            assert masks.dtype == np.bool_ and masks.shape == want_masks.shape, where
            assert iou.dtype == np.float32 and low.dtype == np.float32, where
            np.testing.assert_allclose(iou, f[f"{name}.iou_predictions"], atol=1e-4, err_msg=where)
            assert low.shape == f[f"{name}.low_res_logits"].shape, where
            assert relative_l2(low, f[f"{name}.low_res_logits"]) < 1e-3, where
            assert np.mean(masks == (want_masks != 0)) >= 0.999, where
            logits, _, _ = predictor.predict(
                point_coords=f.get(f"{name}.point_coords"),
                point_labels=f.get(f"{name}.point_labels"),
                box=f.get(f"{name}.box"),
                mask_input=f.get(f"{name}.mask_input"),
                multimask_output=prompt["multimask_output"],
                return_logits=True,
            )
            assert logits.dtype == np.float32 and logits.shape == want_masks.shape, where
            if f"{name}.mask_logits" in f:
                assert relative_l2(logits, f[f"{name}.mask_logits"]) < 1e-3, where
            cases += 1
    assert cases == 21


def test_image_embedding_matches_upstream(sam_tiny, sam_cases):
    predictor = segkit.SamPredictor(sam_tiny)
    _, f, _ = sam_cases[0]
    predictor.set_image(f["image"])
    embedding = predictor.get_image_embedding()
    assert embedding.shape == (1, *f["image_embeddings"].shape)
    assert relative_l2(embedding[0], f["image_embeddings"]) < 1e-3


def test_bgr_input_and_python_lists_give_the_same_prediction(sam_tiny, dog):
    predictor = segkit.SamPredictor(sam_tiny)
    predictor.set_image(dog)
    want = predictor.predict(point_coords=np.array([[120.0, 80.0]]), point_labels=np.array([1]), box=[30, 40, 240, 180])
    predictor.set_image(np.ascontiguousarray(dog[..., ::-1]), image_format="BGR")
    got = predictor.predict(point_coords=[[120, 80]], point_labels=[1], box=(30, 40, 240, 180))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_single_mask_and_mask_input_round_trip(sam_tiny, dog):
    predictor = segkit.SamPredictor(sam_tiny)
    predictor.set_image(dog)
    masks, iou, low = predictor.predict(point_coords=[[200, 150]], point_labels=[1])
    assert masks.shape == (3, 534, 800) and iou.shape == (3,)
    best = int(np.argmax(iou))
    refined, iou1, low1 = predictor.predict(
        point_coords=[[200, 150], [60, 40]], point_labels=[1, 0], mask_input=low[best][None], multimask_output=False
    )
    assert refined.shape == (1, 534, 800) and iou1.shape == (1,) and low1.shape == (1, *low.shape[1:])


def test_results_own_their_memory(sam_tiny, dog):
    predictor = segkit.SamPredictor(sam_tiny)
    predictor.set_image(dog)
    masks, iou, low = predictor.predict(point_coords=[[10, 10]], point_labels=[1])
    del predictor
    masks[0, 0, 0] = not masks[0, 0, 0]  # writable and alive after the predictor is gone
    assert np.isfinite(low).all() and np.isfinite(iou).all()


def test_reset_image_and_predict_without_image_raise_runtime_error(sam_tiny, dog):
    predictor = segkit.SamPredictor(sam_tiny)
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(point_coords=[[1, 1]], point_labels=[1])
    predictor.set_image(dog)
    assert predictor.is_image_set
    predictor.reset_image()
    assert not predictor.is_image_set
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.get_image_embedding()


def test_threads_sharing_a_predictor_get_consistent_results(sam_tiny, dog):
    from concurrent.futures import ThreadPoolExecutor

    predictor = segkit.SamPredictor(sam_tiny)
    predictor.set_image(dog)
    want = predictor.predict(point_coords=[[200, 150]], point_labels=[1])

    def work(i):
        if i % 4 == 3:
            predictor.set_image(dog)  # the same image again, while others predict
            return None
        return predictor.predict(point_coords=[[200, 150]], point_labels=[1])

    with ThreadPoolExecutor(4) as pool:
        results = [r for r in pool.map(work, range(16)) if r is not None]
    for got in results:
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
