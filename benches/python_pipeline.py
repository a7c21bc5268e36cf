"""The Python reference pipeline for the end-to-end benchmark (benches/e2e.rs): the same stages
as `streetwatch replay --detect-fps 0` on the same footage, model and thread count — OpenCV
decode, letterbox + normalisation in numpy, ONNX Runtime, the family decoder + class-aware NMS
of tests/reference.py — the way Frigate-style Python systems are built.

    python benches/python_pipeline.py --manifest models/nanodet.toml --model M.onnx --threads 1 VIDEO

prints one JSON object: frames, fps, median ms per stage, peak RSS (MB).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from reference import DECODERS, Reference, nms, preprocess  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-frames", type=int, default=0)
    ap.add_argument("video")
    a = ap.parse_args()
    ref = Reference(a.manifest, a.model, a.threads)
    inp, dec = ref.m["input"], ref.m["decode"]
    cap = cv2.VideoCapture(a.video)
    times = {"decode": [], "preprocess": [], "inference": [], "postprocess": []}
    frames = 0
    t_start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        ok, frame = cap.read()
        if not ok:
            break
        t1 = time.perf_counter()
        x, (sx, sy, left, top) = preprocess(frame, inp)
        t2 = time.perf_counter()
        outputs = ref.sess.run(ref.output_names, {inp["name"]: x})
        t3 = time.perf_counter()
        boxes, scores, classes = DECODERS[ref.m["family"]](outputs, inp, dec, len(ref.m["classes"]))
        sel = np.nonzero(scores > dec["score_threshold"])[0]
        boxes, scores, classes = boxes[sel].copy(), scores[sel], classes[sel]
        h, w = frame.shape[:2]
        boxes[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - left) / sx, 0, w)
        boxes[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - top) / sy, 0, h)
        nms(boxes.tolist(), scores.tolist(), classes.tolist(), dec["nms_iou"], dec["max_detections"])
        t4 = time.perf_counter()
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[k].append(v * 1000.0)
        frames += 1
        if a.max_frames and frames >= a.max_frames:
            break
    wall = time.perf_counter() - t_start
    print(json.dumps({
        "frames": frames,
        "fps": frames / wall if wall > 0 else 0.0,
        "ms": {k: statistics.median(v) if v else 0.0 for k, v in times.items()},
        "p95_ms": {k: float(np.percentile(v, 95)) if v else 0.0 for k, v in times.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
