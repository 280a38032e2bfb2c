#!/usr/bin/python3
"""testdata_booth.py DIR -- the booth set for `make eval` (issue 10, rule 7).

A real head (skimage's astronaut, cut out once with OpenCV's GrabCut: that
mask is the known alpha) put on walls of several kinds -- white, bright
clipped white, grey, coloured, dark, gradient, shadowed, textured -- at
600x800 to 4032x3024, face width 8-65 % of the frame, EXIF orientations,
PNG, with the faults a booth sees: no headroom, head too low, off centre,
tilt, blur at the output's scale, motion blur, side light, and a white
suit on a white wall.  Writes DIR/booth/*.{jpg,png}, DIR/booth.json
{file: {"expect": [codes], "pass": bool, "truth": {...}}} where truth
gives what the eval needs to measure the matte: the alpha file, the
person's colours (a PNG) and the affine from the astronaut to the photo.
Deterministic (fixed seed).
"""
import json, os, struct, sys
import cv2
import numpy as np

D = sys.argv[1]
SRC, OUT = os.path.join(D, "src"), os.path.join(D, "booth")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(11)

astro = cv2.imread(os.path.join(SRC, "sk_astronaut.png"))
mask = np.zeros(astro.shape[:2], np.uint8)
bgd = np.zeros((1, 65)); fgd = np.zeros((1, 65))
cv2.grabCut(astro, mask, (95, 10, 330, 502), bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
alpha = np.where((mask == 1) | (mask == 3), 1.0, 0.0).astype(np.float32)
# keep the largest piece only (GrabCut leaves specks), soft 1-2 px edge
n, lab, st, _ = cv2.connectedComponentsWithStats((alpha > 0.5).astype(np.uint8))
big = 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
alpha = (lab == big).astype(np.float32)
alpha = cv2.GaussianBlur(alpha, (0, 0), 1.0)
# the body continues below the picture: repeat the last rows
EXT = 400
astro = cv2.copyMakeBorder(astro, 0, EXT, 0, 0, cv2.BORDER_REPLICATE)
alpha = cv2.copyMakeBorder(alpha, 0, EXT, 0, 0, cv2.BORDER_REPLICATE)
FX, FY, FW = 177, 66, 97                    # the face (Haar box) in astro
cols = alpha[:, FX + 30:FX + 67]
HAIR = int(np.argmax((cols > 0.5).mean(axis=1) > 0.5))   # hair top row
np.save(os.path.join(OUT, "alpha_src.npy"), alpha)
cv2.imwrite(os.path.join(OUT, "person_src.png"), astro)

# a white suit: the orange suit's pixels made white, shading kept
hsv = cv2.cvtColor(astro, cv2.COLOR_BGR2HSV)
suit = ((hsv[..., 0] < 22) & (hsv[..., 1] > 110) & (np.arange(astro.shape[0])[:, None] > 260)).astype(np.float32)
suit = cv2.GaussianBlur(suit, (0, 0), 1.5)[..., None]
v = hsv[..., 2:3].astype(np.float32)
white = np.clip(np.repeat(v / v.max() * 40 + 205, 3, axis=2), 0, 255)
# and the black collar under the chin: a white shirt collar
rows = np.arange(astro.shape[0])[:, None]
collar = ((hsv[..., 2] < 90) & (rows > 165) & (rows < 340) & (np.arange(astro.shape[1])[None, :] > 150) & (np.arange(astro.shape[1])[None, :] < 360)).astype(np.float32)
collar = cv2.GaussianBlur(collar, (0, 0), 1.0)[..., None]
cshade = np.clip(np.repeat(hsv[..., 2:3].astype(np.float32) * 0.5 + 212, 3, axis=2), 0, 255)
suit = np.maximum(suit, collar)
white = white * (1 - collar) + cshade * collar
astro_white = (astro * (1 - suit) + white * suit).astype(np.uint8)
cv2.imwrite(os.path.join(OUT, "person_white_src.png"), astro_white)


def wall(kind, W, H):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    c = {"white": (242, 243, 245), "bright": (255, 255, 255), "grey": (188, 190, 190),
         "green": (150, 172, 150), "beige": (160, 185, 205), "pink": (190, 180, 225),
         "dark": (62, 60, 58), "gradient": (235, 235, 235), "hgradient": (225, 228, 230),
         "shadow": (230, 230, 228), "texture": (205, 210, 212)}[kind]
    w = np.zeros((H, W, 3), np.float32); w[:] = c
    if kind == "gradient":
        w *= (1.0 - 0.38 * yy / H)[..., None]
    if kind == "hgradient":
        w *= (0.72 + 0.28 * xx / W)[..., None]
    if kind == "texture":
        n = cv2.GaussianBlur(rng.normal(0, 9, (H, W)).astype(np.float32), (0, 0), 1.2)
        w += n[..., None]
    return w


def place(W, H, face_frac, cx_frac, hair_y_frac, kind, roll=0.0, person=None, shadow=False):
    """Astro scaled so the face is face_frac of W, face centre at
    cx_frac*W, hair top at hair_y_frac*H; returns the photo, the alpha and
    the 2x3 affine astro -> photo."""
    person = astro if person is None else person
    s = face_frac * W / FW
    cx, hy = cx_frac * W, hair_y_frac * H
    M = np.float32([[s, 0, cx - s * (FX + FW / 2)], [0, s, hy - s * HAIR]])
    if roll:
        R = cv2.getRotationMatrix2D((cx, hy + s * (FY + 0.4 * FW - HAIR)), roll, 1.0)
        M = (np.vstack([R, [0, 0, 1]]) @ np.vstack([M, [0, 0, 1]]))[:2].astype(np.float32)
    p = cv2.warpAffine(person, M, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(alpha, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    wl = wall(kind, W, H)
    if shadow:
        # the person's shadow on the wall, down and to the right, soft
        sh = cv2.warpAffine(a[..., 0], np.float32([[1, 0, 0.06 * W], [0, 1, 0.03 * H]]), (W, H))
        sh = cv2.GaussianBlur(sh, (0, 0), 0.02 * W)
        wl *= (1 - 0.45 * sh)[..., None]
    img = p.astype(np.float32) * a + wl * (1 - a)
    img += rng.normal(0, 1.6, img.shape)
    return img.clip(0, 255).astype(np.uint8), a[..., 0], M


labels = {}


def save(name, img, expect=(), a=None, M=None, q=92, person="person_src.png", exif=0):
    path = os.path.join(OUT, name)
    if name.endswith(".png"):
        cv2.imwrite(path, img)
    elif exif:
        # stored turned, the tag says how to turn it upright
        stored = {6: cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE),
                  8: cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE), 3: cv2.rotate(img, cv2.ROTATE_180)}[exif]
        ok, enc = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, q])
        tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + \
            struct.pack("<HHII", 0x0112, 3, 1, exif) + struct.pack("<I", 0)
        app1 = b"Exif\x00\x00" + tiff
        b = enc.tobytes()
        open(path, "wb").write(b[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + b[2:])
    else:
        cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, q])
    l = {"expect": list(expect), "pass": not expect, "size": [img.shape[1], img.shape[0]]}
    if M is not None:
        l["truth"] = {"person": person, "M": M.tolist()}
    labels[name] = l


P = dict  # readability below
# ---- should pass: walls of every kind, sizes, face widths ----
for name, W, H, ff, kind in [
        ("wall_white_1200.jpg", 1200, 1600, 0.30, "white"),
        ("wall_bright_1200.jpg", 1200, 1600, 0.30, "bright"),
        ("wall_grey_600.jpg", 600, 800, 0.36, "grey"),
        ("wall_green_1500.jpg", 1500, 2000, 0.28, "green"),
        ("wall_beige_1200.jpg", 1200, 1600, 0.33, "beige"),
        ("wall_pink_900.jpg", 900, 1200, 0.30, "pink"),
        ("wall_dark_1200.jpg", 1200, 1600, 0.30, "dark"),
        ("wall_gradient_1200.jpg", 1200, 1600, 0.30, "gradient"),
        ("wall_hgradient_1200.jpg", 1200, 1600, 0.30, "hgradient"),
        ("wall_texture_1200.jpg", 1200, 1600, 0.30, "texture"),
        ("face08_3024.jpg", 3024, 4032, 0.08, "white"),
        ("face15_3024.jpg", 3024, 4032, 0.15, "grey"),
        ("face50_1200.jpg", 1200, 1600, 0.50, "white"),
        ("face55_1200.jpg", 1200, 1600, 0.55, "grey")]:
    hy = 0.12 if ff < 0.45 else 0.06
    img, a, M = place(W, H, ff, 0.5, hy, kind)
    save(name, img, (), a, M)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "white", shadow=True)
save("wall_shadow_1200.jpg", img, (), a, M)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "white", person=astro_white)
save("white_suit_white_wall.jpg", img, (), a, M, person="person_white_src.png")
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "bright", person=astro_white)
save("white_suit_bright_wall.jpg", img, (), a, M, person="person_white_src.png")
img, a, M = place(3024, 4032, 0.12, 0.5, 0.15, "beige")
save("exif6_12mp.jpg", img, (), a, M, exif=6)
img, a, M = place(900, 1200, 0.30, 0.5, 0.12, "grey")
save("exif3_900.jpg", img, (), a, M, exif=3)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "green")
save("png_1200.png", img, (), a, M)
img, a, M = place(1200, 1600, 0.28, 0.30, 0.12, "white")
save("offcentre_30pct.jpg", img, (), a, M)        # re-centred by the crop
img, a, M = place(1200, 1600, 0.30, 0.5, 0.015, "grey")
save("headroom_small.jpg", img, (), a, M)          # wall extended above
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "white", roll=4)
save("tilt4.jpg", img, (), a, M)                  # levelled
img = place(1200, 1600, 0.30, 0.5, 0.12, "white")[0].astype(np.float32)
g = np.linspace(1.0, 0.78, 1200, dtype=np.float32)[None, :, None]
save("sidelight_mild.jpg", (img * g).clip(0, 255).astype(np.uint8))

# ---- should fail, with the reason that says what to do ----
img, a, M = place(600, 800, 0.20, 0.5, 0.12, "white")   # 120 px face
save("face120px_600.jpg", img, ["FACE_TOO_SMALL"])
img, a, M = place(1200, 1600, 0.08, 0.5, 0.3, "white")
save("face08_1200.jpg", img, ["FACE_TOO_SMALL"])
img, a, M = place(1200, 1600, 0.68, 0.5, 0.05, "grey")
save("face68_1200.jpg", img, ["FACE_TOO_LARGE"])
img, a, M = place(1200, 1600, 0.30, 0.5, -0.02, "white")
save("no_headroom.jpg", img, ["NO_ROOM_ABOVE_HEAD"])
img, a, M = place(1200, 1600, 0.30, 0.5, 0.62, "white")
save("head_too_low.jpg", img, ["NO_ROOM_BELOW_CHIN"])
img, a, M = place(1200, 1600, 0.32, 0.17, 0.12, "white")
save("offcentre_far.jpg", img, ["FACE_OFF_CENTER"])
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "white", roll=14)
save("tilt14.jpg", img, ["HEAD_TILTED"])   # the astronaut leans 3.7 deg the other way
base = place(1200, 1600, 0.30, 0.5, 0.12, "white")[0]
k = 240 / (0.30 * 1200 * 97 / FW)                  # output px per photo px
for sig in (1.5, 2.5):
    save(f"blur_out{sig}.jpg", cv2.GaussianBlur(base, (0, 0), sig / k), ["BLURRY"])
ker = np.zeros((1, int(8 / k) | 1), np.float32); ker[:] = 1.0 / ker.size
save("motion_blur.jpg", cv2.filter2D(base, -1, ker), ["BLURRY"])
g = (0.35 + 0.9 / (1 + np.exp((np.arange(1200, dtype=np.float32) - 600) / 50)))[None, :, None]
save("sidelight_strong.jpg", (base.astype(np.float32) * g).clip(0, 255).astype(np.uint8), ["UNEVEN_LIGHTING"])

with open(os.path.join(D, "booth.json"), "w") as f:
    json.dump(labels, f, indent=1, sort_keys=True)
print(f"booth: {len(labels)} photos in {OUT}")
