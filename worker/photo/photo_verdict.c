/*
 * photo_verdict.c -- reason codes with their plain-words messages, and the
 * API.md verdict object {"pass","reasons","metrics","faces"}.
 */
#include "photo_int.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *code, *msg;
} messages[] = {
    { "CORRUPT_IMAGE",
        "图片已损坏或不完整，请重新拍摄 / The image is damaged or incomplete; please take it again" },
    { "UNSUPPORTED_FORMAT",
        "不支持的图片格式，请使用 JPEG、PNG、HEIC 或 WebP / Unsupported image format; use JPEG, PNG, HEIC or WebP" },
    { "LOW_RESOLUTION", "照片分辨率太低 / The photo's resolution is too low" },
    { "NO_FACE", "没有检测到人脸 / No face was found" },
    { "MULTIPLE_FACES",
        "照片中有多张人脸，请单人拍摄 / More than one face is in the photo; only you should be in it" },
    { "FACE_TOO_SMALL",
        "人脸太小，请靠近一些 / The face is too small; come closer" },
    { "FACE_TOO_LARGE",
        "人脸太大，请离远一些 / The face is too large; step back a little" },
    { "FACE_OFF_CENTER",
        "人脸没有居中，请移到画面中间 / The face is not centred; move to the middle of the picture" },
    { "NO_ROOM_ABOVE_HEAD",
        "头顶上方没有留出空间，请把手机稍微向上对准或后退一步 / No room above the head; aim the phone a little higher or step back" },
    { "NO_ROOM_BELOW_CHIN",
        "下巴以下留的太少（肩膀要拍进去），请把手机稍微向下对准或后退一步 / Too little below the chin (the shoulders must show); aim the phone a little lower or step back" },
    { "HEAD_TILTED",
        "头部歪斜，请保持端正 / The head is tilted; keep it straight" },
    { "EYES_NOT_FOUND",
        "没有检测到双眼，请睁眼并正对镜头 / Both eyes could not be found; open your eyes and face the camera" },
    { "TOO_DARK", "照片太暗 / The photo is too dark" },
    { "TOO_BRIGHT",
        "照片太亮（曝光过度） / The photo is too bright (overexposed)" },
    { "UNEVEN_LIGHTING", "脸部光线不均匀 / The light on the face is uneven" },
    { "BLURRY", "照片模糊 / The photo is blurry" },
    { "BACKGROUND_NOT_UNIFORM",
        "背景不是纯色，请在浅色纯色背景前拍摄 / The background is not plain; stand in front of a plain light wall" },
    { "RECAPTURE_SUSPECTED",
        "疑似翻拍屏幕或照片 / This looks like a photo of a screen or a print" },
    { "PRODUCTION_FAILED",
        "无法按规格制作照片，请重新拍摄 / The photo cannot be produced to the spec; please take it again" },
    { "LIVENESS_FAILED",
        "活体检测未通过，请本人实时拍摄 / The liveness check failed; the photo must be of you, taken live" },
};

const char *
photo_reason_message(const char *code)
{
    for (size_t i = 0; i < sizeof messages / sizeof *messages; i++)
        if (!strcmp(messages[i].code, code))
            return messages[i].msg;
    return "照片检查未通过 / The photo check failed";
}

/* Adds a failing reason; steals value and limit (either may be NULL). */
void
photo_reason(photo_report_t *r, const char *code, json_t *value, json_t *limit)
{
    json_t *o = json_pack(
        "{ss ss}", "code", code, "message", photo_reason_message(code));
    if (!o) {
        json_decref(value);
        json_decref(limit);
        return;
    }
    json_object_set_new(o, "value", value ? value : json_null());
    json_object_set_new(o, "limit", limit ? limit : json_null());
    json_array_append_new(r->reasons, o);
}

json_t *
photo_verdict_build(
    photo_report_t *r, const photo_img_t *im, const photo_det_t *d)
{
    json_t *faces = json_array();
    if (im && d) {
        for (int i = 0; i < d->nfaces; i++) {
            const photo_box_t *b = &d->faces[i];
            json_array_append_new(faces,
                json_pack("{sI sI sI sI}", "x",
                    (json_int_t) lround(b->x * im->scale), "y",
                    (json_int_t) lround(b->y * im->scale), "w",
                    (json_int_t) lround(b->w * im->scale), "h",
                    (json_int_t) lround(b->h * im->scale)));
        }
    }
    json_t *v =
        json_pack("{sb sO sO so}", "pass", json_array_size(r->reasons) == 0,
            "reasons", r->reasons, "metrics", r->metrics, "faces", faces);
    return v;
}
