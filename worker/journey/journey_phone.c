/*
 * journey_phone.c -- POST /api/v1/phone (step 4, first half): the phone
 * number, typed (validated as a mainland mobile number) or from WeChat's
 * getPhoneNumber code; kept on the account until confirm, answered with the
 * info check page.  Allowed at steps phone and confirm.
 */
#include <string.h>

#include "handlers.h"
#include "journey.h"
#include "wechat.h"

/* ^1[3-9][0-9]{9}$ */
static int
mainland_mobile(const char *s)
{
    int i;

    if (strlen(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9') {
        return 0;
    }
    for (i = 2; i < 11; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int
invalid(tucai_resp_t *resp, const char *field)
{
    return resp_error(resp, 400, "PHONE_INVALID",
        "手机号无效，请输入中国大陆 11 位手机号",
        "invalid phone number (mainland mobile, 11 digits)",
        json_pack("{s:s}", "field", field));
}

int
journey_phone(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    jst_t       st;
    json_t     *body, *check;
    const char *typed, *pcode;
    char        phone[32];
    wx_status_t ws;

    if (journey_enter(ctx, req, resp, &st, J_BIT(J_PHONE) | J_BIT(J_CONFIRM))
        != 0) {
        return 0;
    }
    body = journey_json_body(req, resp);
    if (body == NULL) {
        return 0;
    }
    typed = json_string_value(json_object_get(body, "phone"));
    pcode = json_string_value(json_object_get(body, "phone_code"));
    if (typed != NULL) {
        if (!mainland_mobile(typed)) {
            json_decref(body);
            return invalid(resp, "phone");
        }
        snprintf(phone, sizeof(phone), "%s", typed);
    } else if (pcode != NULL && pcode[0] != '\0' && strlen(pcode) <= 128) {
        ws = wx_phone_number(ctx, pcode, phone, sizeof(phone));
        if (ws == WX_UNAVAILABLE) {
            json_decref(body);
            return resp_error(resp, 502, "WECHAT_UNAVAILABLE",
                "微信服务暂不可用，请稍后重试或手动输入手机号",
                "WeChat is unavailable; retry or type the number",
                json_pack("{s:i}", "retry_after", 5));
        }
        if (ws != WX_OK || !mainland_mobile(phone)) {
            json_decref(body);
            return invalid(resp, "phone_code");
        }
    } else {
        const char *field = json_object_get(body, "phone_code") != NULL
            ? "phone_code"
            : "phone";
        json_decref(body);
        return invalid(resp, field);
    }
    json_decref(body);

    if (db_exec(ctx, "UPDATE accounts SET pending_phone = %s WHERE id = %lu",
            phone, st.account_id)
            < 0
        || journey_load(ctx, st.account_id, &st) != 0)
    {
        return resp_db_unavailable(resp);
    }
    check = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", st.name, "student_no",
        st.student_no, "school", st.school_name, "phone", phone, "warning",
        "冒用他人身份采集图像将被追究责任 / Using "
        "someone else's identity is prohibited and will be "
        "pursued");
    return resp_json(resp, 200,
        json_pack(
            "{s:o,s:s}", "check", check, "step", journey_step_name(st.step)));
}
