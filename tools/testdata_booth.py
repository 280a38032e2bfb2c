#!/usr/bin/python3
"""testdata_booth.py DIR -- the booth set for `make eval` (issue 10, rule 7).

Real heads from Debian packages (HEADS below: skimage's astronaut,
matplotlib's Grace Hopper, two of dlib's example faces), each cut out once
with OpenCV's GrabCut from a head-and-shoulders prior (holes filled, the
edge colours replaced by the person's inner colours: that mask is the known
alpha, that picture the known foreground), levelled by their hand-labelled
eyes, put on walls of several kinds -- white, bright
clipped white, grey, coloured, dark, gradient, shadowed, textured -- at
600x800 to 4032x3024, face width 8-65 % of the frame, EXIF orientations,
PNG, with the faults a booth sees: no headroom, head too low, off centre,
tilt, blur at the output's scale, motion blur, side light, and a white
suit on a white wall, glasses, smiles.  Writes DIR/booth/*.{jpg,png}, DIR/booth.json
{file: {"expect": [codes], "pass": bool, "truth": {...}}} where truth
gives what the eval needs to measure the matte: the alpha file, the
person's colours (a PNG), the affine from the head to the photo and the
labelled eyes in the photo.
Deterministic (fixed seed).
"""
import json, os, struct, sys
import cv2
import numpy as np

D = sys.argv[1]
SRC, OUT = os.path.join(D, "src"), os.path.join(D, "booth")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(11)

# ---- the real heads, each from a Debian package (see docs/photo.md) ----
# file in DIR/src, the package and path it comes from, its Haar face box
# (x, y, w) as OpenCV's frontalface_alt2 finds it, the two eye centres
# (pupils) labelled by hand on a 5-10x zoom, a rough outline drawn by hand
# round the person for GrabCut (busy backgrounds), and "sides" when the
# body is cut by the picture's sides (it continues out of the picture, the
# picture's edge columns repeated).  "tile" crops a collage.
HEADS = {
    "astro": dict(file="sk_astronaut.png", box=(177, 66, 97),
                  eyes=((202.8, 101.0), (246.3, 103.0)),
                  src="python3-skimage: skimage/data/astronaut.png (NASA, public domain)"),
    "hopper": dict(file="mpl_grace_hopper.jpg", box=(145, 99, 239),
                   eyes=((221.6, 190.0), (306.6, 187.0)), sides=True,
                   outline=[(0, 385), (40, 362), (100, 345), (160, 332), (172, 300), (158, 250),
                            (152, 200), (145, 150), (148, 90), (165, 45), (220, 28), (280, 22),
                            (330, 30), (362, 55), (375, 110), (382, 160), (375, 230), (362, 280),
                            (352, 318), (420, 330), (480, 345), (512, 355), (512, 600), (0, 600)],
                   src="python-matplotlib-data: /usr/share/matplotlib/mpl-data/sample_data/"
                       "grace_hopper.jpg (US Navy photo, public domain); glasses, cap"),
    "cruise": dict(file="Tom_Cruise_avp_2014_4.jpg", box=(50, 212, 449),
                   eyes=((184.0, 376.0), (366.7, 394.3)), sides=True,
                   outline=[(0, 690), (60, 660), (100, 605), (62, 520), (50, 420), (55, 300),
                            (70, 200), (110, 110), (180, 50), (280, 25), (380, 30), (460, 60),
                            (530, 110), (560, 180), (560, 300), (540, 420), (520, 480), (500, 560),
                            (470, 620), (530, 665), (565, 690), (565, 800), (0, 800)],
                   src="libdlib19.1: examples/faces/Tom_Cruise_avp_2014_4.jpg (Wikimedia "
                       "Commons, CC BY-SA); smile, narrowed eyes"),
    "rock": dict(file="bald_guys.jpg", tile=(1110, 0, 1772, 646), sides=True,
                 outline=[(0, 440), (120, 410), (240, 370), (300, 332), (328, 300), (322, 230),
                          (328, 150), (345, 110), (380, 60), (430, 25), (500, 10), (570, 25),
                          (615, 70), (640, 130), (648, 200), (660, 232), (642, 292), (612, 332),
                          (592, 390), (592, 480), (640, 510), (662, 524), (662, 646), (0, 646)],
                 box=(1440 - 1110, 59, 331), eyes=((1548.0 - 1110, 179.0), (1665.0 - 1110, 205.0)),
                 src="libdlib19.1: examples/faces/bald_guys.jpg, its top-right tile (a press "
                     "photo collage; licence not stated: eval only); smile, bald, dark skin"),
}
EXT = 400       # the body continues below the picture: its last rows repeated


def cut_out(img, box, outline=None):
    """GrabCut from a head-and-shoulders prior: the face core and the
    torso under it are person for sure, a band over and beside the head
    wall for sure.  Holes are filled (the truth is one solid person), the
    edge softened by 1 px, and the person's colours at the edge replaced
    by its inner colours carried outwards, so the composite has no fringe
    of the old background (a known, clean foreground)."""
    H, W = img.shape[:2]
    fx, fy, fw = box
    cx, cy = fx + fw / 2, fy + fw / 2
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    m = np.full((H, W), cv2.GC_PR_BGD, np.uint8)
    head = ((xx - cx) / (0.78 * fw)) ** 2 + ((yy - (cy - 0.1 * fw)) / (0.95 * fw)) ** 2 <= 1
    chin = cy + 0.55 * fw
    body = (yy > chin) & (np.abs(xx - cx) < 0.35 * fw + (yy - chin) * 1.6)
    m[head | body] = cv2.GC_PR_FGD
    core = ((xx - cx) / (0.36 * fw)) ** 2 + ((yy - cy) / (0.5 * fw)) ** 2 <= 1
    torso = (yy > chin + 0.2 * fw) & (np.abs(xx - cx) < 0.2 * fw + (yy - chin - 0.2 * fw) * 0.8)
    m[core | torso] = cv2.GC_FGD
    wallb = (yy < chin) & ~(((xx - cx) / (1.0 * fw)) ** 2 + ((yy - (cy - 0.1 * fw)) / (1.15 * fw)) ** 2 <= 1)
    m[wallb] = cv2.GC_BGD
    if outline is not None:
        # a hand-drawn outline a few px outside the person: outside it is
        # wall, 25 px inside it person, GrabCut decides the band between
        po = np.zeros((H, W), np.uint8)
        cv2.fillPoly(po, [np.int32(outline)], 1)
        m[:] = cv2.GC_PR_FGD
        m[po == 0] = cv2.GC_BGD
        m[cv2.erode(po, np.ones((51, 51), np.uint8), borderType=cv2.BORDER_REPLICATE) == 1] = cv2.GC_FGD
        m[core] = cv2.GC_FGD
    bgd = np.zeros((1, 65)); fgd = np.zeros((1, 65))
    cv2.grabCut(img, m, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    a = ((m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD)).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(a)
    a = (lab == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    # fill holes: what the border's background cannot reach is person
    a = cv2.morphologyEx(a, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    ff = np.pad(1 - a, 1, constant_values=1)
    mask = np.zeros((H + 4, W + 4), np.uint8)
    cv2.floodFill(ff, mask, (0, 0), 2)
    a = ((ff[1:-1, 1:-1] != 2)).astype(np.float32)
    alpha = cv2.GaussianBlur(a, (0, 0), 1.0)
    # clean foreground: inner colours pushed outwards (normalised blur)
    inner = cv2.erode(a, np.ones((5, 5), np.uint8))
    fg = img.astype(np.float32)
    have = inner.copy()
    out = fg * inner[..., None]
    for sg in (2, 4, 8, 16, 32, 64):
        num = cv2.GaussianBlur(fg * inner[..., None], (0, 0), sg)
        den = cv2.GaussianBlur(inner, (0, 0), sg)[..., None]
        take = (have < 0.5) & (den[..., 0] > 1e-3)
        out[take] = (num / np.maximum(den, 1e-6))[take]
        have[take] = 1
    return out.clip(0, 255).astype(np.uint8), alpha


def load_head(name):
    h = HEADS[name]
    img = cv2.imread(os.path.join(SRC, h["file"]))
    if "tile" in h:
        x0, y0, x1, y1 = h["tile"]
        img = img[y0:y1, x0:x1].copy()
    person, alpha = cut_out(img, h["box"], h.get("outline"))
    person = cv2.copyMakeBorder(person, 0, EXT, 0, 0, cv2.BORDER_REPLICATE)
    alpha = cv2.copyMakeBorder(alpha, 0, EXT, 0, 0, cv2.BORDER_REPLICATE)
    fx, fy, fw = h["box"]
    cols = alpha[:, int(fx + 0.3 * fw):int(fx + 0.7 * fw)]
    hair = int(np.argmax((cols > 0.5).mean(axis=1) > 0.5))
    (lx, ly), (rx, ry) = h["eyes"]
    roll = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    np.save(os.path.join(OUT, f"alpha_{name}.npy"), alpha)
    cv2.imwrite(os.path.join(OUT, f"person_{name}.png"), person)
    return dict(person=person, alpha=alpha, box=h["box"], sides=h.get("sides", False), hair=hair, eyes=h["eyes"], roll=roll,
                pfile=f"person_{name}.png", afile=f"alpha_{name}.npy")


HD = {k: load_head(k) for k in HEADS}
astro = HD["astro"]["person"]
FX, FY, FW = HD["astro"]["box"]

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
cv2.imwrite(os.path.join(OUT, "person_astro_white.png"), astro_white)
HD["astro_white"] = dict(HD["astro"], person=astro_white, pfile="person_astro_white.png")


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


def place(W, H, face_frac, cx_frac, hair_y_frac, kind, roll=0.0, head="astro", shadow=False, level=False):
    """The head scaled so its face box is face_frac of W, face centre at
    cx_frac*W, hair top at hair_y_frac*H, turned by roll degrees (after
    levelling its own eye line when level); returns the photo, the alpha
    and the 2x3 affine head -> photo."""
    hd = HD[head]
    fx, fy, fw = hd["box"]
    s = face_frac * W / fw
    cx, hy = cx_frac * W, hair_y_frac * H
    M = np.float32([[s, 0, cx - s * (fx + fw / 2)], [0, s, hy - s * hd["hair"]]])
    turn = roll + (hd["roll"] if level else 0.0)
    if turn:
        R = cv2.getRotationMatrix2D((cx, hy + s * (fy + 0.4 * fw - hd["hair"])), turn, 1.0)
        M = (np.vstack([R, [0, 0, 1]]) @ np.vstack([M, [0, 0, 1]]))[:2].astype(np.float32)
    p = cv2.warpAffine(hd["person"], M, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    # a body cut by the picture's sides continues out of it (sides)
    a = cv2.warpAffine(hd["alpha"], M, (W, H), flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE if hd["sides"] else cv2.BORDER_CONSTANT)[..., None]
    wl = wall(kind, W, H)
    if shadow:
        # the person's shadow on the wall, down and to the right, soft
        sh = cv2.warpAffine(a[..., 0], np.float32([[1, 0, 0.06 * W], [0, 1, 0.03 * H]]), (W, H))
        sh = cv2.GaussianBlur(sh, (0, 0), 0.02 * W)
        wl *= (1 - 0.45 * sh)[..., None]
    img = p.astype(np.float32) * a + wl * (1 - a)
    img += rng.normal(0, 1.6, img.shape)
    return img.clip(0, 255).astype(np.uint8), a[..., 0], (M, head)


labels = {}


def save(name, img, expect=(), a=None, M=None, q=92, person=None, exif=0):
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
        Mx, head = M
        hd = HD[person or head]
        # the labelled eyes carried into the upright photo
        eyes = [(Mx @ np.array([x, y, 1.0])).tolist() for x, y in hd["eyes"]]
        l["truth"] = {"person": hd["pfile"], "alpha": hd["afile"], "M": Mx.tolist(), "eyes": eyes,
                      "head": head, "sides": hd["sides"]}
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
    # the largest face from the largest real head: the astronaut's 97 px
    # face blown up 7x shows a resampling grid that reads as moire
    head = "cruise" if ff > 0.52 else "astro"
    img, a, M = place(W, H, ff, 0.5, hy, kind, head=head, level=head != "astro")
    save(name, img, (), a, M)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "white", shadow=True)
save("wall_shadow_1200.jpg", img, (), a, M)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "white", head="astro_white")
save("white_suit_white_wall.jpg", img, (), a, M)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "bright", head="astro_white")
save("white_suit_bright_wall.jpg", img, (), a, M)
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

# ---- more real heads (glasses, smiles, narrowed eyes, bald, dark skin,
# white shirt on a white wall), each levelled first then put in booths ----
for head in ("hopper", "cruise", "rock"):
    for name, W, H, ff, kind, kw in [
            ("white_1200.jpg", 1200, 1600, 0.30, "white", {}),
            ("dark_1200.jpg", 1200, 1600, 0.30, "dark", {}),
            ("green_600.jpg", 600, 800, 0.36, "green", {}),
            ("gradient_900.jpg", 900, 1200, 0.32, "gradient", {}),
            ("shadow_1500.jpg", 1500, 2000, 0.26, "shadow", {"shadow": True}),
            ("tilt3_1200.jpg", 1200, 1600, 0.30, "grey", {"roll": 3})]:
        img, a, M = place(W, H, ff, 0.5, 0.12, kind, head=head, level=True, **kw)
        save(f"{head}_{name}", img, (), a, M)
# sizes and orientations: 12 MP portrait turned by EXIF 8, 12 MP landscape
img, a, M = place(3024, 4032, 0.14, 0.5, 0.14, "pink", head="hopper", level=True)
save("hopper_exif8_12mp.jpg", img, (), a, M, exif=8)
img, a, M = place(4032, 3024, 0.10, 0.5, 0.12, "beige", head="cruise", level=True)
save("cruise_landscape_12mp.jpg", img, (), a, M)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "bright", head="rock", level=True)
save("rock_bright_png.png", img, (), a, M)
# faults on the new heads
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "white", head="rock")   # his own 12.5 deg lean
save("rock_tilt12.jpg", img, ["HEAD_TILTED"], a, M)
img, a, M = place(1200, 1600, 0.30, 0.5, 0.12, "grey", head="hopper", level=True, roll=-11)
save("hopper_tilt11.jpg", img, ["HEAD_TILTED"], a, M)
img, a, M = place(1200, 1600, 0.34, 0.5, -0.03, "white", head="cruise", level=True)
save("cruise_no_headroom.jpg", img, ["NO_ROOM_ABOVE_HEAD"], a, M)
base = place(1200, 1600, 0.30, 0.5, 0.12, "white", head="cruise", level=True)[0]
k = 240 / (0.30 * 1200)
save("cruise_blur_out2.jpg", cv2.GaussianBlur(base, (0, 0), 2.0 / k), ["BLURRY"])
base = place(1200, 1600, 0.30, 0.5, 0.12, "grey", head="hopper", level=True)[0]
g = (0.25 + 0.9 / (1 + np.exp((np.arange(1200, dtype=np.float32) - 600) / 40)))[None, :, None]
save("hopper_sidelight_strong.jpg", (base.astype(np.float32) * g).clip(0, 255).astype(np.uint8),
     ["UNEVEN_LIGHTING"])
img, a, M = place(600, 800, 0.18, 0.5, 0.12, "white", head="rock", level=True)
save("rock_face108px_600.jpg", img, ["FACE_TOO_SMALL"])

with open(os.path.join(D, "booth.json"), "w") as f:
    json.dump(labels, f, indent=1, sort_keys=True)
print(f"booth: {len(labels)} photos in {OUT}")
