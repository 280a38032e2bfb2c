/*
 * capture_check.c -- PRODUCT.md step 10: the automatic check after
 * production, photo_process() with the school's spec (schools.spec_json
 * over the configured default) and the configured thresholds.  Bytes that
 * do not decode (422 CORRUPT_IMAGE, 415 UNSUPPORTED_FORMAT) are answered
 * here: they are no attempt (no row, no cooldown, nothing stored).
 */
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "metrics.h"

/* Per child: libvips and the configured defaults, loaded on first use. */
static int                photo_ready;
static photo_spec_t       base_spec;
static photo_thresholds_t base_th;

static int
photo_setup(tucai_ctx_t *ctx)
{
    char    err[200];
    json_t *j;

    if (photo_ready) {
        return 0;
    }
    if (photo_init("tucai-worker") != 0) {
        return -1;
    }
    photo_spec_default(&base_spec);
    photo_thresholds_default(&base_th);
    if (ctx->cfg->photo_spec_file[0] != '\0') {
        j = json_load_file(ctx->cfg->photo_spec_file, 0, NULL);
        if (j == NULL || photo_spec_from_json(&base_spec, j, err, sizeof(err)))
        {
            fprintf(stderr, "journey: bad [photo] spec_file %s\n",
                ctx->cfg->photo_spec_file);
        }
        json_decref(j);
    }
    if (ctx->cfg->photo_thresholds_file[0] != '\0') {
        j = json_load_file(ctx->cfg->photo_thresholds_file, 0, NULL);
        if (j == NULL
            || photo_thresholds_from_json(&base_th, j, err, sizeof(err))) {
            fprintf(stderr, "journey: bad [photo] thresholds_file %s\n",
                ctx->cfg->photo_thresholds_file);
        }
        json_decref(j);
    }
    photo_ready = 1;
    return 0;
}

/* The school's spec: its spec_json over the configured default. */
static int
school_spec(tucai_ctx_t *ctx, uint32_t school_id, photo_spec_t *spec)
{
    char    buf[8192], err[200];
    json_t *j;
    int     rc;

    *spec = base_spec;
    rc = db_query_str(ctx, buf, sizeof(buf),
        "SELECT spec_json FROM schools WHERE id = %lu", (uint64_t) school_id);
    if (rc < 0) {
        return -1;
    }
    if (rc == 1 && buf[0] != '\0') {
        j = json_loads(buf, 0, NULL);
        if (j == NULL || photo_spec_from_json(spec, j, err, sizeof(err))) {
            /* A broken school spec must not block students: default. */
            fprintf(stderr,
                "journey: school %u: bad spec_json, using default\n",
                school_id);
            *spec = base_spec;
        }
        json_decref(j);
    }
    return 0;
}

int
capture_check_prepare(tucai_ctx_t *ctx, const tucai_req_t *req,
    tucai_resp_t *resp, const jst_t *st, photo_spec_t *spec,
    photo_thresholds_t *th)
{
    if (photo_setup(ctx) != 0 || school_spec(ctx, st->school_id, spec) != 0) {
        resp_error(resp, 503, "PHOTO_UNAVAILABLE",
            "照片服务暂不可用，请稍后重试",
            "photo service unavailable, retry shortly",
            json_pack("{s:i}", "retry_after", 5));
        return -1;
    }
    *th = base_th;
    th->max_bytes = journey_policy(req, TUCAI_POL_MAX_UPLOAD);
    return 0;
}

int
capture_check_run(const capture_input_t *ci, const photo_spec_t *spec,
    const photo_thresholds_t *th, photo_result_t *res, tucai_resp_t *resp)
{
    if (photo_process(&ci->in, spec, th, 1, res) != 0) {
        resp_error(resp, 503, "PHOTO_UNAVAILABLE", "照片处理失败，请稍后重试",
            "photo processing failed, retry shortly",
            json_pack("{s:i}", "retry_after", 5));
        return -1;
    }
    {
        /* the pool's photo stage histograms (metrics.h) */
        int64_t us[METRICS_NSTAGES];
        int     k;

        _Static_assert(METRICS_NSTAGES == PHOTO_NSTAGES, "photo stages");
        for (k = 0; k < METRICS_NSTAGES; k++) {
            us[k] =
                res->stage_ms[k] < 0 ? -1 : (int64_t) (res->stage_ms[k] * 1000);
        }
        metrics_stages(us);
    }

    if (res->decode_failed) {
        /* Not an attempt: no row, no cooldown, nothing kept. */
        if (res->decode_code != NULL
            && strcmp(res->decode_code, "UNSUPPORTED_FORMAT") == 0)
        {
            resp_error(resp, 415, "UNSUPPORTED_FORMAT",
                "不支持的图片格式，请上传 JPEG、PNG、HEIC 或 WebP",
                "unsupported image format",
                json_pack("{s:O}", "verdict", res->verdict));
        } else {
            resp_error(resp, 422, "CORRUPT_IMAGE",
                "图片已损坏或无法读取，请重拍",
                "the image is corrupt or unreadable",
                json_pack("{s:O}", "verdict", res->verdict));
        }
        photo_result_free(res);
        return -1;
    }
    return 0;
}
