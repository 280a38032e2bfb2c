#!/usr/bin/python3
"""testdata_gen.py DIR -- labelled photo test set for tests and `make eval`.

From DIR/src (real photos unpacked from Debian packages by testdata.sh) it
writes DIR/set/* and DIR/labels.json: {file: {"expect": [codes], "pass": b}}.

The one "good" ID photo is built honestly from a real photo: skimage's
astronaut, her figure cut out with OpenCV's GrabCut and put in front of a
plain wall colour, cropped and scaled like a phone portrait.  Every degraded
variant is derived from it, so a failure names one cause.  Bursts for
liveness are synthetic: "static" repeats the photo (re-encoded), "rigid"
moves the whole picture as a print would move (translation, rotation,
scale), "live" adds a blink-like closing of the eyes and a small mouth
change on top of a small head motion -- a simulation of non-rigid change,
not a recording of a person (see docs/liveness.md).
"""
import json, os, struct, subprocess, sys, zlib
import cv2
import numpy as np

D = sys.argv[1]
SRC, OUT = os.path.join(D, "src"), os.path.join(D, "set")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
labels = {}


def save(name, img, expect=(), ok=False, q=92, **extra):
    path = os.path.join(OUT, name)
    ext = name.rsplit(".", 1)[1]
    if ext in ("jpg", "jpeg"):
        cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, q])
    elif ext == "webp":
        cv2.imwrite(path, img, [cv2.IMWRITE_WEBP_QUALITY, 90])
    else:
        cv2.imwrite(path, img)
    labels[name] = dict(expect=list(expect), **({"pass": ok} if ok or expect else {}), **extra)


def raw(name, data, expect=(), **extra):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    labels[name] = dict(expect=list(expect), **extra)


# ---- the good photo ----
astro = cv2.imread(os.path.join(SRC, "sk_astronaut.png"))
mask = np.zeros(astro.shape[:2], np.uint8)
bgd = np.zeros((1, 65)); fgd = np.zeros((1, 65))
cv2.grabCut(astro, mask, (95, 10, 330, 502), bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
m = np.where((mask == 1) | (mask == 3), 1.0, 0.0).astype(np.float32)
m = cv2.GaussianBlur(m, (5, 5), 0)[..., None]
WALL = (228, 226, 222)   # BGR, a light grey wall


def on_wall(img, m, wall=WALL):
    w = np.zeros_like(img, np.float32); w[:] = wall
    # a real wall is not perfectly flat: a soft vertical light gradient
    w *= np.linspace(1.0, 0.94, img.shape[0], dtype=np.float32)[:, None, None]
    return (img.astype(np.float32) * m + w * (1 - m)).clip(0, 255).astype(np.uint8)


cut = on_wall(astro, m)
# head room above the hair, as a portrait framed by the phone would have
canvas = np.zeros((427, 320, 3), np.uint8); canvas[:] = WALL
canvas[50:, :] = cut[0:377, 65:385]
good = cv2.resize(canvas, (960, 1280), interpolation=cv2.INTER_CUBIC)
good = (good.astype(np.float32) + rng.normal(0, 1.5, good.shape)).clip(0, 255).astype(np.uint8)
save("good.jpg", good, ok=True)
save("good.png", good, ok=True)
save("good.webp", good, ok=True)
# wrong extension: a PNG named .jpg decodes by its magic bytes
with open(os.path.join(OUT, "good.png"), "rb") as f:
    raw("good_png_named.jpg", f.read())
labels["good_png_named.jpg"] = {"expect": [], "pass": True}

# EXIF orientation 6: pixels stored rotated, the tag says "rotate 90 CW"
ok, enc = cv2.imencode(".jpg", cv2.rotate(good, cv2.ROTATE_90_COUNTERCLOCKWISE),
                       [cv2.IMWRITE_JPEG_QUALITY, 92])
tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + \
    struct.pack("<HHII", 0x0112, 3, 1, 6) + struct.pack("<I", 0)
app1 = b"Exif\x00\x00" + tiff
b = enc.tobytes()
raw("good_exif_rot6.jpg", b[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + b[2:])
labels["good_exif_rot6.jpg"] = {"expect": [], "pass": True}

# ---- degraded variants: one cause each ----
save("blurred.jpg", cv2.GaussianBlur(good, (0, 0), 6), ["BLURRY"])
save("dark.jpg", (good * 0.22).astype(np.uint8), ["TOO_DARK"])
save("overexposed.jpg", (good.astype(np.float32) * 1.9 + 70).clip(0, 255).astype(np.uint8), ["TOO_BRIGHT"])
h, w = good.shape[:2]
R = cv2.getRotationMatrix2D((w / 2, h * 0.3), 15, 1.0)
save("tilted.jpg", cv2.warpAffine(good, R, (w, h), borderMode=cv2.BORDER_REPLICATE), ["HEAD_TILTED"])
# beyond the frontal cascade's reach (~20 degrees): found again in a turned copy
R = cv2.getRotationMatrix2D((w / 2, h * 0.3), -28, 1.0)
save("tilted_strong.jpg", cv2.warpAffine(good, R, (w, h), borderMode=cv2.BORDER_REPLICATE), ["HEAD_TILTED"])
off = cv2.warpAffine(good, np.float32([[1, 0, -280], [0, 1, 0]]), (w, h), borderMode=cv2.BORDER_REPLICATE)
save("offcenter.jpg", off, ["FACE_OFF_CENTER"])
save("small.jpg", cv2.resize(good, (330, 440), interpolation=cv2.INTER_AREA), ["LOW_RESOLUTION"])
two = cv2.resize(np.hstack([good, good]), (1280, 853), interpolation=cv2.INTER_AREA)
save("two_faces.jpg", two, ["MULTIPLE_FACES"])
grad = (1.25 - 0.9 / (1 + np.exp(-(np.arange(w, dtype=np.float32) - w / 2) / 40)))[None, :, None]
save("uneven.jpg", (good * grad).clip(0, 255).astype(np.uint8), ["UNEVEN_LIGHTING"])
far = np.zeros((2600, 1950, 3), np.uint8); far[:] = good[3, 3]
far = cv2.resize(on_wall(far, np.zeros(far.shape[:2] + (1,), np.float32)), (1950, 2600))
small_person = cv2.resize(good, (480, 640), interpolation=cv2.INTER_AREA)
far[1960:2600, 735:1215] = small_person
save("face_small.jpg", far, ["FACE_TOO_SMALL"])
# too close: the face fills ~75 % of the width, the head whole (issue 10:
# a face of 50-60 % whose spec crop fits is no longer "too large")
fl = cv2.copyMakeBorder(good[100:900, 280:680], 0, 0, 0, 0, cv2.BORDER_REPLICATE)
save("face_large.jpg", cv2.resize(fl, (600, 1200), interpolation=cv2.INTER_CUBIC), ["FACE_TOO_LARGE"])
# the head cut by the top edge: no room above the head
save("no_headroom.jpg", good[250:1250, 80:880], ["NO_ROOM_ABOVE_HEAD"])
# busy background: the figure in front of the coffee photo
coffee = cv2.resize(cv2.imread(os.path.join(SRC, "sk_coffee.png")), (512, 512))
busy = (astro.astype(np.float32) * m + coffee.astype(np.float32) * (1 - m)).astype(np.uint8)
bc = np.zeros((427, 320, 3), np.uint8)
bc[50:] = busy[0:377, 65:385]; bc[:50] = cv2.resize(coffee[0:50, 65:385], (320, 50))
save("busy_background.jpg", cv2.resize(bc, (960, 1280), interpolation=cv2.INTER_CUBIC), ["BACKGROUND_NOT_UNIFORM"])
# simulated screen recapture: fine periodic pattern over the whole picture
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
pattern = 1 + 0.18 * np.sin(2 * np.pi * (xx * 0.30 + yy * 0.06))
save("moire.jpg", (good * pattern[..., None]).clip(0, 255).astype(np.uint8), ["RECAPTURE_SUSPECTED"], q=95)

# simulated glare: a clipped specular patch across the cheek and forehead
gl = good.copy()
cv2.ellipse(gl, (470, 370), (90, 30), -10, 0, 360, (255, 255, 255), -1)
save("glare.jpg", cv2.GaussianBlur(gl, (0, 0), 2), ["RECAPTURE_SUSPECTED"])
# simulated photo of a phone screen: the portrait inside a black bezel,
# lying on a grey desk
desk = np.zeros((1280, 960, 3), np.uint8); desk[:] = (120, 125, 130)
desk = (desk + rng.normal(0, 4, desk.shape)).clip(0, 255).astype(np.uint8)
cv2.rectangle(desk, (110, 80), (850, 1200), (15, 15, 15), -1)
desk[130:1150, 150:810] = cv2.resize(good, (660, 1020), interpolation=cv2.INTER_AREA)
save("screen.jpg", desk, ["RECAPTURE_SUSPECTED"])
subprocess.run(["vips", "copy", os.path.join(OUT, "good.png"), os.path.join(OUT, "good.heic")], check=True)
labels["good.heic"] = {"expect": [], "pass": True}

# ---- no face: real photos without people ----
for f in ("sk_coffee.png", "sk_chelsea.png", "sk_rocket.jpg", "sk_horse.png", "sk_coins.png",
          "sk_moon.png", "sk_hubble_deep_field.jpg", "sk_motorcycle_left.png", "sk_brick.png", "dogs.jpg"):
    img = cv2.imread(os.path.join(SRC, f))
    if img is None:
        continue
    s = 1000 / max(img.shape[:2])
    save("noface_" + f.rsplit(".", 1)[0] + ".jpg", cv2.resize(img, None, fx=s, fy=s), ["NO_FACE"])

# ---- broken files ----
gj = open(os.path.join(OUT, "good.jpg"), "rb").read()
raw("truncated.jpg", gj[:len(gj) * 6 // 10], ["CORRUPT_IMAGE"])
raw("truncated_header.jpg", gj[:200], ["CORRUPT_IMAGE"])
raw("garbage.jpg", bytes(rng.integers(0, 256, 5000, dtype=np.uint8)), ["UNSUPPORTED_FORMAT"])
raw("empty.jpg", b"", ["CORRUPT_IMAGE"])
raw("text.png", b"hello, this is not a picture\n" * 20, ["UNSUPPORTED_FORMAT"])
ok, bmp = cv2.imencode(".bmp", good[:64, :64]); raw("bitmap.jpg", bmp.tobytes(), ["UNSUPPORTED_FORMAT"])
raw("jpeg_magic_then_junk.jpg", b"\xff\xd8\xff\xe0" + bytes(rng.integers(0, 256, 3000, dtype=np.uint8)), ["CORRUPT_IMAGE"])


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)


# decompression bomb: 30000 x 30000 grey, all zeros, a few KB
W = H = 30000
rows = zlib.compressobj(9)
data = b"".join(rows.compress(b"\x00" * (W + 1)) for _ in range(200))  # partial is enough
data += rows.flush()
bomb = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0)) + \
    png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
raw("bomb.png", bomb, ["CORRUPT_IMAGE"])

# ---- liveness bursts (frames 480x640 JPEG) ----
base = cv2.resize(good, (480, 640), interpolation=cv2.INTER_AREA)
BD = os.path.join(D, "burst"); os.makedirs(BD, exist_ok=True)


def frame(img, name, q=85):
    n = (img.astype(np.float32) + rng.normal(0, 1.2, img.shape)).clip(0, 255).astype(np.uint8)
    cv2.imwrite(os.path.join(BD, name), n, [cv2.IMWRITE_JPEG_QUALITY, q])
    return name


def sim(img, dx, dy, ang, sc):
    M = cv2.getRotationMatrix2D((240, 320), ang, sc); M[:, 2] += (dx, dy)
    return cv2.warpAffine(img, M, (480, 640), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# eye and mouth positions in the 480x640 frame, from the cascade on base
g = cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)
fc = cv2.CascadeClassifier("/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml")
fx, fy, fw, fh = max(fc.detectMultiScale(g, 1.1, 3), key=lambda r: r[2])


def blink(img, amount):
    """Close the eyes a little: squash each eye band vertically into the
    skin just below it (a crude eyelid), a local non-rigid change."""
    out = img.copy()
    ey0, ey1 = int(fy + 0.30 * fh), int(fy + 0.50 * fh)
    for ex0, ex1 in ((fx + 0.15 * fw, fx + 0.45 * fw), (fx + 0.55 * fw, fx + 0.85 * fw)):
        ex0, ex1 = int(ex0), int(ex1)
        band = img[ey0:ey1, ex0:ex1]
        lid = img[ey0 - (ey1 - ey0) // 2: ey0, ex0:ex1]   # skin above the eye
        hgt = ey1 - ey0
        k = int(hgt * amount)
        if k > 0:
            out[ey0:ey0 + k, ex0:ex1] = cv2.resize(lid, (ex1 - ex0, k))
            out[ey0 + k:ey1, ex0:ex1] = cv2.resize(band, (ex1 - ex0, hgt - k))
    # mouth: a slight stretch
    my0, my1, mx0, mx1 = int(fy + 0.70 * fh), int(fy + 0.92 * fh), int(fx + 0.25 * fw), int(fx + 0.75 * fw)
    mouth = img[my0:my1, mx0:mx1]
    st = cv2.resize(mouth, (mx1 - mx0, int((my1 - my0) * (1 + 0.25 * amount))))
    out[my0:my1, mx0:mx1] = st[:my1 - my0]
    return out


bursts = {}
bursts["static"] = [frame(base, f"static_{i}.jpg", q=80 + i) for i in range(4)]
# a still while the camera re-meters: brightness changes, nothing moves
bursts["static_exposure"] = [frame((base.astype(np.float32) * g + o).clip(0, 255).astype(np.uint8),
                                   f"static_exp_{i}.jpg") for i, (g, o) in
                             enumerate([(1, 0), (1.12, 0), (0.9, 10), (1.05, -5)])]
bursts["rigid"] = [frame(sim(base, *p), f"rigid_{i}.jpg") for i, p in
                   enumerate([(0, 0, 0, 1), (4, 2, 1.5, 1.01), (-3, 5, -2, 0.99), (6, -2, 2.5, 1.02)])]
bursts["rigid_shift"] = [frame(sim(base, *p), f"rigid_shift_{i}.jpg") for i, p in
                         enumerate([(0, 0, 0, 1), (7, 0, 0, 1), (7, 6, 0, 1), (0, 9, 0, 1)])]
def persp(img, k):
    """A print tilted in the hand: the corners move (a homography)."""
    src = np.float32([[0, 0], [480, 0], [480, 640], [0, 640]])
    dst = src + np.float32([[k, 0], [-k, k * 0.5], [0, 0], [0, -k * 0.5]])
    return cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (480, 640),
                               borderMode=cv2.BORDER_REPLICATE)


bursts["rigid_tilt"] = [frame(persp(base, k), f"rigid_tilt_{i}.jpg") for i, k in enumerate([0, 8, 16])]
bursts["live"] = [frame(sim(blink(base, a), *p), f"live_{i}.jpg") for i, (a, p) in
                  enumerate([(0, (0, 0, 0, 1)), (0.5, (2, 1, 0.5, 1)), (0.9, (3, 1, 0.8, 1.005)),
                             (0.3, (1, 2, 0.3, 1))])]
# the burst framed differently from the photo (the student moved before
# the shot): the face is looked for in the frames themselves
bursts["live_reframed"] = [frame(sim(blink(base, a), 60 + p[0], -40 + p[1], 0, 1.0), f"live_r_{i}.jpg")
                           for i, (a, p) in enumerate([(0, (0, 0)), (0.7, (2, 1)), (0.2, (1, 2))])]
bursts["live_blink_only"] = [frame(blink(base, a), f"live_b_{i}.jpg") for i, a in enumerate([0, 0.8, 0.4])]
with open(os.path.join(D, "bursts.json"), "w") as f:
    json.dump({k: {"frames": v, "live": k.startswith("live")} for k, v in bursts.items()}, f, indent=1)

# ---- 12 MP bench input from the real photo ----
cv2.imwrite(os.path.join(D, "bench_12mp.jpg"), cv2.resize(good, (3000, 4000), interpolation=cv2.INTER_CUBIC),
            [cv2.IMWRITE_JPEG_QUALITY, 90])

with open(os.path.join(D, "labels.json"), "w") as f:
    json.dump(labels, f, indent=1, sort_keys=True)
print(f"testdata: {len(labels)} labelled files, {len(bursts)} bursts in {D}")
