/*
 * capture_upload.c -- PRODUCT.md steps 8-9: the upload of one capture,
 * multipart "photo" (JPEG, PNG, HEIC/HEIF, WebP; up to the configured size)
 * + "frames" (the liveness burst, 0..CAP_MAX_FRAMES) + "meta" (JSON
 * {camera, source}, step 7's metadata).  Nothing is decoded here: the
 * format is told by its magic bytes, the pixels are photo_process()'s.
 */
#include <string.h>

#include "capture.h"
#include "multipart.h"

static const char *
sniff_ext(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "jpg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "png";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) {
        return "webp";
    }
    if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0)
        return "heic";
    return NULL;
}

/* A meta value as a short token ("back", "album"): only [A-Za-z0-9_.-]
 * is kept, so a cut never splits a UTF-8 sequence and the stored column
 * and the progress keys stay plain. */
static void
meta_copy(char *dst, size_t n, const char *s)
{
    size_t len = 0;

    for (; s != NULL && *s != '\0' && len + 1 < n; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
            || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-')
        {
            dst[len++] = *s;
        }
    }
    dst[len] = '\0';
}

/* Parses the multipart upload into ci, or answers the error: -1. */
int
capture_parse_upload(
    const tucai_req_t *req, tucai_resp_t *resp, capture_input_t *ci)
{
    mp_part_t        parts[MP_MAX_PARTS];
    const mp_part_t *photo = NULL, *meta = NULL;
    const char      *b, *err;
    size_t           blen;
    int              np, i;
    json_t          *m;

    memset(ci, 0, sizeof(*ci));
    if (req->body_len > journey_policy(req, TUCAI_POL_MAX_UPLOAD)) {
        return resp_refuse(resp, TUCAI_ERR_BODY_TOO_LARGE,
                   json_pack("{s:I}", "limit",
                       (json_int_t) journey_policy(req, TUCAI_POL_MAX_UPLOAD))),
               -1;
    }
    if (mp_boundary(req->content_type.p, req->content_type.len, &b, &blen)) {
        return resp_error(resp, 400, "BAD_MULTIPART",
                   "请以 multipart/form-data 上传",
                   "expected multipart/form-data with a boundary", NULL),
               -1;
    }
    np = mp_parse(req->body, req->body_len, b, blen, parts, MP_MAX_PARTS, &err);
    if (np < 0) {
        return resp_error(resp, 400, "BAD_MULTIPART", "上传格式错误",
                   "bad multipart body", json_pack("{s:s}", "detail", err)),
               -1;
    }
    for (i = 0; i < np; i++) {
        if (mp_named(&parts[i], "photo")) {
            if (photo != NULL) {
                goto dup;
            }
            photo = &parts[i];
        } else if (mp_named(&parts[i], "frames")
            || mp_named(&parts[i], "frames[]")) {
            if (ci->in.nframes == CAP_MAX_FRAMES) {
                return resp_error(resp, 400, "BAD_REQUEST", "活体帧过多",
                           "too many liveness frames",
                           json_pack("{s:s,s:i}", "field", "frames", "limit",
                               CAP_MAX_FRAMES)),
                       -1;
            }
            ci->frames[ci->in.nframes] = parts[i].data;
            ci->frame_lens[ci->in.nframes++] = parts[i].len;
        } else if (mp_named(&parts[i], "meta")) {
            if (meta != NULL) {
                goto dup;
            }
            meta = &parts[i];
        }
    }
    if (photo == NULL || photo->len == 0) {
        return resp_error(resp, 400, "BAD_REQUEST", "请上传照片",
                   "field photo is missing",
                   json_pack("{s:s}", "field", "photo")),
               -1;
    }
    ci->ext = sniff_ext(photo->data, photo->len);
    if (ci->ext == NULL) {
        return resp_error(resp, 415, "UNSUPPORTED_FORMAT",
                   "不支持的图片格式，请上传 JPEG、PNG、HEIC 或 WebP",
                   "unsupported image format (JPEG, PNG, HEIC, WebP)", NULL),
               -1;
    }
    ci->in.photo = photo->data;
    ci->in.photo_len = photo->len;
    ci->in.frames = ci->frames;
    ci->in.frame_lens = ci->frame_lens;
    ci->in.judge_liveness = 1;
    if (meta != NULL) {
        m = meta->len <= CAP_META_MAX
            ? json_loadb((const char *) meta->data, meta->len, 0, NULL)
            : NULL;
        if (!json_is_object(m)) {
            json_decref(m);
            return resp_error(resp, 400, "BAD_JSON", "meta 不是有效的 JSON",
                       "meta is not a JSON object",
                       json_pack("{s:s}", "field", "meta")),
                   -1;
        }
        meta_copy(ci->in.meta.camera, sizeof(ci->in.meta.camera),
            json_string_value(json_object_get(m, "camera")));
        meta_copy(ci->in.meta.source, sizeof(ci->in.meta.source),
            json_string_value(json_object_get(m, "source")));
        json_decref(m);
    }
    return 0;

dup:
    return resp_error(resp, 400, "BAD_REQUEST", "重复的字段",
               "duplicated field", NULL),
           -1;
}
