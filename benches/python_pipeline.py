"""The Python reference pipeline for the end-to-end benchmark (benches/e2e.rs): the same stages
as `streetwatch replay --detect-fps 0` on the same footage, model and thread count — OpenCV
decode, letterbox + normalisation in numpy, ONNX Runtime, the family decoder + class-aware NMS
of tests/reference.py — the way Frigate-style Python systems are built; with --calibration, also
the analytics after detection: a tracker (two-stage IoU association, constant-velocity
prediction; greedy matching where streetwatch solves an assignment), the same image cues with the
same OpenCV calls and parameters as src/cues.rs (two MOG2 models, ghost check, smoke colour,
texture and optical flow where candidates are), and dwell rules in the calibration's zones.

    python benches/python_pipeline.py --manifest models/nanodet.toml --model M.onnx --threads 1 \
        [--calibration calibration/vtest.toml] VIDEO

prints one JSON object: frames, fps, median and p95 ms per stage, peak RSS (MB).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time
import tomllib

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from reference import DECODERS, Reference, nms, preprocess  # noqa: E402

WORK_WIDTH = 320
SHORT_HISTORY, LONG_HISTORY = 25, 1500


def iou_matrix(a, b):
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a, b = np.asarray(a)[:, None, :], np.asarray(b)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


class Tracker:
    """Two-stage IoU tracker: high-score detections first, then low ones for the leftovers;
    constant-velocity box prediction; tracks die after 3 s unseen."""

    def __init__(self, high=0.45, low=0.2):
        self.high, self.low, self.tracks, self.next_id = high, low, [], 1

    def update(self, t, boxes, scores, classes):
        for tr in self.tracks:
            dt = t - tr["t"]
            tr["pred"] = tr["box"] + tr["vel"] * dt
        unmatched = list(range(len(self.tracks)))
        used = set()
        for lo, hi in ((self.high, 2.0), (self.low, self.high)):
            idx = [i for i in range(len(scores)) if lo <= scores[i] < hi]
            if idx and unmatched:
                m = iou_matrix([self.tracks[k]["pred"] for k in unmatched], boxes[idx])
                while m.size and m.max() >= 0.2:
                    r, c = np.unravel_index(np.argmax(m), m.shape)
                    tr, d = self.tracks[unmatched[r]], idx[c]
                    if tr["cls"] != classes[d]:
                        m[r, c] = -1
                        continue
                    dt = max(t - tr["t"], 1e-3)
                    tr["vel"] = 0.7 * tr["vel"] + 0.3 * (boxes[d] - tr["box"]) / dt
                    tr["box"], tr["t"] = boxes[d].copy(), t
                    tr["hist"].append((t, boxes[d].copy()))
                    while tr["hist"] and t - tr["hist"][0][0] > 1.0:
                        tr["hist"].pop(0)
                    used.add(d)
                    m[r, :] = -1
                    m[:, c] = -1
                unmatched = [k for k in unmatched if self.tracks[k]["t"] != t]
        for d in range(len(scores)):
            if d not in used and scores[d] >= self.high + 0.05:
                self.tracks.append({"id": self.next_id, "box": boxes[d].copy(), "vel": np.zeros(4),
                                    "cls": classes[d], "t": t, "hist": [(t, boxes[d].copy())],
                                    "still_since": None})
                self.next_id += 1
        self.tracks = [tr for tr in self.tracks if t - tr["t"] <= 3.0]
        for tr in self.tracks:
            (t0, b0), b1 = tr["hist"][0], tr["box"]
            h = max(b1[3] - b1[1], 1.0)
            speed = np.hypot(*((b1[:2] + b1[2:]) / 2 - (b0[:2] + b0[2:]) / 2)) / h / max(t - t0, 1e-3)
            if speed < 0.15 and t - t0 > 0.5:
                tr["still_since"] = tr["still_since"] if tr["still_since"] is not None else t
            else:
                tr["still_since"] = None
        return self.tracks


def energy(gray):
    lap = cv2.convertScaleAbs(cv2.Laplacian(gray, cv2.CV_16S, ksize=3))
    return cv2.blur(lap, (7, 7))


def morph(img, op, k):
    return cv2.morphologyEx(img, op, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)),
                            borderType=cv2.BORDER_CONSTANT, borderValue=0)


class Analytics:
    """Tracker, cues and dwell rules for one calibration, the same work as streetwatch's."""

    def __init__(self, calibration, high):
        with open(calibration, "rb") as f:
            cal = tomllib.load(f)
        self.scale = WORK_WIDTH / cal["frame_width"]
        self.size = (WORK_WIDTH, round(cal["frame_height"] * self.scale))
        self.zones = []
        for z in cal.get("zones", []):
            poly = np.array(z["polygon"], np.float32)
            mask = np.zeros(self.size[::-1], np.uint8)
            cv2.fillPoly(mask, [np.round(poly * self.scale).astype(np.int32)], 255)
            self.zones.append({"type": z["type"], "poly": poly, "mask": mask,
                               "dwell": z.get("dwell_seconds", 60.0), "hist": []})
        self.short = cv2.createBackgroundSubtractorMOG2(SHORT_HISTORY, 16.0, True)
        self.long = cv2.createBackgroundSubtractorMOG2(LONG_HISTORY, 16.0, True)
        self.tracker = Tracker(high=high)
        self.frames, self.prev_layer = 0, None

    def update(self, t, frame, boxes, scores, classes):
        tracks = self.tracker.update(t, boxes, scores, classes)
        small = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        self.frames += 1
        moving = cv2.threshold(self.short.apply(small), 200, 255, cv2.THRESH_BINARY)[1]
        rate = 1.0 / LONG_HISTORY if self.frames > SHORT_HISTORY else -1.0
        long_fg = cv2.threshold(self.long.apply(small, learningRate=rate), 200, 255, cv2.THRESH_BINARY)[1]
        vending = [z for z in self.zones if z["type"] in ("no_vending", "storefront")]
        out = []
        if vending and self.frames > SHORT_HISTORY:
            stat = cv2.bitwise_and(long_fg, cv2.bitwise_not(moving))
            for tr in tracks:
                if tr["cls"] == 0:
                    b = tr["box"]
                    w, h = b[2] - b[0], b[3] - b[1]
                    x, y = int((b[0] - 0.1 * w) * self.scale), int((b[1] - 0.05 * h) * self.scale)
                    cv2.rectangle(stat, (x, y), (x + int(np.ceil(w * 1.2 * self.scale)) + 1,
                                                 y + int(np.ceil(h * 1.2 * self.scale)) + 1), 0, -1)
            stat = morph(morph(stat, cv2.MORPH_OPEN, 3), cv2.MORPH_CLOSE, 5)
            for z in vending:
                inside = cv2.bitwise_and(stat, z["mask"])
                if cv2.countNonZero(inside) < 4:
                    continue
                bg_gray = cv2.cvtColor(self.long.getBackgroundImage(), cv2.COLOR_BGR2GRAY)
                if cv2.mean(energy(gray), inside)[0] < cv2.mean(energy(bg_gray), inside)[0] * 1.2 + 3:
                    continue
                out.append(("static", cv2.findContours(inside, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]))
        smoke_zones = [z for z in self.zones if z["type"] == "smoke_watch"]
        if smoke_zones and self.frames > 2:
            bg = self.long.getBackgroundImage()
            hc, hb = cv2.split(cv2.cvtColor(small, cv2.COLOR_BGR2HSV)), cv2.split(cv2.cvtColor(bg, cv2.COLOR_BGR2HSV))
            grey = cv2.bitwise_and(cv2.compare(hc[1], 60, cv2.CMP_LT), cv2.compare(hc[2], 90, cv2.CMP_GT))
            whitened = cv2.bitwise_and(cv2.compare(hc[1], cv2.convertScaleAbs(hb[1], alpha=0.85), cv2.CMP_LT),
                                       cv2.compare(hc[2], cv2.convertScaleAbs(hb[2], alpha=1.0, beta=8), cv2.CMP_GT))
            colour = cv2.bitwise_or(grey, whitened)
            bg_gray = cv2.cvtColor(bg, cv2.COLOR_BGR2GRAY)
            blurred_here = cv2.compare(energy(gray), cv2.convertScaleAbs(energy(bg_gray), alpha=0.85), cv2.CMP_LT)
            cand = morph(cv2.bitwise_and(cv2.bitwise_and(long_fg, colour), blurred_here), cv2.MORPH_OPEN, 3)
            layer = cv2.absdiff(gray, bg_gray)
            prev, self.prev_layer = self.prev_layer, layer
            found = []
            for z in smoke_zones:
                inside = cv2.bitwise_and(cand, z["mask"])
                if cv2.countNonZero(inside) >= 4:
                    found.append((z, inside, cv2.boundingRect(inside)))
            if found and prev is not None:
                x0 = max(min(r[0] for _, _, r in found) - 24, 0)
                y0 = max(min(r[1] for _, _, r in found) - 24, 0)
                x1 = min(max(r[0] + r[2] for _, _, r in found) + 24, self.size[0])
                y1 = min(max(r[1] + r[3] for _, _, r in found) + 24, self.size[1])
                flow = cv2.calcOpticalFlowFarneback(prev[y0:y1, x0:x1], layer[y0:y1, x0:x1], None,
                                                    0.5, 3, 15, 3, 5, 1.2, 0)
                for z, inside, _ in found:
                    m = inside[y0:y1, x0:x1] != 0
                    out.append(("smoke", -float(np.median(flow[..., 1][m])) if m.any() else 0.0))
        # Dwell rules: stationary tracks standing in a no-vending zone for its dwell time.
        for z in vending:
            n = 0
            for tr in tracks:
                b = tr["box"]
                foot = (float((b[0] + b[2]) / 2), float(b[3]))
                if tr["still_since"] is not None and t - tr["still_since"] >= z["dwell"] \
                        and cv2.pointPolygonTest(z["poly"], foot, False) >= 0:
                    n += 1
            z["hist"].append((t, n))
            if n:
                out.append(("occupation", n))
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-frames", type=int, default=0)
    ap.add_argument("--calibration", help="also run the analytics for this camera calibration")
    ap.add_argument("video")
    a = ap.parse_args()
    # The same ONNX Runtime settings as streetwatch: idle intra-op threads do not spin.
    ref = Reference(a.manifest, a.model, a.threads, spinning=False)
    inp, dec = ref.m["input"], ref.m["decode"]
    cap = cv2.VideoCapture(a.video)
    analytics = Analytics(a.calibration, 0.45) if a.calibration else None
    times = {"decode": [], "preprocess": [], "inference": [], "postprocess": [], "analytics": []}
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
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
        # With the analytics, the tracker's low stage needs detections down to 0.2, as streetwatch.
        sel = np.nonzero(scores > (0.2 if analytics else dec["score_threshold"]))[0]
        boxes, scores, classes = boxes[sel].copy(), scores[sel], classes[sel]
        h, w = frame.shape[:2]
        boxes[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - left) / sx, 0, w)
        boxes[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - top) / sy, 0, h)
        keep = nms(boxes.tolist(), scores.tolist(), classes.tolist(), dec["nms_iou"], dec["max_detections"])
        t4 = time.perf_counter()
        if analytics is not None:
            keep = np.asarray(keep, dtype=np.int64)
            analytics.update(frames / fps, frame, boxes[keep], scores[keep], classes[keep])
        t5 = time.perf_counter()
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
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
