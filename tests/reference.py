"""Independent reference detector (numpy + onnxruntime + cv2) for streetwatch's tests.

It reads the same model manifests as streetwatch (models/*.toml) and implements pre-processing,
the three family decoders and class-aware NMS from the manifest's description alone, so the Rust
implementation is checked against a second implementation rather than against itself.

    python tests/reference.py --manifest models/nanodet.toml --model PATH.onnx IMAGE [IMAGE ...]

prints one JSON object per image: {"image": ..., "detections": [{"class_id", "score", "bbox"}]}
with bbox = [x1, y1, x2, y2] in frame pixels.
"""
import argparse
import json
import math
import sys
import tomllib

import cv2
import numpy as np
import onnxruntime as ort


def preprocess(frame_bgr, inp):
    h, w = frame_bgr.shape[:2]
    tw, th = inp["width"], inp["height"]
    img = frame_bgr if inp["color"] == "bgr" else frame_bgr[:, :, ::-1]
    if inp["resize"] == "stretch":
        canvas = cv2.resize(np.ascontiguousarray(img), (tw, th), interpolation=cv2.INTER_LINEAR)
        transform = (tw / w, th / h, 0.0, 0.0)
    else:
        s = min(tw / w, th / h)
        nw, nh = int(math.floor(w * s + 0.5)), int(math.floor(h * s + 0.5))
        resized = cv2.resize(np.ascontiguousarray(img), (nw, nh), interpolation=cv2.INTER_LINEAR)
        if inp.get("letterbox_align", "center") == "center":
            left, top = (tw - nw) // 2, (th - nh) // 2
        else:
            left, top = 0, 0
        canvas = np.full((th, tw, 3), inp["pad_value"], dtype=np.float32)
        canvas[top:top + nh, left:left + nw] = resized
        transform = (s, s, float(left), float(top))
    x = canvas.astype(np.float32)
    x = (x - np.array(inp["mean"], np.float32)) / np.array(inp["std"], np.float32)
    return x.transpose(2, 0, 1)[None].copy(), transform


def decode_nanodet(outputs, inp, dec, num_classes):
    reg_bins = dec["reg_max"] + 1
    off = dec.get("center_offset", 0.5)
    boxes, scores, classes = [], [], []
    for s in dec["strides"]:
        gw, gh = inp["width"] // s, inp["height"] // s
        n = gw * gh
        cls = next(o for o in outputs if o.shape[1] == n and o.shape[2] == num_classes)[0]
        reg = next(o for o in outputs if o.shape[1] == n and o.shape[2] == 4 * reg_bins)[0]
        idx = np.arange(n)
        cx = (idx % gw + off) * s
        cy = (idx // gw + off) * s
        r = reg.reshape(n, 4, reg_bins).astype(np.float64)
        r = np.exp(r - r.max(axis=2, keepdims=True))
        r /= r.sum(axis=2, keepdims=True)
        d = (r * np.arange(reg_bins)).sum(axis=2) * s
        boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1))
        scores.append(cls.max(axis=1))
        classes.append(cls.argmax(axis=1))
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


def decode_yolox(outputs, inp, dec, num_classes):
    out = outputs[0][0]
    grids = []
    for s in dec["strides"]:
        gw, gh = inp["width"] // s, inp["height"] // s
        gy, gx = np.mgrid[0:gh, 0:gw]
        grids.append(np.stack([gx.ravel(), gy.ravel(), np.full(gw * gh, s)], axis=1))
    g = np.concatenate(grids).astype(np.float64)
    cx = (out[:, 0] + g[:, 0]) * g[:, 2]
    cy = (out[:, 1] + g[:, 1]) * g[:, 2]
    w = np.exp(out[:, 2].astype(np.float64)) * g[:, 2]
    h = np.exp(out[:, 3].astype(np.float64)) * g[:, 2]
    cls = out[:, 5:5 + num_classes] * out[:, 4:5]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, cls.max(axis=1), cls.argmax(axis=1)


def decode_yolov8(outputs, inp, dec, num_classes):
    out = outputs[0][0].T  # [N, 4 + C]
    cx, cy, w, h = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
    cls = out[:, 4:4 + num_classes]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float64)
    return boxes, cls.max(axis=1), cls.argmax(axis=1)


DECODERS = {"nanodet": decode_nanodet, "yolox": decode_yolox, "yolov8": decode_yolov8}


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes, scores, classes, iou_thr, max_det):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(classes[k] != classes[i] or iou(boxes[k], boxes[i]) <= iou_thr for k in keep):
            keep.append(i)
            if len(keep) == max_det:
                break
    return keep


class Reference:
    def __init__(self, manifest_path, model_path, threads=1, spinning=True):
        with open(manifest_path, "rb") as f:
            self.m = tomllib.load(f)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        if not spinning:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.sess.get_outputs()]

    def detect(self, frame_bgr, score_threshold=None):
        inp, dec = self.m["input"], self.m["decode"]
        x, (sx, sy, left, top) = preprocess(frame_bgr, inp)
        outputs = self.sess.run(self.output_names, {inp["name"]: x})
        boxes, scores, classes = DECODERS[self.m["family"]](outputs, inp, dec, len(self.m["classes"]))
        thr = dec["score_threshold"] if score_threshold is None else score_threshold
        sel = np.nonzero(scores > thr)[0]
        boxes, scores, classes = boxes[sel], scores[sel].astype(np.float64), classes[sel]
        h, w = frame_bgr.shape[:2]
        boxes = boxes.copy()
        boxes[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - left) / sx, 0, w)
        boxes[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - top) / sy, 0, h)
        keep = nms(boxes.tolist(), scores.tolist(), classes.tolist(), dec["nms_iou"], dec["max_detections"])
        return [
            {"class_id": int(classes[i]), "score": float(scores[i]), "bbox": [float(v) for v in boxes[i]]}
            for i in keep
        ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threshold", type=float, default=None, help="score threshold (default: manifest's)")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    ref = Reference(args.manifest, args.model)
    for path in args.images:
        frame = cv2.imread(path, cv2.IMREAD_COLOR)
        if frame is None:
            sys.exit(f"cannot read image {path}")
        print(json.dumps({"image": path, "detections": ref.detect(frame, args.threshold)}))


if __name__ == "__main__":
    main()
