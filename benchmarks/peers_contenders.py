"""What users would run instead of ``skyscan detect``, each around skyscan's own ONNX model
and decoder, so only the pipeline differs. Run by ``bench_peers.py``, one fresh process per
measurement:

    python benchmarks/peers_contenders.py sahi|loop INPUT OUT.json --plan defaults|same

``sahi``
    SAHI's ``get_sliced_prediction`` on each image with a ``DetectionModel`` subclass whose
    inference is skyscan's detector on one slice. ``defaults``: what a SAHI user sets and
    leaves (slices of the model's input size, 256 px, SAHI's default 0.2 overlap, its
    default full-image pass, GREEDYNMM merge); ``same``: skyscan's default chip plan
    (chip side and overlap, or one slice of the whole image where skyscan fits one chip
    to it), no full-image pass.
``loop``
    A plain rasterio loop: one open dataset per image, a window read per chip, the model
    on that chip, boxes shifted to the image, one class-aware NMS at the end.
    ``defaults``: 256 px chips with 0.2 overlap; ``same``: skyscan's own windows.

Each writes its detections (pixel boxes, score, class) to OUT.json, as a user keeps them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

LEGACY_CHIP, LEGACY_OVERLAP = 256, 0.2  # the defaults skyscan had before chips came from the model


def images_of(path: Path) -> list[Path]:
    return sorted(path.glob("*.tif")) if path.is_dir() else [path]


def skyscan_plan(path: Path, card: Any) -> tuple[Any, list[Any]]:
    """One image's header and the chip windows skyscan's default plan reads from it."""
    from skyscan.io.reader import open_image
    from skyscan.pipeline import DetectOptions, plan_units

    ref = open_image(str(path))
    return ref, [w for u in plan_units(ref, card, DetectOptions()) for w in u.windows]


def skyscan_slices(path: Path, detector: Any) -> tuple[int, float]:
    """SAHI's slice side and overlap for skyscan's default plan of one image: the image
    itself when skyscan fits one chip to it (SAHI clips a slice to the image, so without
    skyscan's edge pad), else skyscan's chip side and overlap."""
    from skyscan.pipeline import DetectOptions, chip_plan

    card = detector.card
    ref, windows = skyscan_plan(path, card)
    if len([w for w in windows if not w.border_only]) == 1:
        return max(ref.width, ref.height), 0.0
    return chip_plan(ref, card, DetectOptions())


def make_sahi_model(detector: Any, image_size: int) -> Any:
    """A SAHI ``DetectionModel`` whose inference is ``detector`` on one slice.

    A slice the model takes as it is (square, a multiple of the card's size multiple) runs
    as it is; any other image (SAHI's full-image pass, a short edge slice) is letterboxed
    to ``image_size``, as SAHI's own wrappers (YOLO, torchvision) do."""
    import cv2
    from sahi.models.base import DetectionModel
    from sahi.prediction import ObjectPrediction

    card = detector.card
    multiple = card.size_multiple or card.input_size[0]

    class Model(DetectionModel):  # type: ignore[misc]
        def load_model(self) -> None:
            self.set_model(detector)

        def set_model(self, model: Any, **kwargs: Any) -> None:
            self.model = model
            self.category_mapping = {str(i): n for i, n in enumerate(card.class_names)}

        def perform_inference(self, image: npt.NDArray[np.uint8]) -> None:
            h, w = image.shape[:2]
            if h == w and h % multiple == 0 and h <= 2 * image_size:
                chip, scale = image, 1.0
            else:  # letterbox: longer side to image_size, pad the rest with black
                scale = image_size / max(h, w)
                small = cv2.resize(
                    image,
                    (max(1, round(w * scale)), max(1, round(h * scale))),
                    interpolation=cv2.INTER_AREA,
                )
                chip = np.zeros((image_size, image_size, 3), np.uint8)
                chip[: small.shape[0], : small.shape[1]] = small
            self._original_predictions = (self.model.detect_batch(chip[None])[0], scale)

        def _create_object_prediction_list_from_original_predictions(
            self,
            shift_amount_list: Any = [[0, 0]],  # noqa: B006 (SAHI's signature)
            full_shape_list: Any = None,
        ) -> None:
            from sahi.utils.compatibility import fix_full_shape_list, fix_shift_amount_list

            dets, scale = self._original_predictions
            shifts, fulls = (
                fix_shift_amount_list(shift_amount_list),
                fix_full_shape_list(full_shape_list),
            )
            shift = shifts[0] if shifts else [0, 0]
            full = fulls[0] if fulls else None
            out = []
            for box, score, label in zip(dets.boxes / scale, dets.scores, dets.labels, strict=True):
                x0, y0, x1, y1 = (float(v) for v in box)
                if x1 - x0 <= 0 or y1 - y0 <= 0:
                    continue
                out.append(
                    ObjectPrediction(
                        bbox=[x0, y0, x1, y1],
                        category_id=int(label),
                        category_name=card.class_names[int(label)],
                        score=float(score),
                        shift_amount=list(shift),
                        full_shape=list(full) if full is not None else None,
                    )
                )
            self._object_prediction_list_per_image = [out]

    return Model(confidence_threshold=card.score_threshold, device="cpu", image_size=image_size)


def run_sahi(inputs: list[Path], plan: str) -> list[dict[str, Any]]:
    from sahi.predict import get_sliced_prediction

    from skyscan.detectors import DetectorRecipe, get_detector

    detector = get_detector(DetectorRecipe())
    full_pass = plan == "defaults"
    model = make_sahi_model(detector, LEGACY_CHIP if full_pass else detector.card.chip_size(None))
    rows = []
    for path in inputs:
        if full_pass:
            size, overlap = LEGACY_CHIP, LEGACY_OVERLAP
        else:
            size, overlap = skyscan_slices(path, detector)
        result = get_sliced_prediction(
            str(path),
            model,
            slice_height=size,
            slice_width=size,
            overlap_height_ratio=overlap,
            overlap_width_ratio=overlap,
            perform_standard_pred=full_pass,
            verbose=0,
        )
        rows.extend({"image": path.name, **a} for a in result.to_coco_annotations())
    return rows


def run_loop(inputs: list[Path], plan: str) -> list[dict[str, Any]]:
    import rasterio
    from rasterio.windows import Window

    from skyscan.chips import plan_chips
    from skyscan.detectors import DetectorRecipe, get_detector
    from skyscan.detectors.merge import nms

    detector = get_detector(DetectorRecipe())
    card = detector.card
    rows: list[dict[str, Any]] = []
    for path in inputs:
        with rasterio.open(path) as src:
            if plan == "defaults":
                windows = plan_chips(
                    src.width,
                    src.height,
                    chip_src=LEGACY_CHIP,
                    out_size=LEGACY_CHIP,
                    overlap=LEGACY_OVERLAP,
                )
            else:
                _, windows = skyscan_plan(path, card)
            boxes, scores, labels = [], [], []
            for win in windows:
                chip = src.read(
                    [1, 2, 3],
                    window=Window(win.col_off, win.row_off, win.width, win.height),
                    boundless=True,
                    fill_value=0,
                )
                d = detector.detect_batch(np.ascontiguousarray(chip.transpose(1, 2, 0))[None])[0]
                boxes.append(d.boxes + np.array([win.col_off, win.row_off] * 2, np.float32))
                scores.append(d.scores)
                labels.append(d.labels)
        b, s, lab = np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)
        keep = nms(b, s, lab, card.nms_iou)
        rows.extend(
            {
                "image": path.name,
                "bbox": b[k].round(2).tolist(),
                "score": float(s[k]),
                "category_id": int(lab[k]),
            }
            for k in keep
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("contender", choices=["sahi", "loop"])
    parser.add_argument("input", type=Path, help="a GeoTIFF or a folder of them")
    parser.add_argument("out", type=Path, help="detections JSON")
    parser.add_argument("--plan", choices=["defaults", "same"], default="defaults")
    args = parser.parse_args()
    t0 = time.perf_counter()
    run = run_sahi if args.contender == "sahi" else run_loop
    rows = run(images_of(args.input), args.plan)
    args.out.write_text(json.dumps(rows))
    print(json.dumps({"detections": len(rows), "job_s": round(time.perf_counter() - t0, 3)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
