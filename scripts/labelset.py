#!/usr/bin/env python3
"""Labelled detector-evaluation set: frames of samples/ and of the scenario clips with hand-checked
person / bicycle / motorcycle / car boxes (tests/data/labelset.toml).

    python scripts/labelset.py CACHE_DIR                    # extract the labelled frames as PNGs
    python scripts/labelset.py CACHE_DIR --relabel [--out FILE] [--no-edits]
                                                            # redo the proposal step (see below)
    python scripts/labelset.py CACHE_DIR --render OUT_DIR   # overlays of the labels, for checking

Options: --labels FILE (default tests/data/labelset.toml), --samples DIR (default samples/).

Frames are decoded with OpenCV's VideoCapture, reading sequentially from the first frame; `index`
is the 0-based count of decoded frames. Extraction writes CACHE_DIR/<video>/<index:05d>.png with
<video> the path relative to samples/ with '/' replaced by '__' and the extension dropped (e.g.
CACHE_DIR/scenarios__parking-01-occluded/00123.png); frame_file() gives the name. Existing files
are kept.

--relabel reproduces how the labels were made (needs the reference venv: numpy, OpenCV,
onnxruntime; the two COCO models in $STREETWATCH_MODELS or ~/.cache/streetwatch/models):
  1. Frame choice (select_frames): every 20th frame of vtest.avi from 10, every 8th of bikes.mp4
     from 4, and for scenario clips times spread over the two-wheelers' presence (parking, brief)
     or fixed times (night, van, standing person, smoke), each snapped to the nearest frame whose
     vtest source frame (the clips play vtest ping-pong) is one of the labelled vtest frames.
  2. Real objects of vtest.avi and bikes.mp4 (proposals): an ensemble of YOLOX-nano and NanoDet
     (tests/reference.py's independent implementation of the manifests' pre-processing), each on
     the whole frame and on 4 overlapping crops (0.6 x 0.6 of the frame, ~1.7x upscaled), score
     >= 0.1; crop detections touching an inner crop edge are dropped; boxes of one class group
     (person; bicycle+motorcycle; car+bus+truck) with IoU >= 0.5 are fused (score-weighted mean);
     a fused box is kept when the mean over the 10 views of each view's best score is >= 0.12 and
     at least 2 views saw it. Class = the group's class with the largest summed score.
  3. Scenario frames: people and vehicles of vtest are those of the source vtest frame (step 2 +
     the hand edits); the composited objects (bikes, e-bikes, the standing person, the van, the
     night-time cars) come from scripts/scenarios.py itself: each object's sprite is pasted into
     an empty mask with the generator's own occlusion (pedestrians in front, lamp post, tripod,
     nearer composited objects) and its box is the bounding box of its visible pixels
     (alpha > 0.25). A vtest person more than half covered by composited objects is difficult.
  4. difficult = true for boxes under 16 px tall and for objects less than half visible.
  5. EDITS below: the hand corrections made after looking at every frame's overlay (--render).
     --no-edits writes the raw proposals.
"""
import argparse
import math
import os
import sys
import tomllib

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

CLASSES = ["person", "bicycle", "car", "motorcycle"]
GROUP = {0: "person", 1: "two", 3: "two", 2: "veh", 5: "veh", 7: "veh"}
COCO = {0: "person", 1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}
MIN_H = 16.0

VTEST = list(range(10, 795, 20))
BIKES = list(range(4, 250, 8))

# Scenario clips: (clip, times in s) or (clip, "presence", n) = n times spread over the bikes' stay.
SCENARIO_PLAN = [
    ("parking-01-occluded", "presence", 8), ("parking-02-flipped", "presence", 8),
    ("parking-03-far-stays", "presence", 7), ("parking-04-oblique", "presence", 8),
    ("parking-05-night", "presence", 8), ("parking-06-night-ebike", "presence", 7),
    ("parking-07-two-bikes", "presence", 9), ("parking-08-three-bikes", "presence", 10),
    ("parking-09-ebike", "presence", 8), ("parking-10-city-near", "presence", 8),
    ("parking-11-late-stays", "presence", 7), ("parking-12-dusk-two", "presence", 9),
    ("brief-01-bike-8s", "presence", 4),
    ("clean-03-night", [10.0, 40.0, 70.0]),
    ("distractor-03-headlights", [11.0, 30.0, 48.0]),
    ("distractor-04-white-van", [14.0, 30.0, 50.0, 64.0]),
    ("distractor-06-standing-person", [16.0, 25.0, 34.0]),
    ("goods-05-striped-tarp-night", [60.0]),
    ("smoke-04-thin-calm", [40.0]),
    ("smoke-06-night-grill", [45.0]),
]

# Hand edits after checking the overlays. Key: (video, index) of a vtest.avi or bikes.mp4 frame
# (scenario frames inherit their vtest source frame's edits) or of a scenario frame (applied after
# the copy). Operations refer to the proposal's object numbers as drawn by --render:
#   ("del", n) | ("box", n, [x1, y1, x2, y2]) | ("class", n, name) | ("difficult", n, bool)
#   | ("add", class, [x1, y1, x2, y2], difficult)
EDITS = {
    ('vtest.avi', 30): [('del', 1), ('add', 'person', [386, 179, 409, 256], True)],
    ('vtest.avi', 50): [('del', 1), ('box', 2, [410, 181, 432, 258])],
    ('vtest.avi', 130): [
        ('add', 'person', [420, 180, 443, 260], False),
        ('add', 'person', [599, 203, 626, 284], True),
        ('add', 'person', [755, 288, 768, 310], True),
    ],
    ('vtest.avi', 150): [('box', 3, [436, 193, 466, 276]), ('add', 'person', [445, 179, 470, 258], True)],
    ('vtest.avi', 170): [('box', 3, [434, 218, 464, 303]), ('add', 'person', [457, 211, 488, 298], False)],
    ('vtest.avi', 210): [('box', 3, [429, 156, 459, 230])],
    ('vtest.avi', 270): [('box', 4, [429, 171, 455, 239])],
    ('vtest.avi', 350): [('add', 'person', [428, 169, 446, 246], True)],
    ('vtest.avi', 470): [('del', 0), ('box', 1, [404, 224, 443, 310])],
    ('vtest.avi', 510): [('box', 4, [651, 441, 714, 576]), ('add', 'person', [649, 432, 690, 572], True)],
    ('vtest.avi', 530): [('box', 2, [349, 400, 395, 553]), ('add', 'person', [370, 389, 412, 525], False)],
    ('vtest.avi', 550): [('add', 'person', [412, 165, 440, 245], True)],
    ('vtest.avi', 590): [('box', 4, [621, 200, 657, 306]), ('add', 'person', [624, 191, 660, 273], True)],
    ('vtest.avi', 630): [('box', 1, [114, 140, 135, 210]), ('add', 'person', [405, 163, 441, 236], True)],
    ('vtest.avi', 670): [
        ('box', 1, [218, 156, 243, 229]),
        ('add', 'person', [230, 156, 255, 224], True),
        ('add', 'person', [752, 31, 768, 52], True),
    ],
    ('vtest.avi', 710): [('del', 2), ('add', 'person', [415, 181, 438, 271], True)],
    ('vtest.avi', 730): [('del', 3)],
    ('vtest.avi', 750): [('add', 'person', [744, 57, 758, 98], False)],
    ('vtest.avi', 770): [
        ('box', 1, [274, 182, 301, 256]),
        ('add', 'person', [264, 175, 295, 256], True),
        ('add', 'person', [750, 62, 765, 97], True),
    ],
    ('vtest.avi', 790): [
        ('del', 4),
        ('box', 5, [421, 271, 450, 378]),
        ('del', 6),
        ('add', 'person', [754, 68, 767, 97], True),
    ],
    ('bikes.mp4', 20): [('add', 'car', [517, 0, 640, 47], False)],
    ('bikes.mp4', 28): [('add', 'car', [522, 0, 640, 79], False)],
    ('bikes.mp4', 44): [('del', 0), ('add', 'car', [380, 0, 640, 272], True)],
    ('bikes.mp4', 52): [('add', 'car', [390, 0, 640, 272], False)],
    ('bikes.mp4', 60): [('del', 0), ('add', 'car', [395, 0, 640, 272], False)],
    ('bikes.mp4', 68): [('add', 'car', [0, 105, 640, 272], True)],
    ('bikes.mp4', 76): [
        ('add', 'car', [0, 52, 313, 272], False),
        ('add', 'motorcycle', [557, 182, 640, 272], True),
        ('add', 'person', [476, 85, 512, 195], True),
    ],
    ('bikes.mp4', 84): [('add', 'car', [0, 37, 313, 272], False), ('add', 'car', [300, 0, 640, 272], True)],
    ('bikes.mp4', 92): [('add', 'car', [0, 62, 303, 272], False), ('add', 'car', [290, 0, 640, 272], True)],
    ('bikes.mp4', 100): [
        ('add', 'car', [0, 67, 290, 272], False),
        ('add', 'car', [277, 150, 640, 225], True),
    ],
    ('bikes.mp4', 108): [('class', 2, 'motorcycle'), ('add', 'car', [0, 5, 293, 272], False)],
    ('bikes.mp4', 116): [('del', 1), ('add', 'car', [0, 15, 300, 272], False)],
    ('bikes.mp4', 124): [('del', 2), ('add', 'car', [0, 0, 300, 272], False)],
    ('bikes.mp4', 132): [('del', 2), ('add', 'car', [0, 0, 300, 272], False)],
    ('bikes.mp4', 140): [
        ('add', 'bicycle', [140, 27, 320, 272], False),
        ('add', 'car', [27, 80, 327, 220], False),
    ],
    ('bikes.mp4', 148): [('del', 4), ('add', 'bicycle', [140, 27, 320, 272], False)],
    ('bikes.mp4', 156): [
        ('add', 'bicycle', [140, 27, 320, 272], False),
        ('add', 'car', [287, 92, 460, 192], False),
    ],
    ('bikes.mp4', 164): [('add', 'bicycle', [140, 27, 320, 272], False)],
    ('bikes.mp4', 172): [('add', 'bicycle', [140, 27, 320, 272], False)],
    ('bikes.mp4', 180): [('add', 'bicycle', [140, 27, 320, 272], False)],
    ('bikes.mp4', 196): [('box', 0, [195, 0, 405, 252]), ('add', 'bicycle', [285, 5, 610, 215], False)],
    ('bikes.mp4', 204): [('add', 'bicycle', [278, 2, 600, 202], False)],
    ('bikes.mp4', 212): [('add', 'person', [500, 100, 640, 272], True)],
    ('bikes.mp4', 228): [('add', 'bicycle', [263, 3, 595, 200], False)],
    ('bikes.mp4', 244): [('add', 'bicycle', [0, 10, 335, 265], True)],
    ('scenarios/brief-01-bike-8s.avi', 296): [('add', 'person', [745, 57, 759, 97], False)],
    ('scenarios/parking-02-flipped.avi', 110): [
        ('box', 2, [517, 437, 612, 576]),
        ('add', 'person', [520, 423, 607, 557], True),
    ],
    ('scenarios/parking-05-night.avi', 808): [('add', 'person', [417, 190, 440, 262], True)],
    ('scenarios/parking-07-two-bikes.avi', 290): [('add', 'person', [757, 295, 768, 356], True)],
    ('scenarios/parking-08-three-bikes.avi', 181): [('add', 'person', [745, 57, 759, 97], False)],
    ('scenarios/parking-08-three-bikes.avi', 1008): [('add', 'person', [760, 288, 768, 381], True)],
    ('scenarios/parking-11-late-stays.avi', 290): [
        ('add', 'person', [419, 181, 440, 262], True),
        ('add', 'person', [745, 57, 759, 97], False),
    ],
}

# Things of vtest's scene that the ensemble takes for a person in many frames: the blue
# information board on the left lawn. Person boxes with IoU >= 0.5 with it are dropped.
STATIC_FALSE = {"vtest.avi": [("person", [30.5, 110.5, 48.8, 142.0])]}


def frame_file(cache, video, index):
    stem = os.path.splitext(video)[0].replace("/", "__")
    return os.path.join(cache, stem, f"{index:05d}.png")


def read_frames(path, indices):
    want = set(indices)
    out = {}
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        sys.exit(f"cannot open {path}")
    i = 0
    last = max(want) if want else -1
    while i <= last:
        ok, f = cap.read()
        if not ok:
            break
        if i in want:
            out[i] = f
        i += 1
    cap.release()
    missing = want - set(out)
    if missing:
        sys.exit(f"{path}: frames {sorted(missing)[:5]} not decoded (video has {i} frames)")
    return out


def load_labels(path):
    with open(path, "rb") as f:
        return tomllib.load(f)["frame"]


def extract(frames, samples, cache):
    by_video = {}
    for fr in frames:
        by_video.setdefault(fr["video"], set()).add(fr["index"])
    n = 0
    for video, idx in sorted(by_video.items()):
        todo = {i for i in idx if not os.path.exists(frame_file(cache, video, i))}
        if not todo:
            continue
        got = read_frames(os.path.join(samples, video), todo)
        os.makedirs(os.path.dirname(frame_file(cache, video, 0)), exist_ok=True)
        for i, img in got.items():
            p = frame_file(cache, video, i)
            cv2.imwrite(p + ".tmp.png", img)
            os.replace(p + ".tmp.png", p)
            n += 1
    return n


# ----------------------------------------------------------------------------- proposals
def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


class Ensemble:
    def __init__(self, models_dir):
        from reference import Reference
        self.refs = [
            Reference(os.path.join(ROOT, "models/yolox_nano.toml"),
                      os.path.join(models_dir, "yolox_nano_416x416.onnx")),
            Reference(os.path.join(ROOT, "models/nanodet.toml"),
                      os.path.join(models_dir, "nanodet_human_416.onnx")),
        ]

    @staticmethod
    def views(w, h):
        cw, ch = int(round(0.6 * w)), int(round(0.6 * h))
        v = [(0, 0, w, h)]
        for y0 in (0, h - ch):
            for x0 in (0, w - cw):
                v.append((x0, y0, x0 + cw, y0 + ch))
        return v

    def propose(self, img):
        h, w = img.shape[:2]
        dets = []  # (view, group, class_id, score, box)
        vi = 0
        for ref in self.refs:
            for (x0, y0, x1, y1) in self.views(w, h):
                crop = img[y0:y1, x0:x1]
                for d in ref.detect(crop, 0.1):
                    c = d["class_id"]
                    if c not in GROUP:
                        continue
                    b = d["bbox"]
                    cw, ch = x1 - x0, y1 - y0
                    inner = ((b[0] < 2 and x0 > 0) or (b[2] > cw - 2 and x1 < w)
                             or (b[1] < 2 and y0 > 0) or (b[3] > ch - 2 and y1 < h))
                    if inner:
                        continue
                    dets.append((vi, GROUP[c], c, d["score"], [b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0]))
                vi += 1
        n_views = vi
        dets.sort(key=lambda d: -d[3])
        clusters = []
        for d in dets:
            best, bi = 0.5, None
            for k, cl in enumerate(clusters):
                if cl["group"] == d[1]:
                    v = iou(cl["seed"], d[4])
                    if v >= best:
                        best, bi = v, k
            if bi is None:
                clusters.append({"group": d[1], "seed": d[4], "members": [d]})
            else:
                clusters[bi]["members"].append(d)
        out = []
        for cl in clusters:
            per_view = {}
            for d in cl["members"]:
                per_view[d[0]] = max(per_view.get(d[0], 0.0), d[3])
            support = sum(per_view.values()) / n_views
            if support < 0.12 or len(per_view) < 2:
                continue
            ws = np.array([d[3] for d in cl["members"]])
            bx = np.array([d[4] for d in cl["members"]])
            box = (bx * ws[:, None]).sum(0) / ws.sum()
            csum = {}
            for d in cl["members"]:
                csum[d[2]] = csum.get(d[2], 0.0) + d[3]
            cid = max(csum, key=lambda c: (csum[c], -c))
            name = COCO[cid]
            if name in ("bus", "truck"):
                name = "car"
            out.append({"class": name, "box": [float(v) for v in box], "difficult": False,
                        "note": f"support {support:.2f}"})
        return out


def apply_edits(objs, edits, key):
    objs = [dict(o) for o in objs]
    dead = set()
    added = []
    for e in edits:
        op = e[0]
        if op == "del":
            dead.add(e[1])
        elif op == "box":
            objs[e[1]]["box"] = list(map(float, e[2]))
            objs[e[1]]["note"] = "box hand-edited"
        elif op == "class":
            objs[e[1]]["class"] = e[2]
            objs[e[1]]["note"] = "class hand-edited"
        elif op == "difficult":
            objs[e[1]]["difficult"] = e[2]
            objs[e[1]]["note"] = "difficult set by hand" if e[2] else "difficult cleared by hand"
        elif op == "add":
            added.append({"class": e[1], "box": list(map(float, e[2])), "difficult": e[3] if len(e) > 3 else False,
                          "note": "added by hand"})
        else:
            raise ValueError(f"{key}: unknown edit {e}")
    return [o for i, o in enumerate(objs) if i not in dead] + added


def drop_static(objs, video):
    bad = STATIC_FALSE.get(video, [])
    return [o for o in objs if not any(o["class"] == c and iou(o["box"], b) >= 0.5 for c, b in bad)]


def finish(objs, w, h):
    out = []
    for o in objs:
        b = o["box"]
        b = [min(max(b[0], 0.0), w), min(max(b[1], 0.0), h), min(max(b[2], 0.0), w), min(max(b[3], 0.0), h)]
        if b[2] - b[0] < 1 or b[3] - b[1] < 1:
            continue
        o = dict(o, box=b)
        if b[3] - b[1] < MIN_H and not o["difficult"]:
            o["difficult"] = True
            o["note"] = (o.get("note", "") + "; under 16 px").lstrip("; ")
        out.append(o)
    out.sort(key=lambda o: (CLASSES.index(o["class"]) if o["class"] in CLASSES else 9, o["box"][0], o["box"][1]))
    return out


# ----------------------------------------------------------------------------- scenario geometry
class ScenarioTruth:
    """Boxes of the objects scripts/scenarios.py composites, by re-running its scene code."""

    def __init__(self, samples):
        import scenarios as sc
        self.sc = sc
        cv2.setNumThreads(1)
        sc.FOOTAGE = sc.Footage(os.path.join(samples, "vtest.avi"), os.path.join(samples, "bikes.mp4"))
        self.ft = sc.FOOTAGE
        self.clips = {c.name: c for c in sc.clip_set()}
        self.scenes = {}

    def scene(self, name):
        if name not in self.scenes:
            sc, clip = self.sc, self.clips[name]
            rng = np.random.Generator(np.random.PCG64(clip.seed))
            cv2.setRNGSeed(clip.seed)
            offset = clip.offset if clip.offset is not None else int(rng.integers(0, self.ft.period))
            self.scenes[name] = (offset, clip.build(self.ft, rng))
        return self.scenes[name]

    def bike_kind(self, name, bike):
        """'cut-out bike', 'drawn city bike' or 'drawn e-bike' (from the clip's specification)."""
        if bike.rgb is self.ft.bike[0]:
            return "cut-out bike"
        build = self.clips[name].build
        spec = dict(zip(build.__code__.co_freevars, (c.cell_contents for c in build.__closure__ or ())))
        for (model, spot, *_rest) in spec.get("bikes", []):
            if tuple(spot) == tuple(bike.spot):
                return {"city": "drawn city bike", "ebike": "drawn e-bike"}.get(model, model)
        return "drawn bike"

    def source_index(self, name, i):
        offset, _ = self.scene(name)
        return self.ft.source_index(i + offset)

    def bikes(self, name):
        _, scene = self.scene(name)
        return [o for o in scene["objects"] if isinstance(o, self.sc.Bike)]

    def presence(self, name):
        """(first arrival start, last departure end or clip end) of the clip's bikes, in s."""
        bikes = self.bikes(name)
        a = min(b.rest - b.arrive_dur for b in bikes)
        dur = self.clips[name].duration
        z = max(dur - 1.0 if b.leave is None else b.leave + 0.6 * b.leave_dur for b in bikes)
        return a, min(z, dur - 1.0)

    def objects(self, name, i):
        """[(class, note, visible mask (H, W) float, full mask)] of the composited objects at frame i,
        far first (the generator's drawing order)."""
        sc = self.sc
        offset, scene = self.scene(name)
        t = i / sc.FPS
        si = self.ft.source_index(i + offset)
        ft = self.ft
        fr = sc.Frame(ft.frames[si].copy(), ft.frames[si], ft.median, ft.labels[si], ft.bottoms[si], ft.blobs[si])
        rec = []
        real_paste = sc.paste

        def recorder(fr_, x0, y0, rgb, alpha, foot_y, occlude=True, stats=None, gain=1.0):
            h, w = alpha.shape
            X0, Y0, X1, Y1 = max(0, x0), max(0, y0), min(sc.W, x0 + w), min(sc.H, y0 + h)
            full = np.zeros((sc.H, sc.W), np.float32)
            vis = np.zeros((sc.H, sc.W), np.float32)
            total = float((alpha > 0.25).sum())
            if X1 > X0 and Y1 > Y0:
                a = alpha[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0] * gain
                full[Y0:Y1, X0:X1] = a
                occ = fr_.occluders(X0, Y0, X1, Y1, foot_y) if occlude else 0.0
                vis[Y0:Y1, X0:X1] = a * (1.0 - occ)
            rec.append((full, vis, total))
            real_paste(fr_, x0, y0, rgb, alpha, foot_y, occlude, stats, gain)

        out = []
        sc.paste = recorder
        try:
            live = [(o.foot_y(t), j, o) for j, o in enumerate(scene.get("objects", []))]
            for fy, _, o in sorted((x for x in live if x[0] is not None), key=lambda x: (x[0], x[1])):
                n0 = len(rec)
                o.draw(fr, t)
                if len(rec) == n0:
                    continue
                full, vis, total = rec[-1]
                if isinstance(o, sc.Bike):
                    p = o.pose(t)
                    kind = self.bike_kind(name, o)
                    cls, note = "bicycle", kind + (" riding" if p and p[1] else " parked")
                elif isinstance(o, sc.Standing):
                    cls, note = "person", "composited standing person"
                elif isinstance(o, sc.Vehicle):
                    cls, note = "car", f"composited {o.kind}"
                else:
                    cls, note = None, "goods"
                out.append([cls, note, vis, full, total])
        finally:
            sc.paste = real_paste
        # nearer objects (drawn later) hide farther ones
        for k in range(len(out)):
            for j in range(k + 1, len(out)):
                out[k][2] = out[k][2] * (1.0 - np.clip(out[j][2], 0, 1))
        return si, out


def mask_box(m, thr=0.25):
    ys, xs = np.nonzero(m > thr)
    if len(xs) == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def snap(st, name, t, allowed, n_frames, exact=False):
    """Frame nearest time t whose vtest source frame is in `allowed` (exact: within 0.4 s, else the
    frame at t: riding bikes are only seconds in view)."""
    i0 = int(round(t * st.sc.FPS))
    if exact:
        for d in range(0, 5):
            for i in (i0 - d, i0 + d):
                if 0 <= i < n_frames and st.source_index(name, i) in allowed:
                    return i
        return i0
    for d in range(0, 400):
        for i in (i0 - d, i0 + d):
            if 0 <= i < n_frames and st.source_index(name, i) in allowed:
                return i
    raise RuntimeError(f"{name}: no frame near {t}s with a labelled source frame")


def select_scenarios(st):
    allowed = set(VTEST)
    sel = []
    for item in SCENARIO_PLAN:
        name = item[0]
        n_frames = int(round(st.clips[name].duration * st.sc.FPS))
        if item[1] == "presence":
            a, z = st.presence(name)
            n = item[2]
            times = [a + (z - a) * (k + 0.5) / n for k in range(n)]
            # and every bike half-way through riding in and out
            for b in st.bikes(name):
                times.append(b.rest - 0.5 * b.arrive_dur)
                if b.leave is not None:
                    times.append(b.leave + 0.4 * b.leave_dur)
        else:
            times = item[1]
        idx = []
        for t in times:
            i = snap(st, name, t, allowed, n_frames, exact=item[1] == "presence" and t not in times[:item[2]])
            if i not in idx:
                idx.append(i)
        sel.append((name, sorted(idx)))
    return sel


def relabel(args):
    models = os.environ.get("STREETWATCH_MODELS", os.path.expanduser("~/.cache/streetwatch/models"))
    ens = Ensemble(models)
    edits = {} if args.no_edits else EDITS
    frames = []  # (video, index, objs, comment)
    vt = read_frames(os.path.join(args.samples, "vtest.avi"), VTEST)
    vlab = {}
    for i in VTEST:
        key = ("vtest.avi", i)
        objs = apply_edits(finish(ens.propose(vt[i]), 768, 576), edits.get(key, []), key)
        vlab[i] = finish(drop_static(objs, "vtest.avi"), 768, 576)
        frames.append(("vtest.avi", i, vlab[i], ""))
        print(f"vtest {i}: {len(vlab[i])}", file=sys.stderr)
    bk = read_frames(os.path.join(args.samples, "bikes.mp4"), BIKES)
    for i in BIKES:
        key = ("bikes.mp4", i)
        h, w = bk[i].shape[:2]
        objs = finish(apply_edits(finish(ens.propose(bk[i]), w, h), edits.get(key, []), key), w, h)
        frames.append(("bikes.mp4", i, objs, ""))
    st = ScenarioTruth(args.samples)
    for name, idx in select_scenarios(st):
        video = f"scenarios/{name}.avi"
        for i in idx:
            si, comp = st.objects(name, i)
            cover = np.zeros((576, 768), np.float32)
            objs = []
            for cls, note, vis, full, total in comp:
                cover = np.maximum(cover, np.clip(vis, 0, 1))
                if cls is None:
                    continue
                b = mask_box(vis)
                if b is None:
                    continue
                frac = float((vis > 0.25).sum()) / max(total, 1.0)
                objs.append({"class": cls, "box": b, "difficult": frac < 0.5,
                             "note": f"{note}, {100 * frac:.0f}% visible"})
            if si not in vlab:  # a riding frame whose source frame is not a labelled vtest frame
                vlab[si] = finish(drop_static(finish(ens.propose(st.ft.frames[si]), 768, 576), "vtest.avi"), 768, 576)
            for o in vlab[si]:
                x1, y1, x2, y2 = (int(round(v)) for v in o["box"])
                area = max(1, (x2 - x1) * (y2 - y1))
                hid = float((cover[y1:y2, x1:x2] > 0.5).sum()) / area
                o = dict(o)
                if hid > 0.5 and not o["difficult"]:
                    o["difficult"] = True
                    o["note"] = f"{100 * hid:.0f}% covered by composited objects"
                objs.append(o)
            key = (video, i)
            objs = finish(apply_edits(finish(objs, 768, 576), edits.get(key, []), key), 768, 576)
            frames.append((video, i, objs, f"t = {i / st.sc.FPS:.1f} s, vtest source frame {si}"))
    write_labels(args.out, frames)
    print(f"wrote {args.out}: {len(frames)} frames, {sum(len(f[2]) for f in frames)} objects", file=sys.stderr)


HEADER = """\
# streetwatch detector evaluation set (scripts/labelset.py; evaluation: scripts/detect_eval.py).
#
# Frames: 40 of samples/vtest.avi (every 20th from 10), 31 of samples/bikes.mp4 (every 8th from 4)
# and 146 of 20 scenario clips (samples/scenarios/, scripts/scenarios.py): the 12 parking clips and
# brief-01 over the bikes' arrival, stay and departure (occluded, far, oblique, night, dusk, e-bike,
# 2-3 bikes, riding in and out), night clips (clean-03, headlights, goods-05, smoke-06), the van,
# the standing person and one thin-smoke frame. `index` is the 0-based frame index when the video
# is decoded with OpenCV's VideoCapture reading sequentially from the start.
#
# How made: proposals by an ensemble of YOLOX-nano and NanoDet, each run on the whole frame and on
# 4 upscaled crops (the rule: scripts/labelset.py --relabel); composited objects of the scenario
# clips (bikes, e-bikes, the standing person, the van, cars) take their boxes from the generator
# itself (its visible pixels after its own occlusion); scenario frames reuse the checked people
# and vehicles of their vtest source frame. No stronger COCO detector could be had from the
# registries (PyPI and npm searched; notes in scripts/detect_eval.py). Checked by looking at an
# overlay of every vtest, bikes.mp4 and riding frame (zoomed where people overlap) and a sample of
# the other scenario frames, correcting by hand (EDITS in scripts/labelset.py: missed people and
# bikes added, merged pairs split, false and duplicate boxes removed, boxes fixed).
# difficult = true: under 16 px tall or less than half visible (not counted in recall;
# detections on them are not false positives).
#
# Not covered / caveats: the labeller is the two models being evaluated (plus a human eye), so
# their recall is biased upwards; real two-wheelers only in bikes.mp4 (640x272, cinematic blur);
# motorcycles: one parked scooter in bikes.mp4 (4 frames); the composited bikes are cut-outs and
# drawings without riders; people in scenario frames repeat vtest's; car labels are less complete
# than people and two-wheelers (blurred background cars of bikes.mp4 are not labelled).
"""


def fmt_box(b):
    return "[" + ", ".join(f"{v:.1f}" for v in b) + "]"


def write_labels(path, frames):
    count = {}
    for video, _, objs, _ in frames:
        kind = video.split("/")[0] if "/" in video else video
        count.setdefault(kind, [0, {}])
        count[kind][0] += 1
        for o in objs:
            k = o["class"] + (" (difficult)" if o["difficult"] else "")
            count[kind][1][k] = count[kind][1].get(k, 0) + 1
    summary = ["# Contents:"]
    for kind, (n, per) in count.items():
        summary.append(f"#   {kind}: {n} frames; " + ", ".join(f"{v} {k}" for k, v in sorted(per.items())))
    lines = [HEADER + "\n".join(summary) + "\n"]
    for video, i, objs, comment in frames:
        lines.append("[[frame]]")
        lines.append(f'video = "{video}"' + (f"  # {comment}" if comment else ""))
        lines.append(f"index = {i}")
        for o in objs:
            lines.append("[[frame.object]]")
            note = o.get("note", "")
            lines.append(f'class = "{o["class"]}"' + (f"  # {note}" if note else ""))
            lines.append(f"box = {fmt_box(o['box'])}")
            lines.append(f"difficult = {'true' if o['difficult'] else 'false'}")
        lines.append("")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    with open(tmp, "rb") as f:
        tomllib.load(f)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- render
COLOURS = {"person": (0, 220, 0), "bicycle": (255, 120, 0), "motorcycle": (0, 0, 255), "car": (0, 220, 220)}


def render(frames, cache, out_dir, per_sheet=2, rows=None, scale=None):
    os.makedirs(out_dir, exist_ok=True)
    tiles = []
    for fr in frames:
        img = cv2.imread(frame_file(cache, fr["video"], fr["index"]))
        if img is None:
            sys.exit("extract the frames first")
        s = scale or (1.2 if img.shape[1] < 700 else 1.0)
        if s != 1.0:
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        for n, o in enumerate(fr.get("object", [])):
            b = [int(round(v * s)) for v in o["box"]]
            c = COLOURS.get(o["class"], (255, 255, 255))
            th = 1 if o["difficult"] else 2
            if o["difficult"]:
                c = tuple(int(v * 0.5) for v in c)
            cv2.rectangle(img, (b[0], b[1]), (b[2], b[3]), c, th)
            cv2.putText(img, str(n), (b[0] + 1, b[1] + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 2)
            cv2.putText(img, str(n), (b[0] + 1, b[1] + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.4, c, 1)
        cv2.putText(img, f"{fr['video']} #{fr['index']}", (5, img.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 2)
        cv2.putText(img, f"{fr['video']} #{fr['index']}", (5, img.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1)
        if rows and img.shape[1] > 700:
            img = img[int(rows[0] * s):int(rows[1] * s)]
        tiles.append(img)
    for k in range(0, len(tiles), per_sheet):
        group = tiles[k:k + per_sheet]
        wmax = max(t.shape[1] for t in group)
        group = [cv2.copyMakeBorder(t, 0, 4, 0, wmax - t.shape[1], cv2.BORDER_CONSTANT) for t in group]
        cv2.imwrite(os.path.join(out_dir, f"sheet{k // per_sheet:03d}.png"), np.vstack(group))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cache", help="directory for the extracted frames")
    ap.add_argument("--labels", default=os.path.join(ROOT, "tests/data/labelset.toml"))
    ap.add_argument("--samples", default=os.path.join(ROOT, "samples"))
    ap.add_argument("--relabel", action="store_true", help="redo the proposal step (+ EDITS) and write --out")
    ap.add_argument("--out", help="with --relabel: labels file to write (default: --labels)")
    ap.add_argument("--no-edits", action="store_true", help="with --relabel: raw proposals, no hand edits")
    ap.add_argument("--render", metavar="OUT_DIR", help="write overlay sheets of the labels")
    ap.add_argument("--only", help="with --render: only videos containing this text")
    ap.add_argument("--zoom", help="with --render: Y0,Y1,SCALE: rows of 768x576 frames to show, scale, 1 a sheet")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    if args.relabel:
        args.out = args.out or args.labels
        relabel(args)
        args.labels = args.out
    frames = load_labels(args.labels)
    n = extract(frames, args.samples, args.cache)
    print(f"{len(frames)} frames ({n} extracted now) in {args.cache}", file=sys.stderr)
    if args.render:
        sel = [f for f in frames if not args.only or args.only in f["video"]]
        if args.zoom:
            y0, y1, zs = (float(v) for v in args.zoom.split(","))
            render(sel, args.cache, args.render, 1, (y0, y1), zs)
        else:
            render(sel, args.cache, args.render)


if __name__ == "__main__":
    main()
