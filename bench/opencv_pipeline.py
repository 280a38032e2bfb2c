#!/usr/bin/python3
"""opencv_pipeline.py IMAGE OUT.jpg -- the comparison pipeline for
bench/photo.sh, with Debian's python3-opencv: decode, Haar face + eyes
(the same cascade files, scanned at the same 480 px scale as tucai),
Laplacian variance on the face, crop + resize to 480x640, JPEG encode.
Prints the processing seconds (imports excluded, so the ratio is fair to
OpenCV)."""
import sys, time
import cv2

t0 = time.perf_counter()
img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
h, w = img.shape[:2]
s = 1280 / max(h, w)
work = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
grey = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
d = 480 / max(grey.shape)
small = cv2.resize(grey, None, fx=d, fy=d, interpolation=cv2.INTER_AREA)
face_c = cv2.CascadeClassifier("/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml")
eye_c = cv2.CascadeClassifier("/usr/share/opencv4/haarcascades/haarcascade_eye.xml")
faces = face_c.detectMultiScale(small, 1.1, 3, minSize=(20, 20))
out = cv2.resize(work, (480, 640))
if len(faces):
    x, y, fw, fh = [int(v / d) for v in max(faces, key=lambda f: f[2])]
    roi = grey[y:y + int(fh * 0.6), x:x + fw]
    roi = cv2.resize(roi, (160, int(160 * roi.shape[0] / max(1, roi.shape[1]))))
    eyes = eye_c.detectMultiScale(roi, 1.08, 1, minSize=(18, 18))
    sharp = cv2.Laplacian(cv2.resize(grey[y:y + fh, x:x + fw], (128, 128)), cv2.CV_64F).var()
    cx, cy = x + fw // 2, y + fh // 2
    k = 240 / fw
    half_w, half_h = int(240 / k), int(320 / k)
    x0, y0 = max(0, cx - half_w), max(0, cy - half_h)
    crop = work[y0:y0 + 2 * half_h, x0:x0 + 2 * half_w]
    out = cv2.resize(crop, (480, 640), interpolation=cv2.INTER_AREA)
ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 85])
open(sys.argv[2], "wb").write(enc.tobytes())
print(f"{time.perf_counter() - t0:.4f}")
