#!/usr/bin/python3
"""photo_eval.py TUCAI_CHECK TESTDATA -- `make eval`.

1. Face detection against ground truth: dlib's example faces (PASCAL VOC
   photos, boxes in testing.xml / training.xml), a detection matching a
   truth box at IoU >= 0.5 (and, since dlib's boxes are tighter than the
   Haar cascade's, also when the truth box centre falls in a detection no
   more than 2x its size; both numbers are printed).
2. Per reason code, the confusion over the labelled set (expected vs got).
3. Liveness: error rates over the generated bursts.
"""
import json, os, subprocess, sys
import xml.etree.ElementTree as ET

BIN, TD = sys.argv[1], sys.argv[2]


def run(args):
    out = subprocess.run([BIN] + args, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def centre_match(t, d):
    cx, cy = t[0] + t[2] / 2, t[1] + t[3] / 2
    return d[0] <= cx <= d[0] + d[2] and d[1] <= cy <= d[1] + d[3] and d[2] <= 2.2 * t[2]


# ---- 1. detection ----
truth = {}
for x in ("testing.xml", "training.xml"):
    p = os.path.join(TD, "src", x)
    for im in ET.parse(p).getroot().iter("image"):
        boxes = [(int(b.get("left")), int(b.get("top")), int(b.get("width")), int(b.get("height")))
                 for b in im.iter("box") if b.get("ignore") != "1"]
        truth[im.get("file").split("/")[-1]] = boxes
files = sorted(f for f in truth if os.path.exists(os.path.join(TD, "src", f)))
verdicts = run([os.path.join(TD, "src", f) for f in files])
res = {}
for crit, fn in (("IoU>=0.5", lambda t, d: iou(t, d) >= 0.5), ("centre-in-box", centre_match)):
    tp = fp = fn_ = 0
    for f, v in zip(files, verdicts):
        dets = [(d["x"], d["y"], d["w"], d["h"]) for d in v["faces"]]
        used = set()
        for t in truth[f]:
            m = next((i for i, d in enumerate(dets) if i not in used and fn(t, d)), None)
            if m is None:
                fn_ += 1
            else:
                used.add(m); tp += 1
        fp += len(dets) - len(used)
    res[crit] = (tp, fp, fn_)
print(f"face detection on dlib's examples: {len(files)} images, {sum(len(truth[f]) for f in files)} faces")
for crit, (tp, fp, fn_) in res.items():
    rec = tp / (tp + fn_) if tp + fn_ else 0
    pre = tp / (tp + fp) if tp + fp else 0
    print(f"  {crit:14s} recall {rec:.3f}  precision {pre:.3f}  (tp {tp}, fp {fp}, fn {fn_})")

# ---- 2. reason confusion ----
labels = json.load(open(os.path.join(TD, "labels.json")))
names = sorted(labels)
vs = run([os.path.join(TD, "set", n) for n in names])
codes = sorted({c for l in labels.values() for c in l["expect"]} |
               {r["code"] for v in vs for r in v["reasons"]})
print(f"\nreasons over the labelled set ({len(names)} files): expected vs got")
print(f"  {'code':24s} {'exp&got':>7s} {'exp,miss':>8s} {'extra':>6s}")
floor_ok = True
for c in codes:
    tp = fn_ = fp = 0
    for n, v in zip(names, vs):
        got = c in [r["code"] for r in v["reasons"]]
        exp = c in labels[n]["expect"]
        tp += exp and got; fn_ += exp and not got; fp += got and not exp
    floor_ok &= fn_ == 0
    print(f"  {c:24s} {tp:7d} {fn_:8d} {fp:6d}")
good = [n for n in names if labels[n].get("pass")]
gp = sum(1 for n, v in zip(names, vs) if n in good and v["pass"])
print(f"  good photos passing: {gp}/{len(good)}")
noface_pass = sum(1 for n, v in zip(names, vs) if "NO_FACE" in labels[n]["expect"] and v["pass"])
print(f"  images without a face that pass: {noface_pass}")

# ---- 3. liveness ----
bursts = json.load(open(os.path.join(TD, "bursts.json")))
photo = os.path.join(TD, "set", "good.jpg")
live_ok = live_n = spoof_ok = spoof_n = 0
print("\nliveness over the generated bursts:")
for name, b in sorted(bursts.items()):
    v = run(["--burst", photo] + [os.path.join(TD, "burst", f) for f in b["frames"]])[0]
    failed = any(r["code"] == "LIVENESS_FAILED" for r in v["reasons"])
    print(f"  {name:18s} live={b['live']!s:5s} nonrigid={v['metrics'].get('nonrigid')}  -> {'FAIL' if failed else 'pass'}")
    if b["live"]:
        live_n += 1; live_ok += not failed
    else:
        spoof_n += 1; spoof_ok += failed
print(f"  false rejects {live_n - live_ok}/{live_n}, false accepts {spoof_n - spoof_ok}/{spoof_n}"
      " (synthetic bursts; see docs/liveness.md)")
sys.exit(0 if floor_ok and gp == len(good) and noface_pass == 0 else 1)
