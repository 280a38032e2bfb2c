/*
 * journey_video.c -- the guide video (step 7): GET /api/v1/video,
 * POST /video/start (records the server time playback started; starting
 * again restarts the clock) and POST /video/finish, refused with 409
 * VIDEO_NOT_FINISHED {"remaining_s"} until the school's duration has
 * really elapsed since start, by the server's clock.  Allowed from step
 * video on (watching again later is harmless and keeps the step).
 */
#include "handlers.h"
#include "journey.h"

int
journey_video(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t st;

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_VIDEO)) != 0) {
        return 0;
    }
    return resp_json(resp, 200,
        json_pack("{s:s,s:I,s:o,s:b}", "url", st.video_url, "duration_s",
            (json_int_t) st.video_duration_s, "started_at",
            journey_time(st.video_started_at), "finished",
            st.video_finished_at != 0));
}

int
journey_video_start(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t   st;
    int64_t now = (int64_t) time(NULL);

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_VIDEO)) != 0) {
        return 0;
    }
    if (db_exec(ctx,
            "UPDATE students SET video_started_at = %ld,"
            " updated_at = %ld WHERE id = %lu",
            now, now, st.student_id)
        < 0)
    {
        return resp_db_unavailable(resp);
    }
    return resp_json(resp, 200,
        json_pack("{s:o,s:I}", "started_at", journey_time(now), "duration_s",
            (json_int_t) st.video_duration_s));
}

int
journey_video_finish(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t   st;
    int64_t now = (int64_t) time(NULL), remaining;

    if (journey_enter(ctx, req, resp, &st, J_FROM(J_VIDEO)) != 0) {
        return 0;
    }
    if (st.video_finished_at == 0) {
        remaining = st.video_started_at == 0
            ? (int64_t) st.video_duration_s
            : st.video_started_at + (int64_t) st.video_duration_s - now;
        if (remaining > 0) {
            return resp_error(resp, 409, "VIDEO_NOT_FINISHED",
                "请完整观看拍摄指引视频", "watch the whole guide video first",
                json_pack("{s:I,s:b}", "remaining_s", (json_int_t) remaining,
                    "started", st.video_started_at != 0));
        }
        /* The condition is repeated in SQL so a concurrent restart of the
         * clock cannot be finished early. */
        if (db_exec(ctx,
                "UPDATE students SET video_finished_at = %ld,"
                " updated_at = %ld WHERE id = %lu AND video_started_at"
                " IS NOT NULL AND video_started_at + %ld <= %ld",
                now, now, st.student_id, (int64_t) st.video_duration_s, now)
            < 0)
        {
            return resp_db_unavailable(resp);
        }
    }
    return journey_reply_step(ctx, req, resp, NULL);
}
