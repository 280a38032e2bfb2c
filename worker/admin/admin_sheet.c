/*
 * admin_sheet.c -- printable code sheets: one card per student with name,
 * student number, the code in text and as a QR code (libqrencode, drawn as
 * inline SVG so the page needs no image files and prints sharply).
 *
 * Only hashes of codes are stored, so a sheet can only be made when the
 * codes are generated: POST /codes {"sheet":true} returns it as
 * "sheet_html".  GET /codes/sheet says so with a stable error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "admin.h"
#include "handlers.h"

char *adm_sheet_html(const char *school_name, json_t *codes);

typedef adm_sbuf hbuf;

static void
hb_str(hbuf *b, const char *s)
{
    adm_sb_add(b, s, strlen(s));
}

static void
hb_esc(hbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': hb_str(b, "&lt;"); break;
        case '>': hb_str(b, "&gt;"); break;
        case '&': hb_str(b, "&amp;"); break;
        case '"': hb_str(b, "&quot;"); break;
        case '\'': hb_str(b, "&#39;"); break;
        default: adm_sb_add(b, s, 1);
        }
    }
}

/* One QR code as an SVG path: each dark module a 1x1 square. */
static void
hb_qr_svg(hbuf *b, const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    char    num[192];

    if (qr == NULL) {
        hb_str(b, "<div class=\"qrerr\">QR?</div>");
        return;
    }
    int w = qr->width, q = 4; /* 4-module quiet zone, as the spec asks */
    snprintf(num, sizeof(num),
        "<svg class=\"qr\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
        "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/><path d=\"",
        w + 2 * q, w + 2 * q);
    hb_str(b, num);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w; x++) {
            if (qr->data[y * w + x] & 1) {
                snprintf(num, sizeof(num), "M%d %dh1v1h-1z", x + q, y + q);
                hb_str(b, num);
            }
        }
    }
    hb_str(b, "\" fill=\"#000\"/></svg>");
    QRcode_free(qr);
}

char *
adm_sheet_html(const char *school_name, json_t *codes)
{
    hbuf    b = { 0 };
    size_t  i;
    json_t *c;

    hb_str(&b,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<title>采集码 Collection codes</title><style>"
        "body{font-family:sans-serif;margin:8mm}"
        "h1{font-size:16pt}"
        ".grid{display:flex;flex-wrap:wrap;gap:4mm}"
        ".card{width:58mm;border:1px dashed #888;padding:3mm;"
        "page-break-inside:avoid;text-align:center}"
        ".qr{width:40mm;height:40mm}"
        ".code{font-family:monospace;font-size:11pt;letter-spacing:1px}"
        ".name{font-size:12pt;font-weight:bold}"
        "@media print{.noprint{display:none}}"
        "</style></head><body><h1>");
    hb_esc(&b, school_name);
    hb_str(&b,
        " — 采集码 / collection codes</h1>"
        "<p class=\"noprint\">请打印后剪开分发给学生；此页关闭后无法再次显示这些采集码。"
        " / Print and cut; these codes cannot be shown again.</p>"
        "<div class=\"grid\">");
    json_array_foreach (codes, i, c) {
        const char *no = json_string_value(json_object_get(c, "student_no"));
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *code = json_string_value(json_object_get(c, "code"));
        if (!no || !code)
            continue;
        hb_str(&b, "<div class=\"card\"><div class=\"name\">");
        hb_esc(&b, name ? name : "");
        hb_str(&b, "</div><div>学号 ");
        hb_esc(&b, no);
        hb_str(&b, "</div>");
        hb_qr_svg(&b, code);
        hb_str(&b, "<div class=\"code\">");
        hb_esc(&b, code);
        hb_str(&b, "</div></div>");
    }
    hb_str(&b, "</div></body></html>");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/*
 * One page of a generation batch: one class, up to per_page cards, each
 * with the school, the student's name, number and class, the QR code, the
 * code in text and one line saying what to do with it.
 */
char *
adm_sheet_page(const char *school_name, const char *cls, int page,
    int pages_of_class, const adm_code_row_t *rows, size_t n)
{
    hbuf b = { 0 };
    char num[64];

    hb_str(&b,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<title>采集码 ");
    hb_esc(&b, cls[0] ? cls : "未分班");
    hb_str(&b,
        "</title><style>"
        "body{font-family:sans-serif;margin:8mm}"
        "h1{font-size:15pt;margin:0 0 3mm}"
        ".grid{display:flex;flex-wrap:wrap;gap:4mm}"
        ".card{width:58mm;border:1px dashed #888;padding:3mm;"
        "page-break-inside:avoid;text-align:center}"
        ".school{font-size:9pt;color:#333}"
        ".qr{width:36mm;height:36mm}"
        ".code{font-family:monospace;font-size:10pt;letter-spacing:1px}"
        ".name{font-size:12pt;font-weight:bold}"
        ".how{font-size:8pt;color:#333}"
        "</style></head><body><h1>");
    hb_esc(&b, school_name);
    hb_str(&b, " · ");
    hb_esc(&b, cls[0] ? cls : "未分班");
    snprintf(num, sizeof(num), " · 第 %d/%d 页</h1><div class=\"grid\">", page,
        pages_of_class);
    hb_str(&b, num);
    for (size_t i = 0; i < n; i++) {
        hb_str(&b, "<div class=\"card\"><div class=\"school\">");
        hb_esc(&b, school_name);
        hb_str(&b, "</div><div class=\"name\">");
        hb_esc(&b, rows[i].name);
        hb_str(&b, "</div><div>学号 ");
        hb_esc(&b, rows[i].no);
        if (rows[i].cls[0]) {
            hb_str(&b, " · ");
            hb_esc(&b, rows[i].cls);
        }
        hb_str(&b, "</div>");
        hb_qr_svg(&b, rows[i].code);
        hb_str(&b, "<div class=\"code\">");
        hb_esc(&b, rows[i].code);
        hb_str(&b,
            "</div><div class=\"how\">在微信中打开图像采集小程序，扫描二维码或输入采集码；"
            "请勿转交他人</div></div>");
    }
    hb_str(&b, "</div></body></html>");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* GET /admin/api/v1/codes/sheet */
int
admin_code_sheet(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    return resp_error(resp, 410, "CODES_NOT_RETRIEVABLE",
        "采集码只保存哈希，打印单只能在生成时获得：POST /admin/api/v1/codes 加 \"sheet\":true",
        "codes are stored hashed; get the printable sheet when generating: "
        "POST /admin/api/v1/codes with \"sheet\":true",
        NULL);
}
