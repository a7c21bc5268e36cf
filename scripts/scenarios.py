#!/usr/bin/env python3
"""Scenario generator: composites two-wheelers, goods/stalls and smoke plumes into real footage.

    python scripts/scenarios.py --vtest samples/vtest.avi --bikes samples/bikes.mp4 --out DIR
                                [--only NAME_OR_TAG[,...]] [--list] [--jobs N] [--stills S[,S...]]

Writes DIR/<clip>.avi (MJPG, quality 85, 10 fps, 768x576) and DIR/truth.toml (the ground truth the
scorer reads; it lists every clip of the set whose file is in DIR). The background is vtest.avi
played forward and backward (ping-pong, no jump cut); its pedestrians occlude composited objects
when their feet are nearer the camera than the object's foot line. Objects: a bicycle cut out of
bikes.mp4 (the parked bike of its last shot) and two drawn two-wheelers, procedural goods (boxes,
tarps, crates, a handcart with a parasol), particle smoke plumes; darkness, fog, headlights, a van,
steam, white shirts, cloud shadows and brief events as distractors. Everything is deterministic
(one PCG64 seed per clip). numpy + OpenCV only. Clip list: --list, or scripts/scenarios_README.md.
The zones come from calibration/scenarios.toml (the file every clip is scored with). --stills
writes PNGs of the given media seconds instead of videos (to look at a clip).
"""
import argparse
import math
import multiprocessing
import os
import sys
import time
import tomllib

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALIBRATION = "calibration/scenarios.toml"
W, H, FPS = 768, 576, 10
JPEG_QUALITY = 85
BIKES_FRAME = 238  # bikes.mp4 frame with the parked bicycle and nobody in front of it

# ----------------------------------------------------------------------------- ground geometry
# vtest's ground plane (calibration/vtest.toml): image pixels <-> ground metres.
_IMG = np.float32([(200, 450), (568, 450), (568, 180), (200, 180)])
_GND = np.float32([(-2.45, 0.0), (2.45, 0.0), (5.11, 8.47), (-5.11, 8.47)])
H_IG = cv2.getPerspectiveTransform(_IMG, _GND)
H_GI = cv2.getPerspectiveTransform(_GND, _IMG)


def to_ground(x, y):
    p = H_IG @ np.array([x, y, 1.0])
    return p[0] / p[2], p[1] / p[2]


def to_image(gx, gy):
    p = H_GI @ np.array([gx, gy, 1.0])
    return p[0] / p[2], p[1] / p[2]


def ppm(x, y):
    """Pixels per metre across the image at image point (x, y); also used for heights (the
    calibration was estimated from people's heights)."""
    gx, gy = to_ground(x, y)
    a, b = to_image(gx - 0.5, gy), to_image(gx + 0.5, gy)
    return math.hypot(b[0] - a[0], b[1] - a[1])


def ppm_depth(x, y):
    """Pixels per metre of ground depth (foreshortened) at image point (x, y)."""
    gx, gy = to_ground(x, y)
    a, b = to_image(gx, gy - 0.5), to_image(gx, gy + 0.5)
    return math.hypot(b[0] - a[0], b[1] - a[1])


def project(gx, gy, z):
    """Image point of the point z metres above ground point (gx, gy): verticals stay vertical."""
    x, y = to_image(gx, gy)
    return x, y - z * ppm(x, y)


def load_zones():
    with open(os.path.join(ROOT, CALIBRATION), "rb") as f:
        cal = tomllib.load(f)
    return {z["name"]: np.array(z["polygon"], np.float32) for z in cal["zones"]}


def inside(poly, x, y, margin=0.0):
    return cv2.pointPolygonTest(poly.reshape(-1, 1, 2), (float(x), float(y)), True) >= margin


# ----------------------------------------------------------------------------- noise helpers
def smooth_noise(rng, h, w, cell):
    """Smooth value noise in [0, 1] with features about `cell` pixels across."""
    gh, gw = int(math.ceil(h / cell)) + 3, int(math.ceil(w / cell)) + 3
    g = rng.random((gh, gw), dtype=np.float32)
    big = cv2.resize(g, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    oy, ox = int(cell), int(cell)
    return np.clip(big[oy:oy + h, ox:ox + w], 0, 1)


def fbm(rng, h, w, cell, octaves=4):
    acc = np.zeros((h, w), np.float32)
    tot = 0.0
    amp = 1.0
    for _ in range(octaves):
        acc += amp * smooth_noise(rng, h, w, max(1.5, cell))
        tot += amp
        amp *= 0.5
        cell /= 2.0
    return acc / tot


def bgra(c, a=1.0):
    """An OpenCV colour (plain floats) with alpha, for drawing on BGRA float canvases."""
    return tuple(float(v) for v in c) + (float(a),)


def periodic_noise(rng, n, cell, octaves=4):
    """Tileable (periodic) smooth noise n x n in [0, 1]: white noise low-passed in Fourier space."""
    f = np.fft.fftfreq(n)
    r = np.hypot(f[:, None], f[None, :])
    out = np.zeros((n, n))
    amp, c = 1.0, cell
    for _ in range(octaves):
        w = rng.standard_normal((n, n))
        out += amp * np.real(np.fft.ifft2(np.fft.fft2(w) * np.exp(-(r * c) ** 2 * 2.0)))
        amp *= 0.5
        c /= 2.0
    lo, hi = np.percentile(out, 5), np.percentile(out, 95)
    return np.clip((out - lo) / (hi - lo), 0, 1).astype(np.float32)


def ease(u):
    u = min(1.0, max(0.0, u))
    return u * u * (3 - 2 * u)


# ----------------------------------------------------------------------------- the footage
class Footage:
    """vtest frames, their median background and per-frame pedestrian blobs; the bike sprite."""

    def __init__(self, vtest, bikes):
        cap = cv2.VideoCapture(vtest)
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
        cap.release()
        if len(frames) < 100 or frames[0].shape != (H, W, 3):
            sys.exit(f"{vtest}: expected vtest.avi (768x576, 795 frames), got {len(frames)} frames")
        self.frames = np.stack(frames)
        self.n = len(frames)
        self.period = 2 * (self.n - 1)
        # Temporal median (row bands to bound memory): the empty scene.
        med = np.empty((H, W, 3), np.uint8)
        sub = self.frames[::3]
        for y in range(0, H, 48):
            med[y:y + 48] = np.median(sub[:, y:y + 48], axis=0).astype(np.uint8)
        self.median = med
        self._foreground()
        self.bike = cut_bike_sprite(bikes)
        self.walker = self._pick_pedestrian()

    def _foreground(self):
        """Pedestrian blobs: |frame - median| > 30, cleaned, connected components of a person's
        size. labels[i] holds blob ids, bottoms[i][id] the blob's lowest row (its feet)."""
        k3 = np.ones((3, 3), np.uint8)
        k5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self.labels = np.zeros((self.n, H, W), np.uint8)
        self.bottoms = np.full((self.n, 256), -1, np.int32)
        self.blobs = []
        for i in range(self.n):
            d = cv2.absdiff(self.frames[i], self.median).max(axis=2)
            m = (d > 30).astype(np.uint8)
            m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k3)
            m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k5)
            m = cv2.dilate(m, k3)
            n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
            lut = np.zeros(n, np.uint8)
            blobs = [None]
            for j in range(1, n):
                x, y, w, h, area = (int(v) for v in st[j])
                if area >= 150 and h >= 20 and len(blobs) < 255:
                    lut[j] = len(blobs)
                    self.bottoms[i, len(blobs)] = y + h - 1
                    blobs.append((x, y, w, h, area))
            self.labels[i] = lut[lab]
            self.blobs.append(blobs)

    def source_index(self, k):
        k %= self.period
        return k if k < self.n else self.period - k

    def _pick_pedestrian(self):
        """A lone pedestrian cut from vtest (for the 'person standing still' distractor)."""
        for i in range(150, self.n, 7):
            for j, b in enumerate(self.blobs[i]):
                if b is None:
                    continue
                x, y, w, h, area = b
                if 80 <= h <= 125 and 2.7 <= h / w <= 4.0 and 240 <= y + h <= 420 and x > 20 \
                        and x + w < W - 20 and area > 0.45 * w * h and (x + w < 400 or x > 460):
                    lab = (self.labels[i, y:y + h, x:x + w] == j).astype(np.uint8)
                    lab = cv2.morphologyEx(lab, cv2.MORPH_CLOSE,
                                           cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
                    pad = np.pad(lab, 1)
                    holes = pad.copy()
                    cv2.floodFill(holes, None, (0, 0), 1)
                    lab = np.maximum(lab, 1 - holes[1:-1, 1:-1])  # fill holes
                    a = cv2.erode(lab, np.ones((3, 3), np.uint8)).astype(np.float32)
                    a = cv2.GaussianBlur(a, (3, 3), 0)
                    rgb = self.frames[i, y:y + h, x:x + w].astype(np.float32)
                    return rgb, a, (x + w / 2, y + h - 1)
        raise RuntimeError("no pedestrian sprite found in vtest")


# ----------------------------------------------------------------------------- two-wheeler sprites
def _pts(p):
    return np.array(p, np.int32).reshape(-1, 1, 2)


def cut_bike_sprite(path):
    """The black city bike parked against a house wall in bikes.mp4 (frame 238), cut out with
    hand-drawn polygons and tube strokes (tubes kept only where darker than the wall); the spokes
    and the front tyre, which are lost against the dark cellar grille, are redrawn."""
    cap = cv2.VideoCapture(path)
    f = None
    for i in range(BIKES_FRAME + 1):
        ok, f = cap.read()
        if not ok:
            sys.exit(f"{path}: expected bikes.mp4 with at least {BIKES_FRAME + 1} frames")
    cap.release()
    if f.shape[:2] != (272, 640):
        sys.exit(f"{path}: expected bikes.mp4 (640x272)")
    img = f.copy()
    hh, ww = f.shape[:2]
    g = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
    solid = np.zeros((hh, ww), np.uint8)
    tube = np.zeros((hh, ww), np.uint8)
    cv2.fillPoly(solid, [_pts([(257, 70), (268, 55), (300, 50), (330, 60), (335, 75), (332, 110), (310, 135),
                               (290, 138), (265, 125), (257, 100)])], 255)  # pannier
    cv2.fillPoly(solid, [_pts([(307, 150), (322, 138), (350, 133), (372, 145), (385, 160), (382, 185), (365, 193),
                               (345, 192), (318, 170)])], 255)  # chain guard
    cv2.fillPoly(solid, [_pts([(335, 18), (350, 12), (378, 15), (382, 28), (370, 35), (345, 33)])], 255)  # saddle
    cv2.fillPoly(solid, [_pts([(455, 55), (470, 50), (478, 110), (472, 150), (462, 150), (457, 100)])], 255)
    cv2.fillPoly(solid, [_pts([(470, 100), (500, 100), (505, 135), (480, 138)])], 255)  # front carrier
    cv2.ellipse(solid, (500, 45), (13, 7), 0, 0, 360, 255, -1)  # lamp
    cv2.polylines(solid, [_pts([(463, 62), (466, 38), (470, 26)])], False, 255, 5)  # stem
    cv2.polylines(tube, [_pts([(357, 30), (362, 160)])], False, 255, 8)
    cv2.polylines(tube, [_pts([(380, 150), (462, 62)])], False, 255, 9)
    cv2.polylines(tube, [_pts([(395, 148), (475, 105)])], False, 255, 6)
    cv2.polylines(tube, [_pts([(440, 16), (480, 25), (494, 36)])], False, 255, 6)
    cv2.polylines(tube, [_pts([(490, 112), (470, 115), (440, 128), (420, 150), (412, 180), (410, 213)])],
                  False, 255, 7)
    cv2.polylines(tube, [_pts([(305, 145), (352, 60)])], False, 255, 5)
    cv2.polylines(tube, [_pts([(370, 178), (398, 178)])], False, 255, 6)
    m = np.maximum(solid, cv2.bitwise_and(tube, (g < 95).astype(np.uint8) * 255))
    paint = np.zeros((hh, ww), np.uint8)
    pimg = np.zeros_like(img)
    for (cx, cy, ax, ay, n, ph) in ((303, 145, 44, 53, 18, 0.1), (451, 163, 40, 49, 18, 0.3)):
        for k in range(n):
            t = ph + 2 * np.pi * k / n
            q = (int(cx + ax * np.cos(t)), int(cy + ay * np.sin(t)))
            cv2.line(pimg, (cx, cy), q, (70, 72, 75), 1, cv2.LINE_AA)
            cv2.line(paint, (cx, cy), q, 150, 1, cv2.LINE_AA)
        cv2.circle(pimg, (cx, cy), 5, (40, 40, 42), -1)
        cv2.circle(paint, (cx, cy), 5, 255, -1)
    cv2.ellipse(pimg, (451, 163), (42, 51), 0, 0, 360, (28, 28, 30), 5, cv2.LINE_AA)
    cv2.ellipse(paint, (451, 163), (42, 51), 0, 0, 360, 255, 5, cv2.LINE_AA)
    cv2.ellipse(solid, (303, 145), (46, 55), 0, 0, 360, 255, 6)  # rear tyre (white, real pixels)
    m = np.maximum(m, solid)
    sel = (paint > 0) & (m == 0)
    img[sel] = pimg[sel]
    m = np.maximum(m, paint)
    a = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (3, 3), 0)
    ys, xs = np.nonzero(a > 0.05)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    # Sprite height = 1.05 m (saddle/handlebar top to the ground); faces right.
    return img[y0:y1, x0:x1].astype(np.float32), a[y0:y1, x0:x1].copy(), 1.05


def draw_bike(kind, rng):
    """Procedural two-wheelers drawn at 200 px/m, facing right: 'city' (a city bicycle, sometimes
    with a basket) or 'ebike' (an electric bicycle: battery, hub motor, delivery box). Returns
    (rgb, alpha, height_m). (A drawn electric moped was tried and dropped: NanoDet did not detect
    it at this scale.)"""
    k = 200.0
    w_m, h_m = 1.80, 1.10
    wd, ht = int(w_m * k), int(h_m * k)
    img = np.zeros((ht, wd, 3), np.uint8)
    m = np.zeros((ht, wd), np.uint8)
    gy = ht - 3

    def P(x, y):  # metres (x right, y up from the ground) -> pixels
        return int(round(x * k)), int(round(gy - y * k))

    def line(p, q, col, t):
        cv2.line(img, P(*p), P(*q), col, max(1, int(t * k)), cv2.LINE_AA)
        cv2.line(m, P(*p), P(*q), 255, max(1, int(t * k)), cv2.LINE_AA)

    def poly(pts, col):
        pp = _pts([P(*p) for p in pts])
        cv2.fillPoly(img, [pp], col, cv2.LINE_AA)
        cv2.fillPoly(m, [pp], 255, cv2.LINE_AA)

    def wheel(cx, r, tyre):
        c = P(cx, r)
        rr = int(r * k)
        for i in range(16):
            t = 2 * np.pi * i / 16 + 0.1
            q = (int(c[0] + rr * np.cos(t)), int(c[1] + rr * np.sin(t)))
            cv2.line(img, c, q, (125, 125, 130), 2, cv2.LINE_AA)
            cv2.line(m, c, q, 200, 2, cv2.LINE_AA)
        cv2.circle(img, c, rr - int(tyre * k / 2), (24, 24, 26), int(tyre * k), cv2.LINE_AA)
        cv2.circle(m, c, rr - int(tyre * k / 2), 255, int(tyre * k), cv2.LINE_AA)
        cv2.circle(img, c, int(0.03 * k), (95, 95, 100), -1)
        cv2.circle(m, c, int(0.03 * k), 255, -1)

    col = [(35, 35, 38), (40, 30, 110), (90, 60, 30), (60, 90, 40)][int(rng.integers(4))]
    r = 0.34
    rw, fw = 0.08 + r, w_m - 0.08 - r
    wheel(rw, r, 0.045)
    wheel(fw, r, 0.045)
    bb = (rw + 0.55, r - 0.02)
    st = (rw + 0.42, 0.88)
    ht_ = (fw - 0.22, 0.85)
    hb = (fw - 0.17, 0.68)
    t = 0.04
    for p, q in (((rw, r), bb), ((rw, r), st), (bb, st), (bb, hb), (st, ht_), (ht_, hb), (hb, (fw, r))):
        line(p, q, col, t)
    line(st, (st[0] - 0.03, 0.98), (60, 60, 60), t)
    poly([(st[0] - 0.16, 1.0), (st[0] + 0.10, 1.02), (st[0] + 0.08, 0.96), (st[0] - 0.14, 0.95)], (20, 20, 20))
    line(ht_, (ht_[0] - 0.02, 1.02), (60, 60, 60), t)
    line((ht_[0] - 0.14, 1.05), (ht_[0] + 0.10, 1.02), (40, 40, 40), t)
    cv2.circle(img, P(*bb), int(0.07 * k), (50, 50, 50), -1)
    cv2.circle(m, P(*bb), int(0.07 * k), 255, -1)
    if kind == "ebike":  # battery on the down tube, hub motor, rear rack box
        poly([(bb[0] + 0.06, bb[1] + 0.10), (bb[0] + 0.20, bb[1] + 0.30), (bb[0] + 0.30, bb[1] + 0.22),
              (bb[0] + 0.14, bb[1] + 0.02)], (28, 28, 30))
        cv2.circle(img, P(rw, r), int(0.08 * k), (40, 40, 42), -1, cv2.LINE_AA)
        cv2.circle(m, P(rw, r), int(0.08 * k), 255, -1, cv2.LINE_AA)
        line((rw, r + 0.05), (rw + 0.10, 0.80), (50, 50, 52), 0.025)
        bc = [(0, 190, 250), (40, 40, 45), (200, 200, 205)][int(rng.integers(3))]
        poly([(rw - 0.25, 0.80), (rw + 0.22, 0.80), (rw + 0.22, 1.05), (rw - 0.25, 1.05)], bc)
    elif rng.random() < 0.6:  # front basket
        poly([(fw - 0.05, 0.78), (fw + 0.28, 0.80), (fw + 0.25, 0.98), (fw - 0.03, 0.98)], (45, 45, 48))
    a = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (3, 3), 0)
    noise = (fbm(rng, ht, wd, 40) - 0.5) * 20
    rgb = img.astype(np.float32) + noise[..., None]
    ys, xs = np.nonzero(a > 0.05)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    hgt = (y1 - y0) / k
    return np.clip(rgb[y0:y1, x0:x1], 0, 255), a[y0:y1, x0:x1].copy(), hgt


# ----------------------------------------------------------------------------- compositing
def static_occluders():
    """Fixed things of vtest's scene that stand in front of objects behind them: the lamp post with
    its sign, and the tripod on the lawn. [(foot row, soft mask)]."""
    post = np.zeros((H, W), np.uint8)
    cv2.rectangle(post, (427, 30), (437, 390), 1, -1)
    cv2.rectangle(post, (413, 203), (443, 243), 1, -1)
    tripod = np.zeros((H, W), np.uint8)
    cv2.rectangle(tripod, (500, 340), (510, 388), 1, -1)
    for q in ((460, 470), (508, 452), (523, 481)):
        cv2.line(tripod, (505, 386), q, 1, 3)
    return [(392, cv2.blur(post.astype(np.float32), (3, 3))), (470, cv2.blur(tripod.astype(np.float32), (3, 3)))]


STATIC_OCCLUDERS = static_occluders()


class Frame:
    """One output frame being built: the image and the pedestrian blobs of its source frame."""

    def __init__(self, img, src, median, labels, bottoms, blobs):
        self.img = img
        self.src = src
        self.median = median
        self.labels = labels
        self.bottoms = bottoms
        self.blobs = blobs

    def occluders(self, x0, y0, x1, y1, foot_y):
        """Soft mask of pedestrian pixels in front of an object whose foot line is foot_y: pixels
        of blobs whose feet are lower in the image, where the frame differs from the empty scene."""
        lab = self.labels[y0:y1, x0:x1]
        b = self.bottoms[lab]
        front = b > foot_y + 1
        if front.any():
            d = cv2.absdiff(self.src[y0:y1, x0:x1], self.median[y0:y1, x0:x1]).max(axis=2)
            occ = (front & (d > 22)).astype(np.uint8)
            occ = cv2.morphologyEx(occ, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
            occ = cv2.blur(occ.astype(np.float32), (3, 3))
        else:
            occ = np.zeros(lab.shape, np.float32)
        for fy, m in STATIC_OCCLUDERS:
            if foot_y < fy - 2:
                occ = np.maximum(occ, m[y0:y1, x0:x1])
        return occ


def paste(fr, x0, y0, rgb, alpha, foot_y, occlude=True, stats=None, gain=1.0):
    """Alpha-composite a sprite with its top-left at (x0, y0); pedestrians whose feet are below
    foot_y stay in front. stats (list) receives the occluded fraction of the sprite's pixels."""
    h, w = alpha.shape
    X0, Y0, X1, Y1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if X1 <= X0 or Y1 <= Y0:
        return
    a = alpha[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0]
    c = rgb[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0]
    if gain != 1.0:
        a = a * gain
    if occlude:
        occ = fr.occluders(X0, Y0, X1, Y1, foot_y)
        if stats is not None:
            body = a > 0.5
            nb = int(body.sum())
            stats.append(float((occ[body] > 0.5).sum()) / nb if nb else 0.0)
        a = a * (1.0 - occ)
    roi = fr.img[Y0:Y1, X0:X1].astype(np.float32)
    roi += (c - roi) * a[..., None]
    fr.img[Y0:Y1, X0:X1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)


def shadow(fr, cx, cy, rx, ry, strength, foot_y):
    """A soft darkened ellipse on the ground (overcast light: just under the object)."""
    rx, ry = max(2.0, rx), max(1.5, ry)
    pad = int(ry * 1.5 + 4)
    x0, y0 = int(cx - rx - pad), int(cy - ry - pad)
    w, h = int(2 * (rx + pad)) + 1, int(2 * (ry + pad)) + 1
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (int(cx - x0), int(cy - y0)), (int(rx), int(ry)), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    s = max(1.0, ry * 0.6)
    m = cv2.GaussianBlur(m, (0, 0), s) * strength
    X0, Y0, X1, Y1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if X1 <= X0 or Y1 <= Y0:
        return
    mm = m[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0] * (1.0 - fr.occluders(X0, Y0, X1, Y1, foot_y))
    roi = fr.img[Y0:Y1, X0:X1].astype(np.float32) * (1.0 - mm[..., None])
    fr.img[Y0:Y1, X0:X1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)


def soften(rgb, alpha, sigma=0.7):
    """Blur a sprite a little (premultiplied) to match the footage's softness."""
    a = cv2.GaussianBlur(alpha, (0, 0), sigma)
    c = cv2.GaussianBlur(rgb * alpha[..., None], (0, 0), sigma)
    return c / np.maximum(a, 1e-4)[..., None], a


def scaled(rgb, alpha, hpx, squeeze=1.0, flip=False):
    h = max(3, int(round(hpx)))
    s = h / alpha.shape[0]
    w = max(3, int(round(alpha.shape[1] * s * squeeze)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    r = cv2.resize(rgb, (w, h), interpolation=interp)
    a = cv2.resize(alpha, (w, h), interpolation=interp)
    if flip:
        r, a = r[:, ::-1].copy(), a[:, ::-1].copy()
    return soften(r, a, 0.6)


# ----------------------------------------------------------------------------- 3-D boxes (goods, vans, grills)
def face_texture(kind, rng, w_m, h_m, colour=None, top=False):
    """BGRA float32 texture for a box face of w_m x h_m metres (120 px/m)."""
    k = 120.0
    tw, th = max(6, int(w_m * k)), max(6, int(h_m * k))
    a = np.ones((th, tw), np.float32)
    n = fbm(rng, th, tw, 24) - 0.5
    fine = rng.random((th, tw), dtype=np.float32) - 0.5
    if kind == "cardboard":
        base = np.array(colour if colour is not None else (80, 128, 170), np.float32)
        rgb = base * (1 + 0.16 * n[..., None]) + 6 * fine[..., None]
        tape = np.array((120, 165, 195), np.float32)
        if top:  # tape along the middle seam
            y = th // 2
            wdt = max(2, int(0.06 * k))
            rgb[y - wdt // 2:y + wdt // 2 + 1] = tape * (1 + 0.05 * n[y - wdt // 2:y + wdt // 2 + 1, :, None])
            rgb[y:y + 1] *= 0.7
        else:
            x = tw // 2
            wdt = max(2, int(0.06 * k))
            rgb[:max(2, th // 4), x - wdt // 2:x + wdt // 2 + 1] = tape
            if rng.random() < 0.6:  # printed marks
                px, py = int(rng.uniform(0.1, 0.5) * tw), int(rng.uniform(0.35, 0.6) * th)
                cv2.rectangle(rgb, (px, py), (px + max(3, tw // 4), py + max(2, th // 8)), (40, 50, 70), -1)
                cv2.putText(rgb, "->", (px, py + th // 4), cv2.FONT_HERSHEY_SIMPLEX, max(0.3, th / 200),
                            (40, 50, 70), max(1, th // 60))
    elif kind == "crate":
        base = np.array(colour, np.float32)
        rgb = np.broadcast_to(base, (th, tw, 3)) * (1 + 0.10 * n[..., None]) + 4 * fine[..., None]
        if not top:
            hw, hh = max(2, tw // 9), max(2, th // 5)
            for yy in range(int(th * 0.25), th - hh, int(hh * 1.6)):
                for xx in range(hw // 2, tw - hw, int(hw * 1.6)):
                    rgb[yy:yy + hh, xx:xx + hw] *= 0.35
            rgb[:max(1, th // 10)] *= 1.15
    elif kind == "wood":
        base = np.array(colour if colour is not None else (60, 100, 140), np.float32)
        grain = fbm(rng, th, max(6, tw // 8), 6)
        grain = cv2.resize(grain, (tw, th))
        rgb = base * (0.8 + 0.35 * grain[..., None]) + 5 * fine[..., None]
        for yy in range(0, th, max(3, int(0.12 * k))):
            rgb[yy:yy + 1] *= 0.55
    elif kind == "paint":  # vehicle body panel
        base = np.array(colour, np.float32)
        rgb = base * (1 + 0.05 * n[..., None]) + 3 * fine[..., None]
    elif kind == "metal":
        base = np.array(colour if colour is not None else (40, 40, 42), np.float32)
        rgb = base * (1 + 0.15 * n[..., None]) + 4 * fine[..., None]
    else:
        raise ValueError(kind)
    # edges a little darker (worn corners, seams)
    e = max(1, int(0.03 * k))
    rgb = np.array(rgb, np.float32)
    rgb[:e] *= 0.82
    rgb[-e:] *= 0.82
    rgb[:, :e] *= 0.82
    rgb[:, -e:] *= 0.82
    return np.dstack([np.clip(rgb, 0, 255), a]).astype(np.float32)


class BoxSpec:
    """A box on the ground: centre (gx, gy) in metres, length L along heading theta, depth D,
    height Hh, base height z0; textures per face ('top', 'front', 'back', 'left', 'right')."""

    def __init__(self, gx, gy, L, D, Hh, theta, tex, z0=0.0):
        self.gx, self.gy, self.L, self.D, self.Hh, self.theta, self.tex, self.z0 = gx, gy, L, D, Hh, theta, tex, z0

    def corners(self):
        u = np.array([math.cos(self.theta), math.sin(self.theta)])
        v = np.array([-math.sin(self.theta), math.cos(self.theta)])
        c = np.array([self.gx, self.gy])
        # counter-clockwise seen from above (ground x right, y away from the camera)
        return [c - u * self.L / 2 - v * self.D / 2, c + u * self.L / 2 - v * self.D / 2,
                c + u * self.L / 2 + v * self.D / 2, c - u * self.L / 2 + v * self.D / 2]


def render_boxes(boxes, extra=None):
    """Render boxes (painter's order, far first) into a sprite. Returns (rgb, alpha, x0, y0, foot_y)
    in image pixels; foot_y is the image row of the front-most footprint point. `extra(canvas,
    x0, y0)` may draw more on the canvas (BGRA float) afterwards."""
    pts = []
    for b in boxes:
        for c in b.corners():
            for z in (b.z0, b.z0 + b.Hh):
                pts.append(project(c[0], c[1], z))
    pts = np.array(pts)
    x0, y0 = int(math.floor(pts[:, 0].min())) - 3, int(math.floor(pts[:, 1].min())) - 3
    x1, y1 = int(math.ceil(pts[:, 0].max())) + 3, int(math.ceil(pts[:, 1].max())) + 3
    cw, ch = x1 - x0, y1 - y0
    canvas = np.zeros((ch, cw, 4), np.float32)
    foot_y = max(to_image(c[0], c[1])[1] for b in boxes for c in b.corners())
    for b in sorted(boxes, key=lambda b: (-b.gy, b.z0)):
        cs = b.corners()
        names = ["front", "right", "back", "left"]  # edges 0-1, 1-2, 2-3, 3-0 (for theta = 0)
        faces = []
        for i in range(4):
            a_, b_ = cs[i], cs[(i + 1) % 4]
            q = [project(a_[0], a_[1], b.z0 + b.Hh), project(b_[0], b_[1], b.z0 + b.Hh),
                 project(b_[0], b_[1], b.z0), project(a_[0], a_[1], b.z0)]
            # visible when the bottom edge runs left-to-right in the image as seen from outside
            ba, bb = to_image(a_[0], a_[1]), to_image(b_[0], b_[1])
            nrm = np.array([b_[1] - a_[1], -(b_[0] - a_[0])])  # outward normal (ground)
            if bb[0] - ba[0] > 0.3:
                shade = 0.80 + 0.08 * (nrm[0] / (np.linalg.norm(nrm) + 1e-9))
                faces.append((names[i], q, shade))
        top = [project(c[0], c[1], b.z0 + b.Hh) for c in (cs[3], cs[2], cs[1], cs[0])]
        faces.append(("top", top, 1.0))
        for name, q, shade in faces:
            tex = b.tex.get(name) if isinstance(b.tex, dict) else None
            if tex is None:
                tex = b.tex.get("side") if isinstance(b.tex, dict) else b.tex
            th, tw = tex.shape[:2]
            src = np.float32([(0, 0), (tw - 1, 0), (tw - 1, th - 1), (0, th - 1)])
            dst = np.float32([(p[0] - x0, p[1] - y0) for p in q])
            M = cv2.getPerspectiveTransform(src, dst)
            wv = cv2.warpPerspective(tex, M, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                     borderValue=(0, 0, 0, 0))
            al = wv[..., 3:4]
            canvas[..., :3] = canvas[..., :3] * (1 - al) + wv[..., :3] * shade * al
            canvas[..., 3:4] = canvas[..., 3:4] * (1 - al) + al
    if extra is not None:
        extra(canvas, x0, y0)
    return np.clip(canvas[..., :3], 0, 255), np.clip(canvas[..., 3], 0, 1), x0, y0, foot_y


# ----------------------------------------------------------------------------- heightfield piles (tarps)
def render_pile(gx, gy, a_m, b_m, h_m, rng, style):
    """A pile covered by a tarp: a wrinkled dome over an elliptic footprint, ray-marched with
    verticals kept vertical. style: 'blue', 'striped', 'green', 'sacks'."""
    cx, cy = to_image(gx, gy)
    k = ppm(cx, cy)
    x0 = int(cx - a_m * k) - 4
    x1 = int(cx + a_m * k) + 4
    fy = to_image(gx, gy - b_m)[1]
    by = to_image(gx, gy + b_m)[1]
    y0 = int(by - h_m * k * 1.3) - 4
    y1 = int(fy) + 4
    cw, ch = x1 - x0, y1 - y0
    us, vs = np.meshgrid(np.arange(cw, dtype=np.float64) + x0, np.arange(ch, dtype=np.float64) + y0)
    wr = fbm(rng, 64, 64, 10) - 0.5
    wr2 = fbm(rng, 64, 64, 4) - 0.5
    hit = np.zeros((ch, cw), bool)
    hz = np.zeros((ch, cw))
    hx = np.zeros((ch, cw))
    hyv = np.zeros((ch, cw))
    steps = 60
    Hinv = H_IG

    def heights(px, py):
        # ground coordinates of image points (vectorised homography)
        den = Hinv[2, 0] * px + Hinv[2, 1] * py + Hinv[2, 2]
        X = (Hinv[0, 0] * px + Hinv[0, 1] * py + Hinv[0, 2]) / den
        Y = (Hinv[1, 0] * px + Hinv[1, 1] * py + Hinv[1, 2]) / den
        ex, ey = (X - gx) / a_m, (Y - gy) / b_m
        r2 = ex * ex + ey * ey
        ix = np.clip(((ex + 1) * 31.5), 0, 63).astype(np.int32)
        iy = np.clip(((ey + 1) * 31.5), 0, 63).astype(np.int32)
        bump = 1 + 0.25 * wr[iy, ix] + 0.12 * wr2[iy, ix]
        hh = h_m * np.sqrt(np.clip(1 - r2, 0, 1)) ** 0.8 * bump
        hh[r2 >= 1] = -1
        return hh, X, Y

    for s in range(steps, -1, -1):
        z = h_m * 1.3 * s / steps
        hh, X, Y = heights(us, vs + z * k)
        new = (~hit) & (hh >= z)
        hz[new], hx[new], hyv[new] = z, X[new], Y[new]
        hit |= new
    # shading from the height map's gradient (light from above, a little from the left)
    hzs = cv2.GaussianBlur(hz.astype(np.float32), (0, 0), 1.0)
    gxz = cv2.Sobel(hzs, cv2.CV_32F, 1, 0, ksize=3) * k / 8
    gyz = cv2.Sobel(hzs, cv2.CV_32F, 0, 1, ksize=3) * k / 8
    shade = np.clip(0.78 - 0.35 * gxz * 0.02 * 50 - 0.25 * gyz + 0.25 * (hz / h_m), 0.35, 1.15)
    folds = fbm(rng, ch, cw, 5)
    creases = np.abs(np.sin((hx - gx) * 9.0 + 6.0 * fbm(rng, ch, cw, 12)))
    shade = shade * (0.72 + 0.45 * folds) * (0.8 + 0.25 * creases)
    shade += 0.25 * np.clip(folds - 0.62, 0, 1) * 4 * (style in ("blue", "striped", "green"))
    if style == "striped":
        stripe = (np.floor((hx - gx) / 0.25) % 2).astype(bool)
        c1, c2 = np.array((60, 60, 200), np.float32), np.array((225, 225, 225), np.float32)
        col = np.where(stripe[..., None], c1, c2)
        col = np.where(((np.floor((hx - gx) / 0.25) % 3) == 2)[..., None], np.float32((170, 90, 30)), col)
    elif style == "green":
        col = np.broadcast_to(np.float32((60, 110, 45)), (ch, cw, 3))
    elif style == "sacks":
        col = np.broadcast_to(np.float32((150, 180, 195)), (ch, cw, 3))
    else:
        col = np.broadcast_to(np.float32((170, 95, 25)), (ch, cw, 3))
    rgb = col * shade[..., None] + (rng.random((ch, cw, 1), dtype=np.float32) - 0.5) * 8
    alpha = cv2.GaussianBlur(hit.astype(np.float32), (3, 3), 0.7)
    return np.clip(rgb, 0, 255).astype(np.float32), alpha, x0, y0, fy


# ----------------------------------------------------------------------------- scene objects
def exit_distance(g, d):
    """Metres from ground point g along direction d until a bike there is out of the frame."""
    for s_ in np.arange(0.5, 20.0, 0.25):
        x, y = to_image(g[0] + d[0] * s_, g[1] + d[1] * s_)
        if x < -ppm(x, y) or x > W + ppm(x, y) or y > H + 20:
            return float(s_)
    return 20.0


def covered(u):
    """Fraction of an arrival path covered at time fraction u: steady speed, then braking over
    the last 40 %."""
    u = min(1.0, max(0.0, u))
    c = u if u < 0.6 else 0.6 + (0.16 - (1 - u) ** 2) / 0.8
    return c / 0.8


class Bike:
    """A two-wheeler that is ridden in from outside the frame along the ground (steady, then
    braking into its spot), stays, and is ridden out of the frame the way it faces."""

    def __init__(self, sprite, spot, rest, leave=None, come=(-1.0, 0.12), squeeze=1.0, zone="pavement",
                 event=True):
        self.rgb, self.alpha, self.h_m = sprite
        self.spot = spot
        self.g = to_ground(*spot)
        self.rest, self.leave = rest, leave
        d_in = np.array(come, float) / np.linalg.norm(come)
        d_out = np.array((-come[0], come[1]), float) / np.linalg.norm(come)  # rides on the way it faces
        self.d_in, self.dist_in = d_in, exit_distance(self.g, d_in)
        self.d_out, self.dist_out = d_out, exit_distance(self.g, d_out)
        # 2-4 s, about 3.5 m/s on average (walking pace for short paths)
        self.arrive_dur = float(np.clip(self.dist_in / 3.5, 2.0, 4.0))
        self.leave_dur = float(np.clip(self.dist_out / 3.5, 2.0, 4.0))
        # faces the way it rides in: the sprites face right
        self.flip_in = d_in[0] > 0
        self.flip_out = d_out[0] < 0
        self.squeeze = squeeze
        self.zone = zone
        self.event = event
        self.cache = None
        self.stats = []

    def interval(self):
        return self.rest, self.leave

    def pose(self, t):
        t0 = self.rest - self.arrive_dur
        if t < t0:
            return None
        if t < self.rest:
            u = (t - t0) / self.arrive_dur
            off = self.d_in * self.dist_in * (1 - covered(u))
            return (self.g[0] + off[0], self.g[1] + off[1]), True, self.flip_in, u
        if self.leave is None or t < self.leave:
            return self.g, False, self.flip_in, 1.0
        u = (t - self.leave) / self.leave_dur
        if u > 1.0:
            return None
        off = self.d_out * self.dist_out * (1 - covered(1 - u))  # pulls away, then steady
        return (self.g[0] + off[0], self.g[1] + off[1]), True, self.flip_out, u

    def foot_y(self, t):
        p = self.pose(t)
        return None if p is None else to_image(*p[0])[1]

    def draw(self, fr, t):
        p = self.pose(t)
        if p is None:
            return
        (gx, gy), moving, flip, u = p
        x, y = to_image(gx, gy)
        if x < -200 or x > W + 200:
            return
        k = ppm(x, y)
        if moving:
            y += 0.8 * math.sin(t * 9.0)  # wobble while ridden
            rgb, a = scaled(self.rgb, self.alpha, self.h_m * k, self.squeeze, flip)
        else:
            if self.cache is None:
                self.cache = scaled(self.rgb, self.alpha, self.h_m * k, self.squeeze, flip)
            rgb, a = self.cache
        h, w = a.shape
        x0, y0 = int(round(x - w / 2)), int(round(y - h + 1))
        shadow(fr, x, y - 1, w * 0.45, 0.22 * ppm_depth(x, y), 0.35, y)
        at_rest = (not moving) and self.event
        paste(fr, x0, y0, rgb, a, y, stats=self.stats if at_rest else None)


class Static:
    """A pre-rendered static ground object (goods, stall, wall, manhole) present in [t_in, t_out)
    with a fade in/out."""

    def __init__(self, render, t_in=0.0, t_out=None, fade=1.0, zone=None, event=False, shadow_s=0.35,
                 flat=False, stats=True):
        rgb, alpha, self.x0, self.y0, self.fy = render
        self.rgb, self.alpha = soften(np.asarray(rgb, np.float32), np.asarray(alpha, np.float32), 0.6)
        self.t_in, self.t_out, self.fade = t_in, t_out, fade
        self.zone, self.event = zone, event
        self.shadow_s = shadow_s
        self.flat = flat
        self.stats = [] if stats else None

    def interval(self):
        return self.t_in + self.fade, self.t_out

    def gain(self, t):
        if t < self.t_in:
            return 0.0
        g = 1.0 if self.fade <= 0 else min(1.0, (t - self.t_in) / self.fade)
        if self.t_out is not None:
            if t >= self.t_out + self.fade:
                return 0.0
            if t >= self.t_out:
                g = 0.0 if self.fade <= 0 else min(g, 1 - (t - self.t_out) / self.fade)
        return g

    def foot_y(self, t):
        return self.fy if self.gain(t) > 0 else None

    def draw(self, fr, t):
        g = self.gain(t)
        if g <= 0:
            return
        h, w = self.alpha.shape
        if self.flat:
            paste(fr, self.x0, self.y0, self.rgb, self.alpha, -10, gain=g)
            return
        if self.shadow_s > 0:
            cx = self.x0 + w / 2
            shadow(fr, cx, self.fy - 0.12 * ppm_depth(cx, self.fy), w * 0.5, 0.35 * ppm_depth(cx, self.fy),
                   self.shadow_s * g, self.fy)
        full = g >= 1.0 and self.event
        paste(fr, self.x0, self.y0, self.rgb, self.alpha, self.fy - 2, gain=g,
              stats=self.stats if full and self.stats is not None else None)


class Vehicle:
    """A box-shaped vehicle (van or car) driving along a ground path with stops: waypoints
    [(t, gx, gy)], heading along the motion."""

    def __init__(self, kind, rng, keys, colour=(228, 230, 232), ctrl=None):
        self.kind = kind
        self.keys = keys
        self.ctrl = ctrl or {}  # segment index -> ground control point of a quadratic Bezier (a curve)
        if kind == "van":
            self.L, self.D, self.Hh = 4.6, 1.95, 2.15
        else:
            self.L, self.D, self.Hh = 4.3, 1.8, 1.45
        self.colour = colour
        self.tex = self._textures(rng)
        self.cache = {}

    def _textures(self, rng):
        L, D, Hh = self.L, self.D, self.Hh
        c = self.colour
        glass = (70, 55, 45)
        side = face_texture("paint", rng, L, Hh, c)
        sh, sw = side.shape[:2]
        k = sw / L
        wh = int(0.32 * k)  # wheel-well band at the bottom: transparent except tyres
        side[sh - wh:, :, 3] = 0
        side[sh - wh:sh - wh + 2, :, :3] *= 0.5
        win_top = int(sh * (0.12 if self.kind == "van" else 0.08))
        win_bot = int(sh * (0.42 if self.kind == "van" else 0.45))
        if self.kind == "van":
            cv2.rectangle(side, (int(sw * 0.74), win_top), (int(sw * 0.96), win_bot), (*glass, 1), -1)
            cv2.line(side, (int(sw * 0.72), win_top), (int(sw * 0.72), sh - wh), (c[0] * 0.6, c[1] * 0.6, c[2] * 0.6, 1), 2)
            cv2.line(side, (int(sw * 0.40), win_top), (int(sw * 0.40), sh - wh), (c[0] * 0.7, c[1] * 0.7, c[2] * 0.7, 1), 1)
        else:
            cv2.rectangle(side, (int(sw * 0.22), win_top), (int(sw * 0.78), win_bot), (*glass, 1), -1)
            cv2.line(side, (int(sw * 0.5), win_top), (int(sw * 0.5), sh - wh), (c[0] * 0.6, c[1] * 0.6, c[2] * 0.6, 1), 1)
        for fx in (0.17, 0.83):
            cv2.circle(side, (int(sw * fx), sh - int(0.36 * k)), int(0.36 * k), (22, 22, 24, 1), -1, cv2.LINE_AA)
            cv2.circle(side, (int(sw * fx), sh - int(0.36 * k)), int(0.17 * k), (120, 120, 125, 1), -1, cv2.LINE_AA)
        front = face_texture("paint", rng, D, Hh, c)
        fh, fw = front.shape[:2]
        front[fh - wh:, :, 3] = 0
        cv2.rectangle(front, (int(fw * 0.06), int(fh * 0.10)), (int(fw * 0.94), int(fh * (0.42 if self.kind == "van" else 0.5))), (*glass, 1), -1)
        cv2.rectangle(front, (int(fw * 0.3), int(fh * 0.62)), (int(fw * 0.7), int(fh * 0.72)), (40, 40, 42, 1), -1)
        for fx in (0.12, 0.78):
            cv2.rectangle(front, (int(fw * fx), int(fh * 0.58)), (int(fw * fx + fw * 0.12), int(fh * 0.65)), (215, 225, 230, 1), -1)
        cv2.rectangle(front, (0, fh - wh - int(0.12 * k)), (fw - 1, fh - wh), (50, 50, 52, 1), -1)
        back = face_texture("paint", rng, D, Hh, c)
        bh, bw = back.shape[:2]
        back[bh - wh:, :, 3] = 0
        cv2.line(back, (bw // 2, int(bh * 0.1)), (bw // 2, bh - wh), (c[0] * 0.6, c[1] * 0.6, c[2] * 0.6, 1), 1)
        if self.kind == "car":
            cv2.rectangle(back, (int(bw * 0.1), int(bh * 0.1)), (int(bw * 0.9), int(bh * 0.42)), (*glass, 1), -1)
        for fx in (0.06, 0.84):
            cv2.rectangle(back, (int(bw * fx), int(bh * 0.55)), (int(bw * fx + bw * 0.1), int(bh * 0.68)), (30, 30, 150, 1), -1)
        top = face_texture("paint", rng, L, D, tuple(min(255, v * 1.04) for v in c))
        return {"side": side, "front": front, "back": back, "top": top}

    def state(self, t):
        """((gx, gy), heading or None when stopped); keys [(t, gx, gy)]: motion along straight
        segments or Bezier curves (self.ctrl) between keys, easing out of and into stops."""
        ks = self.keys
        if t < ks[0][0] or t > ks[-1][0]:
            return None
        for i in range(len(ks) - 1):
            (t0, x0, y0), (t1, x1, y1) = ks[i], ks[i + 1]
            if t0 <= t <= t1:
                if (x0, y0) == (x1, y1):
                    return (x0, y0), None
                u = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                stop_before = i == 0 or ks[i - 1][1:] == ks[i][1:]
                stop_after = i + 2 >= len(ks) or ks[i + 2][1:] == ks[i + 1][1:]
                if stop_before and stop_after:
                    u = ease(u)
                elif stop_before:
                    u = u * u
                elif stop_after:
                    u = 1 - (1 - u) ** 2
                p0, p1 = np.array((x0, y0)), np.array((x1, y1))
                c = np.array(self.ctrl[i]) if i in self.ctrl else (p0 + p1) / 2
                pos = (1 - u) ** 2 * p0 + 2 * (1 - u) * u * c + u * u * p1
                tan = 2 * (1 - u) * (c - p0) + 2 * u * (p1 - c)
                return (float(pos[0]), float(pos[1])), math.atan2(tan[1], tan[0])
        return None

    def heading(self, t):
        """Heading while stopped: that at the end of the last motion before t (or at the start of
        the first one)."""
        ks = self.keys
        best = None
        for i in range(len(ks) - 1):
            (t0, x0, y0), (t1, x1, y1) = ks[i], ks[i + 1]
            if (x0, y0) != (x1, y1):
                c = self.ctrl.get(i)
                if best is None:
                    q = c if c is not None else (x1, y1)
                    best = math.atan2(q[1] - y0, q[0] - x0)
                if t1 <= t:
                    q = c if c is not None else (x0, y0)
                    best = math.atan2(y1 - q[1], x1 - q[0])
        return best

    def render_at(self, g, th, still):
        key = (round(g[0], 3), round(g[1], 3), round(th, 3))
        if key in self.cache:
            return self.cache[key]
        b = BoxSpec(g[0], g[1], self.L, self.D, self.Hh, th, None)
        # corner order: 0-1 edge is the side at -v, 1-2 the leading end (+u), 3-0 the trailing end
        tex = {"front": self.tex["side"], "right": self.tex["front"], "back": self.tex["side"][:, ::-1].copy(),
               "left": self.tex["back"], "top": self.tex["top"]}
        b.tex = tex
        rgb, a, x0, y0, fy = render_boxes([b])
        out = soften(rgb, a, 0.6) + (x0, y0, fy)
        if still:
            self.cache[key] = out
        return out

    def front_lights(self, t):
        s = self.state(t)
        if s is None:
            return []
        g, th = s
        th = self.heading(t) if th is None else th
        u = np.array([math.cos(th), math.sin(th)])
        v = np.array([-math.sin(th), math.cos(th)])
        c = np.array(g) + u * self.L / 2
        return [project(*(c + v * s_ * self.D * 0.38), 0.7) for s_ in (-1, 1)] + [th]

    def foot_y(self, t):
        s = self.state(t)
        if s is None:
            return None
        return to_image(*s[0])[1] + 0.9 * ppm_depth(*to_image(*s[0]))

    def draw(self, fr, t):
        s = self.state(t)
        if s is None:
            return
        g, th = s
        still = th is None
        th = self.heading(t) if th is None else th
        rgb, a, x0, y0, fy = self.render_at(g, th, still)
        cx, cy = to_image(*g)
        shadow(fr, cx, cy + 0.1 * ppm_depth(cx, cy), self.L * 0.55 * ppm(cx, cy), self.D * 0.6 * ppm_depth(cx, cy),
               0.45, fy)
        paste(fr, x0, y0, rgb, a, fy - 0.5 * ppm_depth(cx, cy))


class Standing:
    """A pedestrian cut from vtest, held still (fade in/out) at a spot."""

    def __init__(self, walker, spot, t_in, t_out):
        rgb, a, (sx, sy) = walker
        s = ppm(*spot) / ppm(sx, sy)
        h = a.shape[0] * s
        self.rgb, self.alpha = scaled(rgb, a, h)
        self.spot, self.t_in, self.t_out = spot, t_in, t_out

    def foot_y(self, t):
        return self.spot[1] if self.t_in <= t < self.t_out + 0.5 else None

    def draw(self, fr, t):
        if not (self.t_in <= t < self.t_out + 0.5):
            return
        g = min(1.0, (t - self.t_in) / 0.5, 1.0 - (t - self.t_out) / 0.5 if t > self.t_out else 1.0)
        h, w = self.alpha.shape
        x, y = self.spot
        shadow(fr, x, y - 1, w * 0.5, 0.15 * ppm_depth(x, y), 0.3 * g, y)
        paste(fr, int(x - w / 2), int(y - h + 1), self.rgb, self.alpha, y, gain=g)


# ----------------------------------------------------------------------------- smoke and steam
class Plume:
    """Particle plume: puffs emitted at `rate` per second from a ground point, carried by wind
    (with gusts) and buoyancy, jittered by turbulence, growing and fading; each puff carries its
    own noise texture (rotating, cross-faded); a large noise field drifting with the wind breaks
    the plume up further. Density accumulates (Beer-Lambert), alpha saturates at max_alpha."""

    def __init__(self, rng, src, t_on, t_off, rate=6.0, life=6.0, rise=0.7, wind=(0.0, 0.0), gust=0.3,
                 max_alpha=0.5, grey=205.0, warm=False, r0=0.12, growth=0.13, turb=0.35,
                 stretch=0.0, night_light=0.55, zone="lawn", event=True, steam=False):
        self.rng = rng
        self.sx, self.sy = src
        self.k = ppm(*src)
        self.kd = ppm_depth(*src)
        self.t_on, self.t_off = t_on, t_off
        self.rate, self.life, self.rise = rate, life, rise
        self.wind = np.array(wind, float)
        self.gust = gust
        self.max_alpha, self.grey, self.warm = max_alpha, grey, warm
        self.r0, self.growth, self.turb, self.stretch = r0, growth, turb, stretch
        self.night_light = night_light
        self.zone, self.event, self.steam = zone, event, steam
        self.puffs = []
        self.next_emit = t_on
        self.tex = []
        yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
        rr = np.hypot(xx - 31.5, yy - 31.5) / 32.0
        for _ in range(10):
            # a lumpy (cauliflower) blob: noise thresholded against the radial fall-off
            n = fbm(rng, 64, 64, 14, 4)
            n = (n - n.min()) / (n.max() - n.min() + 1e-6)
            shape = np.clip((1.0 - rr ** 1.5) * 1.25 - (1 - n) * 0.9, 0, 1)
            self.tex.append((shape ** 0.7 * (0.55 + 0.45 * n)).astype(np.float32))
        # two large noise fields that drift with the flow at different speeds: the plume's inner
        # structure moves and changes shape all the time
        self.fields = []
        for cell in (36.0, 14.0):
            self.fields.append(periodic_noise(rng, 256, cell))
        self.gphase = rng.uniform(0, 100, 3)
        self.density = 1.0 if steam else 0.6
        self.drift = np.zeros(2)

    def interval(self):
        return self.t_on, self.t_off

    def sway(self, t):
        """Slow lateral meander of the column (m/s given to puffs as they leave the source)."""
        ph = self.gphase
        return 0.22 * self.rise * (math.sin(0.9 * t + ph[0]) + 0.6 * math.sin(2.3 * t + ph[1]))

    def wind_at(self, t):
        g = self.gust * (0.6 * math.sin(0.37 * t + self.gphase[0]) + 0.4 * math.sin(1.13 * t + self.gphase[1]))
        base = self.wind
        mag = np.linalg.norm(base)
        if mag > 0:
            return base * (1 + g)
        return np.array([0.5 * g * math.sin(0.21 * t + self.gphase[2]), 0.0])

    def step(self, t, dt):
        rng = self.rng
        while self.next_emit <= t and (self.t_off is None or self.next_emit < self.t_off):
            self.puffs.append({
                "born": self.next_emit,
                "p": np.array([rng.normal(0, 0.06), 0.05, rng.normal(0, 0.06)]),  # x (across), z (up), d (depth)
                "v": np.array([self.sway(self.next_emit) + rng.normal(0, 0.05), self.rise * rng.uniform(0.8, 1.2),
                               rng.normal(0, 0.03)]),
                "tex": (int(rng.integers(10)), int(rng.integers(10))),
                "rot": rng.uniform(0, 360), "spin": rng.normal(0, 25),
                "life": self.life * rng.uniform(0.75, 1.25),
                "d0": rng.uniform(0.7, 1.3),
                "ou": np.zeros(3),
            })
            self.next_emit += (1.0 / self.rate) * rng.uniform(0.6, 1.4)
        wind = self.wind_at(t)
        keep = []
        for p in self.puffs:
            age = t - p["born"]
            if age > p["life"]:
                continue
            p["ou"] += -p["ou"] * dt / 0.6 + rng.normal(0, self.turb, 3) * math.sqrt(dt) * np.array([1, 0.7, 0.6])
            target = np.array([wind[0], self.rise * (0.35 + 0.65 * math.exp(-age / 2.5)), wind[1]])
            tau = 0.7 if not self.steam else 0.3
            p["v"] += (target - p["v"]) * min(1.0, dt / tau)
            p["p"] += (p["v"] + p["ou"]) * dt
            r = self.r0 + self.growth * age
            p["p"][1] = max(p["p"][1], 0.45 * r)  # stays above the ground: spreads along it
            keep.append(p)
        self.puffs = keep
        self.drift += np.array([wind[0], self.rise * 0.6]) * dt

    def draw(self, img, t, fr, light=1.0, warm_light=0.0):
        """Composite onto the float32 frame `img`. light: colour gain (night); fr: occluders."""
        if not self.puffs:
            return
        k, kd = self.k, self.kd
        items = []
        for p in self.puffs:
            age = t - p["born"]
            r = (self.r0 + self.growth * age) * k
            x = self.sx + p["p"][0] * k
            y = self.sy - p["p"][1] * k - p["p"][2] * kd
            life = p["life"]
            fade_in = min(1.0, age / (0.25 if not self.steam else 0.08))
            d = p["d0"] * fade_in * (1 - age / life) ** (1.6 if not self.steam else 1.2)
            d *= (self.r0 * k / max(r, 1e-3)) ** 0.9 * 2.2  # spreads out as it grows
            sx = 1 + self.stretch * age
            items.append((x, y, r, sx, d, age, p))
        xs = [it[0] for it in items]
        ys = [it[1] for it in items]
        rs = [it[2] * 2.2 * it[3] for it in items]
        X0 = int(max(0, min(x - r for x, r in zip(xs, rs)) - 2))
        X1 = int(min(W, max(x + r for x, r in zip(xs, rs)) + 2))
        Y0 = int(max(0, min(y - r for y, r in zip(ys, rs)) - 2))
        Y1 = int(min(H, max(y + r for y, r in zip(ys, rs)) + 2))
        if X1 - X0 < 4 or Y1 - Y0 < 4:
            return
        s = 0.5  # render at half resolution
        hw, hh = int((X1 - X0) * s) + 1, int((Y1 - Y0) * s) + 1
        D = np.zeros((hh, hw), np.float32)
        C = np.zeros((hh, hw, 3), np.float32)
        warm_c = np.array((140, 175, 220), np.float32)  # amber, BGR
        for (x, y, r, sxf, d, age, p) in items:
            R = max(1.0, r * s)
            size = int(4.4 * R * sxf) + 3
            ta, tb = p["tex"]
            wgt = min(1.0, age / p["life"] * 1.5)
            tex = self.tex[ta] * (1 - wgt) + self.tex[tb] * wgt
            ang = math.radians(p["rot"] + p["spin"] * age)
            sc = (4.4 * R) / 64.0
            ca, sa = math.cos(ang), math.sin(ang)
            A = np.array([[sc * sxf * ca, -sc * sxf * sa], [sc * sa, sc * ca]])
            cx_d, cy_d = (x - X0) * s, (y - Y0) * s
            ox, oy = int(cx_d - size / 2), int(cy_d - size / 2)
            M = np.hstack([A, (np.array([cx_d - ox, cy_d - oy]) - A @ np.array([31.5, 31.5]))[:, None]])
            patch = cv2.warpAffine(tex, M, (size, size), flags=cv2.INTER_LINEAR) * d
            px0, py0 = max(0, ox), max(0, oy)
            px1, py1 = min(hw, ox + size), min(hh, oy + size)
            if px1 <= px0 or py1 <= py0:
                continue
            pp = patch[py0 - oy:py1 - oy, px0 - ox:px1 - ox]
            D[py0:py1, px0:px1] += pp
            if self.warm:
                wf = max(0.0, 1.0 - age / 1.6)
                col = warm_c * wf + np.float32(self.grey) * (1 - wf)
            else:
                col = np.float32((self.grey + 4, self.grey + 2, self.grey))
            C[py0:py1, px0:px1] += pp[..., None] * col
        # drifting noise fields: the plume's edge and inner lumps change all the time
        mod = np.ones((hh, hw), np.float32)
        for f_, speed, amp in zip(self.fields, (1.0, 1.6), (1.0, 0.6)):
            fx = (np.arange(hw) + int(X0 * s) - int(self.drift[0] * k * s * speed)) % 256
            fy = (np.arange(hh) + int(Y0 * s) + int(self.drift[1] * k * s * speed)) % 256
            fld = f_[fy][:, fx]
            mod *= (1 - amp * 0.5) + amp * fld
        col = np.where((D > 1e-3)[..., None], C / np.maximum(D, 1e-3)[..., None],
                       np.float32((self.grey + 4, self.grey + 2, self.grey)))
        D *= mod * mod * 1.8 * self.density
        A_ = 1.0 - np.exp(-D)
        A_ = self.max_alpha * np.tanh(A_ / self.max_alpha)
        A_ = cv2.resize(A_, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR)
        col = cv2.resize(col, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR)
        col = col * light
        if warm_light > 0:
            col += warm_light * np.float32((10, 40, 90))
        if fr is not None:
            A_ *= 1.0 - fr.occluders(X0, Y0, X1, Y1, getattr(self, "sy_ground", self.sy) + 2)
        roi = img[Y0:Y1, X0:X1]
        roi += (col - roi) * A_[..., None]


# ----------------------------------------------------------------------------- grill, light effects
class Grill:
    """A barbecue grill on the lawn: a dark box on legs, glowing coals that flicker (drawn after
    the darkening: emissive) and, at night, an orange glow."""

    def __init__(self, rng, spot, t_on, t_off):
        gx, gy = to_ground(*spot)
        self.spot, self.t_on, self.t_off = spot, t_on, t_off
        self.rng = rng
        body = BoxSpec(gx, gy, 0.75, 0.40, 0.30, 0.0, {"side": face_texture("metal", rng, 0.75, 0.30),
                                                        "top": face_texture("metal", rng, 0.75, 0.40, (25, 25, 27))}, z0=0.47)
        legs = []
        for dx in (-0.33, 0.33):
            for dy in (-0.16, 0.16):
                legs.append(BoxSpec(gx + dx, gy + dy, 0.04, 0.04, 0.47, 0.0, face_texture("metal", rng, 0.04, 0.47, (30, 30, 30))))
        self.sprite = render_boxes(legs + [body])
        cs = body.corners()
        self.top = np.array([project(c[0], c[1], 0.77) for c in (cs[3], cs[2], cs[1], cs[0])], np.float32)
        self.static = Static(self.sprite, t_in=0.0, t_out=None, fade=0.0, shadow_s=0.3, stats=False)

    def foot_y(self, t):
        return self.static.fy

    def draw(self, fr, t):
        self.static.draw(fr, t)

    def emissive(self, img, t, night, fr):
        if not (self.t_on - 1.0 <= t <= (self.t_off if self.t_off is not None else 1e9) + 20.0):
            return
        heat = 1.0
        if t < self.t_on:
            heat = max(0.0, t - self.t_on + 1.0)
        elif self.t_off is not None and t > self.t_off:
            heat = max(0.0, 1.0 - (t - self.t_off) / 20.0)
        if heat <= 0:
            return
        q = self.top
        x0, y0 = int(q[:, 0].min()), int(q[:, 1].min())
        x1, y1 = int(q[:, 0].max()) + 1, int(q[:, 1].max()) + 1
        m = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(m, [np.int32(q - (x0, y0)).reshape(-1, 1, 2)], 1.0)
        m = cv2.erode(m, np.ones((2, 2), np.uint8))
        coal = self.rng.random(m.shape, dtype=np.float32)
        flick = 0.75 + 0.25 * math.sin(t * 7.3) * math.sin(t * 3.1 + 1.0)
        thr = 0.72 if not night else 0.5  # in daylight only a few embers show
        glow = np.clip((coal - thr) / (1 - thr) * 1.6 * flick * heat, 0, 1) * m
        ash = (0.25 + 0.2 * self.rng.random(m.shape, dtype=np.float32)) * m * heat
        roi = img[y0:y1, x0:x1]
        ash_col = np.float32((70, 72, 75)) * (0.35 if night else 1.0)
        roi += (ash_col - roi) * ash[..., None]
        col = np.stack([20 + 40 * glow, 70 + 130 * glow, 170 + 85 * glow], axis=-1)
        roi += (col - roi) * glow[..., None]
        if night:
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            add_glow(img, cx, cy, 0.9 * ppm(*self.spot), np.float32((20, 70, 140)) * heat * flick)


def add_glow(img, cx, cy, sigma, colour):
    """Additive Gaussian light (colour at the centre)."""
    r = int(3 * sigma) + 1
    x0, y0, x1, y1 = max(0, int(cx) - r), max(0, int(cy) - r), min(W, int(cx) + r), min(H, int(cy) + r)
    if x1 <= x0 or y1 <= y0:
        return
    xs = (np.arange(x0, x1, dtype=np.float32) - cx) ** 2
    ys = (np.arange(y0, y1, dtype=np.float32) - cy) ** 2
    g = np.exp(-(ys[:, None] + xs[None, :]) / (2 * sigma * sigma))
    img[y0:y1, x0:x1] += g[..., None] * colour


class Night:
    """Dusk/night: gamma, gain 0.25-0.45, blue tint, a warm pool of light under the lamp post,
    sensor noise (added at the very end)."""

    def __init__(self, rng, gain=0.3, gamma=1.3, noise=5.0, lamp=True):
        self.gain, self.noise = gain, noise
        self.lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma, 0, 255).astype(np.uint8)
        gm = np.empty((H, W, 3), np.float32)
        gm[:] = np.float32((1.18, 1.0, 0.82)) * gain
        if lamp:
            yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
            pool = np.exp(-(((xx - 430) / 170.0) ** 2 + ((yy - 300) / 120.0) ** 2))
            gm += pool[..., None] * np.float32((0.25, 0.42, 0.55)) * (0.45 / max(gain, 0.2)) * gain
        self.gainmap = gm
        # smoke and composited light sources are lit by the same pool
        self.light = 0.5 + 0.8 * gain

    def apply(self, img_u8):
        return cv2.multiply(cv2.LUT(img_u8, self.lut).astype(np.float32), self.gainmap)


class NoiseBank:
    def __init__(self, rng, sigma):
        self.sigma = sigma
        self.bank = [rng.normal(0, sigma, (H + 32, W + 32, 3)).astype(np.float32) for _ in range(3)]
        self.rng = rng

    def add(self, img):
        b = self.bank[int(self.rng.integers(3))]
        oy, ox = int(self.rng.integers(32)), int(self.rng.integers(32))
        n = b[oy:oy + H, ox:ox + W]
        lum = 0.6 + 0.4 * np.minimum(img, 255) / 255.0  # a little more noise in bright parts
        img += n * lum


class Fog:
    def __init__(self, t0, ramp=15.0, level=0.55, colour=205.0):
        self.t0, self.ramp, self.level, self.colour = t0, ramp, level, colour
        yy = np.linspace(1.0, 0.0, H, dtype=np.float32)
        self.grad = (0.75 + 0.35 * yy)[:, None, None]  # denser far away (top)

    def apply(self, img, t):
        f = self.level * ease((t - self.t0) / self.ramp)
        if f <= 0:
            return
        a = np.minimum(self.grad * f, 0.9)
        img *= 1 - a
        img += a * self.colour


class CloudShadows:
    def __init__(self, rng, times, depth=0.3):
        self.times = times  # start of each dip: 5 s down, 4 s held, 5 s up
        self.depth = depth
        m = np.zeros((H, W), np.float32)
        for _ in range(4):
            cv2.ellipse(m, (int(rng.uniform(250, 520)), int(rng.uniform(200, 380))),
                        (int(rng.uniform(180, 300)), int(rng.uniform(120, 200))), rng.uniform(0, 180), 0, 360, 1.0, -1)
        self.mask = cv2.GaussianBlur(m, (0, 0), 70)
        self.mask /= self.mask.max()

    def env(self, t):
        e = 0.0
        for t0 in self.times:
            if t0 <= t < t0 + 5:
                e = max(e, ease((t - t0) / 5))
            elif t0 + 5 <= t < t0 + 9:
                e = 1.0
            elif t0 + 9 <= t < t0 + 14:
                e = max(e, 1 - ease((t - t0 - 9) / 5))
        return e

    def apply(self, img, t):
        e = self.env(t)
        if e <= 0:
            return
        shift = int(3 * t)  # the cloud drifts slowly
        m = np.roll(self.mask, shift, axis=1)
        img *= (1.0 - self.depth * e * m)[..., None]


def white_shirts(fr, strength):
    """Recolour the torso of pedestrians whose feet are in (or approaching, `strength` ramps up
    over 50 px outside) the lawn zone to near-white."""
    k = np.ones((3, 3), np.uint8)
    n = 0
    for j, b in enumerate(fr.blobs):
        if b is None:
            continue
        x, y, w, h, _ = b
        fx, fy = min(W - 1, x + w // 2), min(H - 1, y + h - 1)
        g_ = float(strength[fy, fx])
        if h < 26 or h < 1.3 * w or g_ <= 0:
            continue
        t0, t1 = y + int(0.17 * h), y + int(0.52 * h)
        lab = (fr.labels[t0:t1, x:x + w] == j).astype(np.uint8)
        lab = cv2.erode(lab, k)
        if lab.sum() < 20:
            continue
        roi = fr.img[t0:t1, x:x + w].astype(np.float32)
        g = roi.mean(axis=2)
        mg = g[lab > 0].mean()
        v = 212 + 0.45 * (g - mg)
        new = np.stack([v + 6, v + 3, v], axis=-1)
        a = cv2.GaussianBlur(lab.astype(np.float32), (3, 3), 0)[..., None] * g_
        roi = roi * (1 - a) + np.clip(new, 0, 250) * a
        fr.img[t0:t1, x:x + w] = roi.astype(np.uint8)
        n += 1
    return n


class Headlights:
    """Additive headlight glare of passing cars (cars given as Vehicle objects)."""

    def __init__(self, cars):
        self.cars = cars

    def emissive(self, img, t):
        for car in self.cars:
            fl = car.front_lights(t)
            if not fl:
                continue
            th = fl[-1]
            for (x, y) in fl[:-1]:
                k = ppm(x, y)
                # facing the camera more when heading has a -y (towards camera) component
                facing = 0.55 + 0.45 * max(0.0, -math.sin(th))
                add_glow(img, x, y, 0.10 * k, np.float32((235, 250, 255)) * 1.6)
                add_glow(img, x, y, 0.45 * k, np.float32((150, 185, 200)) * facing)
                add_glow(img, x, y, 1.6 * k, np.float32((45, 60, 70)) * facing)
            # the pool of light on the road ahead
            x = (fl[0][0] + fl[1][0]) / 2 + math.cos(th) * 3.0 * ppm(*fl[0])
            y = (fl[0][1] + fl[1][1]) / 2 - math.sin(th) * 3.0 * ppm_depth(*fl[0]) + 0.7 * ppm(*fl[0])
            add_glow(img, x, y, 1.2 * ppm(x, max(0, min(H - 1, y))), np.float32((35, 45, 50)))


# ----------------------------------------------------------------------------- goods
def make_goods(kind, rng, spot, width_m):
    """Render goods whose front-centre stands at image point `spot`; width in metres."""
    gx, gy = to_ground(*spot)
    theta = rng.normal(0, 0.12)
    if kind == "boxes":
        boxes = []
        depth = max(0.4, width_m * rng.uniform(0.4, 0.6))
        gy_c = gy + depth / 2
        n_base = max(1, int(round(width_m / rng.uniform(0.45, 0.6))))
        xs = np.linspace(-width_m / 2, width_m / 2, n_base + 1)
        shade = [(80, 128, 170), (70, 115, 160), (95, 140, 178), (60, 100, 140)]
        for i in range(n_base):
            bw = (xs[i + 1] - xs[i]) * rng.uniform(0.88, 0.98)
            cx = (xs[i] + xs[i + 1]) / 2
            z = 0.0
            layers = int(rng.integers(1, 4))
            for L_ in range(layers):
                hh = rng.uniform(0.3, 0.5)
                ww = bw * (rng.uniform(0.75, 1.0) if L_ else 1.0)
                dd = depth * rng.uniform(0.7, 1.0)
                col = shade[int(rng.integers(len(shade)))]
                tex = {"top": face_texture("cardboard", rng, ww, dd, col, top=True),
                       "side": face_texture("cardboard", rng, ww, hh, col)}
                boxes.append(BoxSpec(gx + cx + rng.normal(0, 0.03), gy_c + rng.normal(0, 0.04), ww, dd, hh,
                                     theta + rng.normal(0, 0.1), tex, z0=z))
                z += hh
        return render_boxes(boxes)
    if kind == "crates":
        colours = [(40, 150, 40), (40, 40, 190), (170, 110, 30), (40, 170, 210)]
        produce = [((20, 130, 240), 0.05), ((30, 30, 200), 0.045), ((40, 180, 80), 0.06), ((30, 200, 230), 0.05),
                   ((60, 60, 140), 0.04)]
        boxes = []
        n = max(1, int(round(width_m / 0.55)))
        cw = width_m / n
        tops = []
        for i in range(n):
            col = colours[int(rng.integers(len(colours)))]
            z = 0.0
            for L_ in range(int(rng.integers(1, 3))):
                hh = 0.28
                tex = {"top": face_texture("crate", rng, cw, 0.38, col, top=True),
                       "side": face_texture("crate", rng, cw, hh, col)}
                b = BoxSpec(gx - width_m / 2 + cw * (i + 0.5), gy + 0.22, cw * 0.95, 0.38, hh, theta, tex, z0=z)
                boxes.append(b)
                z += hh
            tops.append((b, produce[int(rng.integers(len(produce)))]))

        def fruit(canvas, x0, y0):
            for b, (pc, pr) in tops:
                cs = b.corners()
                ztop = b.z0 + b.Hh
                pts = []
                for _ in range(int(b.L * 0.38 / (pr * pr) / 3.2)):
                    u, v = rng.uniform(0.08, 0.92), rng.uniform(0.08, 0.92)
                    gp = cs[0] + (cs[1] - cs[0]) * u + (cs[3] - cs[0]) * v
                    zz = ztop + pr * rng.uniform(0.2, 1.4)
                    pts.append(project(gp[0], gp[1], zz) + (ppm(*to_image(*gp)) * pr,))
                for (x, y, r) in sorted(pts, key=lambda p: p[1]):
                    c = np.array(pc, np.float32) * rng.uniform(0.85, 1.1)
                    cc = (int(x - x0), int(y - y0))
                    rr = max(1, int(round(r)))
                    cv2.circle(canvas, cc, rr, bgra(c * 0.7), -1, cv2.LINE_AA)
                    cv2.circle(canvas, (cc[0] - rr // 3, cc[1] - rr // 3), max(1, rr // 2), bgra(c), -1, cv2.LINE_AA)
        return render_boxes(boxes, fruit)
    if kind in ("tarp", "tarp-striped", "sacks"):
        style = {"tarp": "blue", "tarp-striped": "striped", "sacks": "sacks"}[kind]
        b_m = width_m * rng.uniform(0.3, 0.4)
        h_m = min(1.1, width_m * rng.uniform(0.35, 0.5))
        return render_pile(gx, gy + b_m, width_m / 2, b_m, h_m, rng, style)
    if kind == "cart":
        L, D = width_m, 0.7
        body_col = (50, 85, 120)
        gyc = gy + D / 2 + 0.05
        body = BoxSpec(gx, gyc, L, D, 0.35, theta, {"side": face_texture("wood", rng, L, 0.35, body_col),
                                                     "top": face_texture("wood", rng, L, D, body_col)}, z0=0.45)
        legs = [BoxSpec(gx + s * L * 0.42, gyc - D * 0.4, 0.05, 0.05, 0.45, theta,
                        face_texture("metal", rng, 0.05, 0.45)) for s in (-1, 1)]
        canopy = [(40, 40, 200), (230, 230, 230)] if rng.random() < 0.5 else [(160, 100, 30), (230, 230, 230)]
        produce = [(20, 130, 240), (40, 180, 80), (30, 30, 200)]
        pc = produce[int(rng.integers(3))]

        def extra(canvas, x0, y0):
            cs = body.corners()
            # wheels on the near side
            for s in (-0.25, 0.25):
                gp = (cs[0] + cs[1]) / 2 + (cs[1] - cs[0]) * s
                x, y = project(gp[0], gp[1], 0.2)
                r = 0.2 * ppm(*to_image(*gp))
                cv2.circle(canvas, (int(x - x0), int(y - y0)), max(2, int(r)), (25, 25, 25, 1), max(1, int(r * 0.22)), cv2.LINE_AA)
                cv2.circle(canvas, (int(x - x0), int(y - y0)), max(1, int(r * 0.25)), (90, 90, 90, 1), -1, cv2.LINE_AA)
            # goods on top
            for _ in range(int(L * D * 140)):
                u, v = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)
                gp = cs[0] + (cs[1] - cs[0]) * u + (cs[3] - cs[0]) * v
                x, y = project(gp[0], gp[1], 0.80 + rng.uniform(0, 0.08))
                r = max(1, int(0.045 * ppm(*to_image(*gp))))
                c = np.array(pc, np.float32) * rng.uniform(0.8, 1.1)
                cv2.circle(canvas, (int(x - x0), int(y - y0)), r, bgra(c), -1, cv2.LINE_AA)
            # handles
            for s in (-1, 1):
                a_ = cs[1] + (cs[2] - cs[1]) * (0.5 + 0.35 * s)
                p0 = project(a_[0], a_[1], 0.75)
                d = (cs[1] - cs[0]) / np.linalg.norm(cs[1] - cs[0])
                b_ = a_ + d * 0.5
                p1 = project(b_[0], b_[1], 0.9)
                cv2.line(canvas, (int(p0[0] - x0), int(p0[1] - y0)), (int(p1[0] - x0), int(p1[1] - y0)), (40, 40, 40, 1), 2, cv2.LINE_AA)

        rgb, a, x0, y0, fy = render_boxes(legs + [body], extra)
        # parasol: pole and canopy (drawn on an enlarged canvas)
        k = ppm(*spot)
        top = project(gx, gyc, 1.85)
        R = 0.95 * k
        ry = max(3, 0.95 * ppm_depth(*spot))
        nx0, ny0 = min(x0, int(top[0] - R) - 3), min(y0, int(top[1] - 0.5 * k) - 3)
        nx1 = max(x0 + a.shape[1], int(top[0] + R) + 3)
        ny1 = y0 + a.shape[0]
        big = np.zeros((ny1 - ny0, nx1 - nx0, 4), np.float32)
        big[y0 - ny0:y0 - ny0 + a.shape[0], x0 - nx0:x0 - nx0 + a.shape[1], :3] = rgb
        big[y0 - ny0:y0 - ny0 + a.shape[0], x0 - nx0:x0 - nx0 + a.shape[1], 3] = a
        base = project(gx, gyc, 0.8)
        cv2.line(big, (int(base[0] - nx0), int(base[1] - ny0)), (int(top[0] - nx0), int(top[1] - ny0)), (45, 45, 48, 1), max(2, int(0.045 * k)), cv2.LINE_AA)
        cx, cy = top[0] - nx0, top[1] - ny0 + 0.25 * k
        nseg = 8
        for i in range(nseg):
            a0, a1 = 180 + 180 * i / nseg, 180 + 180 * (i + 1) / nseg
            c = canopy[i % 2]
            cv2.ellipse(big, (int(cx), int(cy)), (int(R), int(0.55 * k)), 0, a0, a1, bgra(c), -1, cv2.LINE_AA)
        cv2.ellipse(big, (int(cx), int(cy)), (int(R), int(ry * 0.6)), 0, 0, 180,
                    bgra(np.float32(canopy[0]) * 0.7), -1, cv2.LINE_AA)
        n = (fbm(rng, big.shape[0], big.shape[1], 12) - 0.5) * 14
        big[..., :3] += n[..., None] * (big[..., 3:4] > 0)
        return np.clip(big[..., :3], 0, 255), big[..., 3], nx0, ny0, fy
    raise ValueError(kind)


def make_wall(rng, spot, width_m, height_m):
    """A dark garden wall (brick, soot-stained) standing on the lawn behind a barbecue."""
    gx, gy = to_ground(*spot)
    side = face_texture("metal", rng, width_m, height_m, (48, 50, 56))
    th, tw = side.shape[:2]
    bh = max(2, int(0.075 * 120))
    for r, yy in enumerate(range(0, th, bh)):
        side[yy:yy + 1, :, :3] *= 1.35
        off = (r % 2) * int(0.11 * 120)
        for xx in range(off, tw, int(0.22 * 120)):
            side[yy:yy + bh, xx:xx + 1, :3] *= 1.3
    top = face_texture("metal", rng, width_m, 0.3, (60, 62, 66))
    return render_boxes([BoxSpec(gx, gy + 0.15, width_m, 0.3, height_m, 0.0, {"side": side, "top": top})])


def make_manhole(spot):
    gx, gy = to_ground(*spot)
    pts = []
    for a in np.linspace(0, 2 * np.pi, 40, endpoint=False):
        pts.append(to_image(gx + 0.33 * math.cos(a), gy + 0.33 * math.sin(a)))
    pts = np.array(pts)
    x0, y0 = int(pts[:, 0].min()) - 2, int(pts[:, 1].min()) - 2
    x1, y1 = int(pts[:, 0].max()) + 3, int(pts[:, 1].max()) + 3
    a = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(a, [np.int32(pts - (x0, y0)).reshape(-1, 1, 2)], 1.0, cv2.LINE_AA)
    rgb = np.full((y1 - y0, x1 - x0, 3), 55.0, np.float32)
    for yy in range(0, y1 - y0, 3):
        rgb[yy] = 85.0
    inner = cv2.erode(a, np.ones((3, 3), np.uint8))
    rgb *= (0.7 + 0.3 * inner)[..., None]
    return rgb, a, x0, y0, y1


# ----------------------------------------------------------------------------- clip specification
class Clip:
    def __init__(self, name, tags, duration, seed, build, offset=None):
        self.name, self.tags, self.duration, self.seed, self.build = name, tags, duration, seed, build
        self.offset = offset


def bike_model(ft, kind, rng):
    if kind == "cut":
        return ft.bike
    return draw_bike(kind, rng)


def parking_build(bikes, night=None, extra=None):
    """bikes: [(model, spot, rest, leave, come, squeeze)]: come is the ground direction it
    arrives from (it leaves the opposite way in x)."""
    def build(ft, rng):
        objs = []
        for (model, spot, rest, leave, come, sq) in bikes:
            objs.append(Bike(bike_model(ft, model, rng), spot, rest, leave, come=come, squeeze=sq))
        scene = {"objects": objs}
        if night:
            scene["night"] = Night(rng, **night)
        if extra:
            extra(ft, rng, scene)
        return scene
    return build


def goods_build(goods, night=None, brief=False):
    """goods: [(kind, spot, width_m, t_in, t_out, fade)]"""
    def build(ft, rng):
        objs = []
        for (kind, spot, wm, t_in, t_out, fade) in goods:
            objs.append(Static(make_goods(kind, rng, spot, wm), t_in, t_out, fade, zone="forecourt", event=not brief))
        scene = {"objects": objs}
        if night:
            scene["night"] = Night(rng, **night)
        return scene
    return build


def smoke_build(src, t_on, t_off, night=None, grill=False, wall=None, event=True, **kw):
    def build(ft, rng):
        scene = {"objects": [], "plumes": [], "emissive": []}
        if wall:
            spot, wm, hm = wall
            scene["objects"].append(Static(make_wall(rng, spot, wm, hm), 0.0, None, 0.0, shadow_s=0.2, stats=False))
        if grill:
            g = Grill(rng, src, t_on, t_off)
            scene["objects"].append(g)
            scene["emissive"].append(g)
            p_src = (src[0], src[1] - 0.75 * ppm(*src))
        else:
            p_src = src
        pl = Plume(rng, p_src, t_on, t_off, event=event, **kw)
        pl.sy_ground = src[1]
        scene["plumes"].append(pl)
        if night:
            scene["night"] = Night(rng, **night)
        return scene
    return build


def clip_set():
    """The scenario clips. Spots are image points (the object's foot) inside the zones of
    calibration/scenarios.toml; times in seconds of the written clip."""
    C = []
    # directions (ground) the bikes ride in from: left / right, a little from farther away, or
    # obliquely from the walkers' band (farther)
    L, R = (-1.0, 0.12), (1.0, 0.12)
    Lf, Rf = (-1.0, 0.45), (1.0, 0.45)
    night = {"gain": 0.3, "gamma": 1.3, "noise": 5.0}
    dusk = {"gain": 0.45, "gamma": 1.15, "noise": 3.5}
    dark = {"gain": 0.25, "gamma": 1.35, "noise": 6.0}

    def P(n, tag, tags, dur, bikes, **kw):
        C.append(Clip(f"parking-{n:02d}-{tag}", ["parking"] + tags, dur, 1000 + n, parking_build(bikes, **kw)))

    P(1, "occluded", ["occlusion", "quick"], 85.0, [("cut", (600, 292), 8.0, 62.0, L, 1.0)])
    P(2, "flipped", ["occlusion", "quick"], 90.0, [("cut", (660, 330), 12.0, 70.0, Rf, 0.9)])
    P(3, "far-stays", ["far", "stays"], 110.0, [("cut", (500, 300), 20.0, None, Lf, 1.0)])
    P(4, "oblique", ["oblique"], 115.0, [("cut", (620, 352), 15.0, 95.0, R, 0.6)])
    P(5, "night", ["night", "occlusion"], 100.0, [("cut", (600, 300), 10.0, 80.0, L, 0.85)], night=night)
    P(6, "night-ebike", ["night", "ebike", "stays"], 100.0, [("ebike", (640, 302), 25.0, None, Rf, 0.9)],
      night=dark)
    P(7, "two-bikes", ["multi", "occlusion"], 120.0,
      [("cut", (560, 296), 10.0, 90.0, L, 1.0), ("city", (655, 340), 30.0, 100.0, R, 0.8)])
    P(8, "three-bikes", ["multi", "stays"], 130.0,
      [("cut", (520, 302), 6.0, 70.0, Lf, 0.9), ("ebike", (600, 298), 20.0, 100.0, L, 1.0),
       ("cut", (665, 372), 35.0, None, R, 0.65)])
    P(9, "ebike", ["ebike"], 120.0, [("ebike", (560, 342), 18.0, 100.0, R, 1.0)])
    P(10, "city-near", ["near"], 130.0, [("city", (680, 382), 28.0, 110.0, L, 0.9)])
    P(11, "late-stays", ["stays", "occlusion"], 100.0, [("cut", (640, 300), 30.0, None, Rf, 1.0)])
    P(12, "dusk-two", ["multi", "night"], 105.0,
      [("cut", (600, 290), 12.0, 75.0, Lf, 0.9), ("city", (540, 322), 20.0, 85.0, R, 0.75)], night=dusk)

    def G(n, tag, tags, dur, goods, **kw):
        C.append(Clip(f"goods-{n:02d}-{tag}", ["vending"] + tags, dur, 2000 + n, goods_build(goods, **kw)))

    # Goods stay >= 100 s: with the default dwell (60 s) + confirm (30 s) an episode starts ~90 s
    # after they appear.
    G(1, "boxes-stays", ["boxes", "stays", "quick"], 110.0, [("boxes", (300, 240), 1.2, 5.0, None, 1.0)])
    G(2, "blue-tarp", ["tarp", "quick"], 132.0, [("tarp", (380, 228), 1.6, 6.0, 112.0, 1.0)])
    G(3, "crates", ["crates", "stays", "occlusion"], 130.0, [("crates", (250, 236), 1.1, 15.0, None, 1.0)])
    G(4, "cart-parasol", ["cart"], 140.0, [("cart", (200, 227), 1.3, 10.0, 120.0, 0.0)])
    G(5, "striped-tarp-night", ["tarp", "night"], 140.0, [("tarp-striped", (300, 220), 1.8, 12.0, 118.0, 1.0)],
      night=night)
    G(6, "boxes-large", ["boxes", "large", "stays"], 135.0, [("boxes", (350, 246), 2.0, 20.0, None, 1.0)])
    G(7, "boxes-and-crates", ["boxes", "crates", "multi"], 145.0,
      [("boxes", (200, 218), 0.9, 8.0, 115.0, 1.0), ("crates", (340, 244), 1.2, 25.0, 125.0, 1.0)])
    G(8, "small-boxes", ["boxes", "small", "stays"], 120.0, [("boxes", (400, 246), 0.6, 5.0, None, 0.0)])
    G(9, "crates-dusk", ["crates", "night", "stays"], 140.0, [("crates", (165, 222), 1.4, 30.0, None, 1.0)], night=dusk)
    G(10, "sacks-occluded", ["sacks", "occlusion"], 140.0, [("sacks", (300, 242), 1.3, 10.0, 118.0, 1.0)])

    def S(n, tag, tags, dur, src, t_on, t_off, **kw):
        C.append(Clip(f"smoke-{n:02d}-{tag}", ["smoke"] + tags, dur, 3000 + n, smoke_build(src, t_on, t_off, **kw)))

    S(1, "calm", ["wind-none", "quick"], 75.0, (200, 470), 8.0, 55.0, rise=0.8, wind=(0.0, 0.0), max_alpha=0.5)
    S(2, "breeze-dense", ["wind-moderate", "dense", "quick"], 80.0, (150, 440), 6.0, 60.0, rise=0.8,
      wind=(0.8, 0.1), max_alpha=0.7, grey=195.0)
    S(3, "gale-left", ["wind-strong"], 95.0, (620, 520), 10.0, 75.0, rise=0.25, wind=(-2.8, 0.2), max_alpha=0.55,
      stretch=0.25, growth=0.3, life=5.0)
    S(4, "thin-calm", ["wind-none", "thin"], 105.0, (300, 525), 15.0, 85.0, rise=0.7, max_alpha=0.25, grey=215.0)
    S(5, "warm-grill", ["warm", "grill", "wind-moderate"], 100.0, (235, 520), 12.0, 80.0, grill=True, warm=True,
      rise=0.75, wind=(0.7, 0.0), max_alpha=0.55)
    S(6, "night-grill", ["night", "warm", "grill"], 90.0, (250, 440), 10.0, 70.0, grill=True, warm=True,
      rise=0.7, wind=(0.3, 0.0), max_alpha=0.55, night=night)
    S(7, "dark-wall", ["dark-wall", "thin", "wind-none"], 115.0, (380, 525), 20.0, 95.0, rise=0.7,
      max_alpha=0.35, wall=((370, 478), 3.5, 1.5))
    S(8, "gale-right-thin", ["wind-strong", "thin"], 80.0, (90, 380), 5.0, 60.0, rise=0.2, wind=(3.0, 0.0),
      max_alpha=0.3, stretch=0.3, growth=0.3, life=5.0)
    S(9, "night-thin-breeze", ["night", "thin", "wind-moderate"], 115.0, (560, 525), 14.0, 95.0, rise=0.75,
      wind=(-0.8, 0.0), max_alpha=0.3, night=dark)
    S(10, "dense-grill-long", ["dense", "grill", "warm", "wind-none"], 125.0, (300, 555), 18.0, 105.0, grill=True,
      warm=True, rise=0.9, max_alpha=0.7, gust=0.5)

    def K(n, tag, tags, dur, **kw):
        def build(ft, rng):
            scene = {"objects": []}
            if kw.get("night"):
                scene["night"] = Night(rng, **kw["night"])
            return scene
        C.append(Clip(f"clean-{n:02d}-{tag}", ["clean"] + tags, dur, 4000 + n, build, offset=kw.get("offset")))

    K(1, "plain", ["quick"], 60.0, offset=0)
    K(2, "reverse", [], 120.0, offset=700)
    K(3, "night", ["night"], 100.0, offset=300, night=night)

    def D(n, tag, tags, dur, build, distractors, kind="distractor", offset=None):
        c = Clip(f"{kind}-{n:02d}-{tag}", [kind] + tags, dur, 5000 + n + (100 if kind == "brief" else 0), build,
                 offset=offset)
        c.distractors = distractors
        C.append(c)

    def steam(ft, rng):
        spot = (235, 268)
        pl = Plume(rng, spot, 6.0, None, rate=16.0, life=0.75, rise=1.4, wind=(0.15, 0.0), gust=0.3,
                   max_alpha=0.8, grey=236.0, r0=0.10, growth=0.35, turb=0.35, event=False, steam=True)
        return {"objects": [Static(make_manhole(spot), 0.0, None, 0.0, flat=True, stats=False)], "plumes": [pl]}
    D(1, "steam", ["steam", "quick"], 70.0, steam, [("steam_manhole", 6.0, None)])

    def fog(ft, rng):
        return {"objects": [], "fog": Fog(20.0, 15.0, 0.55)}
    D(2, "fog", ["fog"], 90.0, fog, [("fog", 20.0, None)])

    def headlights(ft, rng):
        cars = []
        a, c, b = to_ground(800, 430), to_ground(455, 292), to_ground(-60, 222)
        times = [8.0, 27.0, 45.0, 63.0, 78.0]
        cols = [(40, 40, 45), (30, 30, 120), (120, 110, 100), (60, 50, 40), (25, 25, 28)]
        for i, t0 in enumerate(times):
            p, q = (a, b) if i % 2 == 0 else (b, a)
            lane = -1.2 if i % 2 == 0 else 1.2  # keep to one side of the road
            keys = [(t0, p[0], p[1] + lane), (t0 + 7.0, q[0], q[1] + lane)]
            cars.append(Vehicle("car", rng, keys, cols[i], ctrl={0: (c[0], c[1] + lane)}))
        return {"objects": cars, "night": Night(rng, 0.25, 1.35, 6.0), "headlights": Headlights(cars)}
    D(3, "headlights", ["night", "headlights"], 90.0, headlights,
      [("headlights", 8.0, 15.0), ("headlights", 27.0, 34.0), ("headlights", 45.0, 52.0), ("headlights", 63.0, 70.0),
       ("headlights", 78.0, 85.0)])

    def van(ft, rng):
        p_in = to_ground(820, 520)
        park = to_ground(560, 418)
        p_out = to_ground(-80, 210)
        park = (park[0], park[1] - 0.4)  # near wheels over the kerb, on the lawn edge
        d = np.array(park) - np.array(p_in)
        bend = np.array(park) + d / np.linalg.norm(d) * 4.0 + np.array((0.0, 1.6))  # back onto the road
        keys = [(10.0, p_in[0], p_in[1] - 0.4), (18.0, park[0], park[1]), (58.0, park[0], park[1]),
                (69.0, p_out[0], p_out[1])]
        return {"objects": [Vehicle("van", rng, keys, ctrl={2: (bend[0], bend[1])})]}
    D(4, "white-van", ["van"], 85.0, van, [("white_van_parked_on_lawn_edge", 18.0, 58.0)])

    def shirts(ft, rng):
        return {"objects": [], "white_shirts": True}
    D(5, "white-shirts", ["white-shirts"], 120.0, shirts, [("white_shirts", 0.0, None)], offset=0)

    def standing(ft, rng):
        return {"objects": [Standing(ft.walker, (300, 238), 15.0, 35.0)]}
    D(6, "standing-person", ["person"], 60.0, standing, [("person_standing_20s", 15.0, 35.0)])

    def clouds(ft, rng):
        return {"objects": [], "clouds": CloudShadows(rng, [12.0, 40.0, 68.0])}
    D(7, "cloud-shadows", ["clouds"], 90.0, clouds,
      [("cloud_shadow", 12.0, 26.0), ("cloud_shadow", 40.0, 54.0), ("cloud_shadow", 68.0, 82.0)])

    def brief_bike(ft, rng):
        return {"objects": [Bike(ft.bike, (610, 300), 20.0, 28.0, come=(1.0, 0.3), event=False)]}
    D(1, "bike-8s", ["bike"], 60.0, brief_bike, [("brief_bike", 20.0, 28.0)], kind="brief")

    def brief_goods(ft, rng):
        return {"objects": [Static(make_goods("boxes", rng, (300, 238), 1.0), 20.0, 28.0, 0.0, zone="forecourt")]}
    D(2, "goods-8s", ["goods"], 60.0, brief_goods, [("brief_goods", 20.0, 28.0)], kind="brief")

    def brief_smoke(ft, rng):
        pl = Plume(rng, (220, 470), 20.0, 22.5, rise=0.8, max_alpha=0.55, event=False)
        return {"objects": [], "plumes": [pl]}
    D(3, "smoke-puff", ["smoke-puff"], 60.0, brief_smoke, [("smoke_puff_2.5s", 20.0, 22.5)], kind="brief")
    return C


# ----------------------------------------------------------------------------- rendering
FOOTAGE = None


def truth_events(clip, scene):
    """Events from the scene: one per zone and kind, spanning the union of its objects' presence
    (several objects in one zone overlap in time and so make one episode)."""
    groups = {}
    order = []
    for o in scene.get("objects", []) + scene.get("plumes", []):
        if not getattr(o, "event", False) or getattr(o, "zone", None) is None:
            continue
        kind = {"pavement": "parking", "forecourt": "vending", "lawn": "smoke"}[o.zone]
        key = (kind, o.zone)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(o.interval())
    events = []
    for key in order:
        iv = sorted(groups[key], key=lambda p: p[0])
        t0 = iv[0][0]
        ends = [b for _, b in iv]
        t1 = None if any(b is None for b in ends) else max(ends)
        # check they form one episode: each starts before the union so far ends
        cur = iv[0][1]
        for a, b in iv[1:]:
            if cur is not None and a > cur:
                raise ValueError(f"{clip.name}: objects in {key[1]} do not overlap in time")
            cur = None if (cur is None or b is None) else max(cur, b)
        cmax = 0
        for a, _ in iv:
            cmax = max(cmax, sum(1 for a2, b2 in iv if a2 <= a and (b2 is None or b2 > a)))
        events.append({"type": key[0], "zone": key[1], "from_s": t0, "to_s": t1, "count_max": cmax if len(iv) > 1 else None})
    return events


def check_scene(clip, scene, zones, events):
    for e in events:
        if e["to_s"] is not None and clip.duration - e["to_s"] < 20.0:
            raise ValueError(f"{clip.name}: event ends too close to the clip end")
    for o in scene.get("objects", []):
        if isinstance(o, Bike) and o.event:
            if not inside(zones[o.zone], *o.spot, 3):
                raise ValueError(f"{clip.name}: bike spot {o.spot} not inside {o.zone}")
        if isinstance(o, Static) and o.event:
            cx = o.x0 + o.alpha.shape[1] / 2
            if not inside(zones[o.zone], cx, o.fy, 2):
                raise ValueError(f"{clip.name}: goods foot ({cx:.0f},{o.fy:.0f}) not inside {o.zone}")
    for p in scene.get("plumes", []):
        base = (p.sx, getattr(p, "sy_ground", p.sy))
        if p.event and not inside(zones["lawn"], *base, 3):
            raise ValueError(f"{clip.name}: smoke source {base} not inside lawn")


def render_clip(clip, out_dir, zones, stills=None):
    ft = FOOTAGE
    t_start = time.time()
    rng = np.random.Generator(np.random.PCG64(clip.seed))
    cv2.setRNGSeed(clip.seed)
    offset = clip.offset if clip.offset is not None else int(rng.integers(0, ft.period))
    scene = clip.build(ft, rng)
    events = truth_events(clip, scene)
    check_scene(clip, scene, zones, events)
    objs = scene.get("objects", [])
    plumes = scene.get("plumes", [])
    night = scene.get("night")
    noise = NoiseBank(rng, night.noise) if night is not None else None
    lawn_mask = None
    if scene.get("white_shirts"):
        outside = np.full((H, W), 255, np.uint8)
        cv2.fillPoly(outside, [zones["lawn"].astype(np.int32).reshape(-1, 1, 2)], 0)
        dist = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
        lawn_mask = np.clip(1.0 - dist / 50.0, 0, 1)
    tmp = os.path.join(out_dir, f".{clip.name}.tmp.avi")
    final = os.path.join(out_dir, f"{clip.name}.avi")
    n_frames = int(round(clip.duration * FPS))
    wr = None
    if stills is None:
        wr = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H), True)
        if not wr.isOpened():
            raise RuntimeError(f"cannot open a video writer for {tmp}")
        wr.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY)
    else:
        still_frames = {int(round(s_ * FPS)) for s_ in stills}
        n_frames = min(n_frames, max(still_frames) + 1)
    shirts = 0
    dt = 1.0 / FPS
    for i in range(n_frames):
        t = i / FPS
        si = ft.source_index(i + offset)
        fr = Frame(ft.frames[si].copy(), ft.frames[si], ft.median, ft.labels[si], ft.bottoms[si], ft.blobs[si])
        if lawn_mask is not None:
            shirts += white_shirts(fr, lawn_mask)
        # ground objects, far first
        live = [(o.foot_y(t), j, o) for j, o in enumerate(objs)]
        for fy, _, o in sorted((x for x in live if x[0] is not None), key=lambda x: (x[0], x[1])):
            o.draw(fr, t)
        img = None
        if night is not None:
            img = night.apply(fr.img)
        if scene.get("clouds") is not None:
            img = fr.img.astype(np.float32) if img is None else img
            scene["clouds"].apply(img, t)
        for p in plumes:
            p.step(t, dt)
        if plumes or scene.get("emissive") or scene.get("headlights") or scene.get("fog"):
            img = fr.img.astype(np.float32) if img is None else img
            for p in plumes:
                p.draw(img, t, fr, light=night.light if night else 1.0,
                       warm_light=(0.6 if (night and p.warm) else 0.0))
            for e in scene.get("emissive", []):
                e.emissive(img, t, night is not None, fr)
            if scene.get("headlights"):
                scene["headlights"].emissive(img, t)
            if scene.get("fog"):
                scene["fog"].apply(img, t)
        if noise is not None:
            noise.add(img)
        out = fr.img if img is None else np.clip(img + 0.5, 0, 255).astype(np.uint8)
        if wr is not None:
            wr.write(out)
        elif i in still_frames:
            cv2.imwrite(os.path.join(out_dir, f"{clip.name}@{t:05.1f}.png"), out)
    if wr is None:
        return {"name": clip.name, "frames": n_frames, "seconds": time.time() - t_start, "offset": offset,
                "occlusion": None, "events": events, "shirts": shirts}
    wr.release()
    os.replace(tmp, final)
    # occlusion: fraction of presence frames (event objects at rest) with >= 20 % of pixels occluded
    occ = []
    for o in objs:
        st = getattr(o, "stats", None)
        if st and getattr(o, "event", False):
            occ.extend(st)
    occ_frac = (sum(1 for v in occ if v >= 0.2) / len(occ)) if occ else None
    return {"name": clip.name, "frames": n_frames, "seconds": time.time() - t_start, "offset": offset,
            "occlusion": occ_frac, "events": events, "shirts": shirts}


def _worker(args):
    name, out_dir, stills = args
    cv2.setNumThreads(1)
    clip = next(c for c in clip_set() if c.name == name)
    return render_clip(clip, out_dir, load_zones(), stills)


def fmt(v):
    return f"{v:.1f}"


def write_truth(out_dir, clips, results):
    lines = ["# streetwatch scenario truth (generated by scripts/scenarios.py; do not edit)",
             'generator = "scripts/scenarios.py"', ""]
    for c in clips:
        if not os.path.exists(os.path.join(out_dir, c.name + ".avi")):
            continue
        r = results.get(c.name)
        if r is None:  # written earlier: derive its events again (deterministic)
            rng = np.random.Generator(np.random.PCG64(c.seed))
            if c.offset is None:
                rng.integers(0, FOOTAGE.period)
            events = truth_events(c, c.build(FOOTAGE, rng))
        else:
            events = r["events"]
        lines += ["[[clip]]", f'file = "{c.name}.avi"', f'calibration = "{CALIBRATION}"',
                  "tags = [" + ", ".join(f'"{t}"' for t in c.tags) + "]", f"duration_s = {fmt(c.duration)}"]
        for e in events:
            lines += ["[[clip.event]]", f'type = "{e["type"]}"', f'zone = "{e["zone"]}"', f"from_s = {fmt(e['from_s'])}"]
            if e["to_s"] is not None:
                lines.append(f"to_s = {fmt(e['to_s'])}")
            if e.get("count_max"):
                lines.append(f"count_max = {e['count_max']}")
        for (kind, a, b) in getattr(c, "distractors", []):
            lines += ["[[clip.distractor]]", f'kind = "{kind}"', f"from_s = {fmt(a)}"]
            if b is not None:
                lines.append(f"to_s = {fmt(b)}")
        lines.append("")
    tmp = os.path.join(out_dir, ".truth.toml.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    with open(tmp, "rb") as f:
        tomllib.load(f)  # must parse
    os.replace(tmp, os.path.join(out_dir, "truth.toml"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vtest", help="samples/vtest.avi")
    ap.add_argument("--bikes", help="samples/bikes.mp4")
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--only", help="comma-separated clip names or tags (e.g. quick)")
    ap.add_argument("--list", action="store_true", help="print the clips and their tags")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--stills", help="debug: write PNGs of these media seconds (comma-separated) instead of videos")
    args = ap.parse_args()
    # One OpenCV thread: the clips run in parallel processes, and a forked child must not inherit
    # a busy OpenCV thread pool (it would deadlock).
    cv2.setNumThreads(1)
    clips = clip_set()
    names = [c.name for c in clips]
    assert len(set(names)) == len(names)
    if args.only:
        want = [w.strip() for w in args.only.split(",") if w.strip()]
        for w in want:
            if w not in names and not any(w in c.tags for c in clips):
                sys.exit(f"--only: no clip or tag named {w!r}")
        sel = [c for c in clips if c.name in want or any(w in c.tags for w in want)]
    else:
        sel = clips
    if args.list:
        for c in sel:
            print(f"{c.name:32s} {c.duration:6.1f} s  {' '.join(c.tags)}")
        return
    if not (args.vtest and args.bikes and args.out):
        ap.error("--vtest, --bikes and --out are required (or --list)")
    os.makedirs(args.out, exist_ok=True)
    zones = load_zones()
    for n in ("pavement", "forecourt", "lawn"):
        if n not in zones:
            sys.exit(f"{CALIBRATION}: zone {n!r} missing")
    global FOOTAGE
    t0 = time.time()
    FOOTAGE = Footage(args.vtest, args.bikes)
    print(f"footage ready in {time.time() - t0:.1f} s", flush=True)
    results = {}
    stills = [float(v) for v in args.stills.split(",")] if args.stills else None
    jobs = [(c.name, args.out, stills) for c in sel]
    if args.jobs > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.jobs) as pool:
            for r in pool.imap_unordered(_worker, jobs):
                results[r["name"]] = r
                print(_summary(r), flush=True)
    else:
        cv2.setNumThreads(1)
        for c in sel:
            r = render_clip(c, args.out, zones, stills)
            results[r["name"]] = r
            print(_summary(r), flush=True)
    if stills:
        return
    write_truth(args.out, clips, results)
    print(f"{len(sel)} clips in {time.time() - t0:.0f} s; truth: {os.path.join(args.out, 'truth.toml')}")


def _summary(r):
    occ = "" if r["occlusion"] is None else f" occluded>=20%: {100 * r['occlusion']:.0f}% of presence frames"
    ev = "; ".join(f"{e['type']} {e['from_s']:.1f}-{'end' if e['to_s'] is None else format(e['to_s'], '.1f')}"
                   for e in r["events"]) or "no event"
    extra = f" shirts {r['shirts']}" if r["shirts"] else ""
    return f"{r['name']:32s} {r['frames']:5d} frames {r['seconds']:5.1f} s  {ev}{occ}{extra}"


if __name__ == "__main__":
    main()
