/*
 * tucai_errors.h -- the refusal contract: the error codes nginx's module
 * and the pool both give, with their HTTP status and their 中文 / English
 * texts, written once.  Both sides include this file; neither spells these
 * texts itself.
 *
 * A refusal's body (API.md) is, byte for byte on either side:
 *
 *     {"error":CODE,"message":"<zh> / <en>"[,"retry_after":N][,fields]}
 *
 * retry_after (seconds, also the Retry-After header) comes right after
 * message when there is one; the refusal's own fields follow in the order
 * listed below.  Strings are JSON-escaped as jansson writes them (UTF-8
 * kept, no '/' escaping).  t/13_refusal_contract.t provokes each refusal
 * both sides can give once through the pool and once from nginx's cache
 * and compares the bodies.
 *
 * Every refusal nginx gives itself is here.  A code only the pool gives
 * (CHECK_FAILED, DRAFTS_FULL, ...) keeps its situational text at its
 * handler; when the pool gives one of the refusals below it uses this
 * entry (resp_refuse() in worker/core/respond.c).
 *
 *   name                status  code / fields after message
 */
#ifndef TUCAI_ERRORS_H
#define TUCAI_ERRORS_H

#include <stdint.h>

#define TUCAI_ERRORS(E)                                                       \
    /* missing, forged or unknown-key token (nginx) */                        \
    E(UNAUTHORIZED, 401, "UNAUTHORIZED",                                      \
      "请先登录", "Missing or invalid session token")                        \
    /* an expired token (nginx); a token whose account was retired or        \
     * unbound, or a teacher gone (pool) */                                  \
    E(SESSION_ENDED, 401, "UNAUTHORIZED",                                     \
      "登录已失效，请重新登录", "Session no longer valid: please log in again") \
    /* an API path nobody serves (nginx's routes; the pool's dispatch) */    \
    E(NO_SUCH_ENDPOINT, 404, "NOT_FOUND",                                     \
      "没有这个接口", "No such endpoint")                                    \
    /* nginx's own 404 (a file location) */                                   \
    E(NOT_FOUND, 404, "NOT_FOUND", "没有找到", "Not found")                  \
    E(METHOD_NOT_ALLOWED, 405, "METHOD_NOT_ALLOWED",                          \
      "该接口不支持此请求方法", "Method not allowed on this path")          \
    /* fields: "limit" (bytes) */                                             \
    E(BODY_TOO_LARGE, 413, "BODY_TOO_LARGE",                                  \
      "上传内容过大", "Request body too large")                              \
    E(BAD_JSON, 400, "BAD_JSON",                                              \
      "请求内容不是有效的 JSON 对象", "The request body is not a valid JSON object") \
    E(BAD_REQUEST, 400, "BAD_REQUEST", "请求无效", "Bad request")            \
    E(URI_TOO_LONG, 414, "BAD_REQUEST",                                       \
      "请求地址过长", "Request URI too long")                                \
    E(HEADER_TOO_LARGE, 400, "BAD_REQUEST",                                   \
      "请求头过大", "Request header too large")                              \
    E(HTTP_VERSION, 505, "BAD_REQUEST",                                       \
      "不支持的 HTTP 版本", "HTTP version not supported")                    \
    E(FORBIDDEN, 403, "FORBIDDEN", "禁止访问", "Forbidden")                  \
    E(REQUEST_TIMEOUT, 408, "REQUEST_TIMEOUT", "请求超时", "Request timed out") \
    /* fields: "lock":"liveness", "contact" (the school's photo office) */   \
    E(LOCKED_LIVENESS, 423, "LOCKED",                                         \
      "多次活体检测未通过，账号已锁定，请联系学校图像采集工作部门解锁",      \
      "Account locked after repeated liveness failures: a photo teacher of " \
      "your school must unlock it")                                          \
    /* retry_after; fields: "lock":"quality", "until" */                      \
    E(LOCKED_QUALITY, 423, "LOCKED",                                          \
      "多次检测未通过，账号暂时锁定，请稍后再试",                            \
      "Account locked for a while after repeated failed checks: try again "  \
      "later")                                                               \
    /* retry_after; fields: "until" */                                        \
    E(COOLING_DOWN, 429, "COOLING_DOWN",                                      \
      "冷静期内，请稍后再拍", "Cooling down after a failed check: please "  \
      "wait before retaking")                                                \
    E(UPLOAD_IN_PROGRESS, 409, "UPLOAD_IN_PROGRESS",                          \
      "上一张照片还在处理中", "The previous photo is still being processed") \
    /* retry_after: nginx's per-student and per-address buckets */            \
    E(RATE_LIMITED, 429, "RATE_LIMITED",                                      \
      "尝试过于频繁，请稍后再试", "Too many attempts: please try again later") \
    /* retry_after: teacher logins, per address (nginx) and per username    \
     * (pool) */                                                             \
    E(LOGIN_THROTTLED, 429, "RATE_LIMITED",                                   \
      "密码错误次数过多，请稍后再试", "Too many wrong passwords: please try " \
      "again later")                                                         \
    /* retry_after (tucai_pool_retry_after) */                                \
    E(POOL_UNAVAILABLE, 503, "POOL_UNAVAILABLE",                              \
      "服务繁忙，请稍后再试", "Service temporarily unavailable: please retry " \
      "shortly")                                                             \
    /* retry_after 1 (tucai_checks_in_flight) */                              \
    E(CHECKS_BUSY, 503, "POOL_UNAVAILABLE",                                   \
      "照片检测繁忙，请稍后重试", "Photo checks are busy: please retry in a " \
      "moment")                                                              \
    E(INTERNAL, 500, "INTERNAL", "服务器内部错误", "Internal server error")

enum tucai_err_id {
#define TUCAI_ERR_ENUM(name, status, code, zh, en)  TUCAI_ERR_##name,
    TUCAI_ERRORS(TUCAI_ERR_ENUM)
#undef TUCAI_ERR_ENUM
    TUCAI_ERR_MAX
};

typedef struct {
    uint16_t     status;
    const char  *code;
    const char  *zh;
    const char  *en;
    const char  *message;           /* "<zh> / <en>", as sent */
} tucai_err_t;

static inline const tucai_err_t *
tucai_err(enum tucai_err_id id)
{
    static const tucai_err_t  errs[] = {
#define TUCAI_ERR_DEF(name, status, code, zh, en)                             \
        { status, code, zh, en, zh " / " en },
        TUCAI_ERRORS(TUCAI_ERR_DEF)
#undef TUCAI_ERR_DEF
    };

    return &errs[(unsigned) id < TUCAI_ERR_MAX ? id : TUCAI_ERR_INTERNAL];
}

#endif /* TUCAI_ERRORS_H */
