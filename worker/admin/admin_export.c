/*
 * admin_export.c -- final photos for the teacher: the ZIP of the school's
 * final photos named <student_no>.jpg (libzip, stored uncompressed: JPEGs
 * do not shrink), written under the storage dir and handed to nginx by
 * internal redirect, never streamed through the pool; and one student's
 * final photo the same way.  An export whose content has not changed (same
 * students, same photo files) is reused, named by a SHA-256 of that
 * content; the school's other exports are removed when a new one is made.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zip.h>

#include "admin.h"
#include "handlers.h"

#define EXPORT_KEEP_S 3600 /* a part file this old is a dead writer's */

static int
mkdirs(const char *path)
{
    char tmp[TUCAI_PATH_MAX * 2];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* A stored relative path we are willing to open: no "..", not absolute. */
static int
safe_rel(const char *p)
{
    return p[0] && p[0] != '/' && strstr(p, "..") == NULL && strlen(p) < 256;
}

/* Every export of the school but keep (a new one replaces them; one being
 * sent stays readable to nginx until it closes it).  Dot files are another
 * request's archive being written: left alone unless stale. */
static void
prune_others(const char *dir, const char *keep, int64_t now)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    char           path[TUCAI_PATH_MAX * 2 + 300];
    struct stat    st;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
            || strcmp(e->d_name, keep) == 0)
        {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.'
            || (stat(path, &st) == 0 && now - st.st_mtime > EXPORT_KEEP_S))
        {
            unlink(path);
        }
    }
    closedir(d);
}

/* GET /admin/api/v1/export -> the ZIP (internal redirect) */
int
admin_export(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char      dir[TUCAI_PATH_MAX * 2], name[96], part[TUCAI_PATH_MAX * 2 + 200],
        final[TUCAI_PATH_MAX * 2 + 200], src[TUCAI_PATH_MAX * 2 + 300],
        entry[64], rnd[9], uri[512], cd[128];
    int64_t               now = (int64_t) time(NULL);
    const tucai_config_t *cfg = ctx->cfg;

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    MYSQL_RES *res = adm_query(ctx,
        "SELECT s.student_no, p.path FROM photos p"
        " JOIN students s ON s.id = p.student_id"
        " WHERE s.school_id = %u ORDER BY s.student_no LIMIT %d",
        who.school_id, ADM_MAX_STUDENTS);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }
    if (mysql_num_rows(res) == 0) {
        mysql_free_result(res);
        return resp_error(resp, 404, "NO_PHOTOS", "还没有已完成的照片",
            "no final photos yet", NULL);
    }

    snprintf(
        dir, sizeof(dir), "%s/exports/%u", cfg->storage_dir, who.school_id);
    if (mkdirs(dir) != 0 || adm_random_text(rnd, 8) != 0) {
        mysql_free_result(res);
        return resp_error(resp, 503, "STORAGE_UNAVAILABLE", "存储不可用",
            "storage unavailable", json_pack("{s:i}", "retry_after", 5));
    }
    /* The content: each row's student_no and path, and whether its file
     * is there now (a missing photo that appears makes a new export). */
    EVP_MD_CTX   *sh = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    MYSQL_ROW     row;
    if (sh == NULL || EVP_DigestInit_ex(sh, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(sh);
        mysql_free_result(res);
        return resp_error(resp, 503, "STORAGE_UNAVAILABLE", "无法生成压缩包",
            "cannot write the archive", json_pack("{s:i}", "retry_after", 5));
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        int there = safe_rel(row[1])
            && snprintf(src, sizeof(src), "%s/%s", cfg->storage_dir, row[1]) > 0
            && access(src, R_OK) == 0;
        EVP_DigestUpdate(sh, row[0], strlen(row[0]) + 1);
        EVP_DigestUpdate(sh, row[1], strlen(row[1]) + 1);
        EVP_DigestUpdate(sh, there ? "1" : "0", 1);
    }
    EVP_DigestFinal_ex(sh, md, NULL);
    EVP_MD_CTX_free(sh);
    mysql_data_seek(res, 0);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(name, sizeof(name), "photos-%u-%s.zip", who.school_id, hex);
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    /* the part file is this request's own: two teachers exporting at once
     * each write theirs, the renames give the same content one name */
    snprintf(part, sizeof(part), "%s/.%s.%s.part", dir, name, rnd);

    int         zerr = 0, n = 0, missing = 0, failed = 0;
    struct stat fst;
    if (stat(final, &fst) == 0 && S_ISREG(fst.st_mode)) {
        /* unchanged since the last export: reuse it */
        while ((row = mysql_fetch_row(res)) != NULL) {
            if (!safe_rel(row[1])) {
                missing++;
                continue;
            }
            snprintf(src, sizeof(src), "%s/%s", cfg->storage_dir, row[1]);
            if (access(src, R_OK) != 0)
                missing++;
            else
                n++;
        }
        mysql_free_result(res);
        prune_others(dir, name, now);
        goto answer;
    }

    zip_t *za = zip_open(part, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    while (za && (row = mysql_fetch_row(res)) != NULL) {
        if (!safe_rel(row[1])) {
            missing++;
            continue;
        }
        snprintf(src, sizeof(src), "%s/%s", cfg->storage_dir, row[1]);
        if (access(src, R_OK) != 0) {
            missing++;
            continue;
        }
        snprintf(entry, sizeof(entry), "%s.jpg", row[0]);
        zip_source_t *zs = zip_source_file(za, src, 0, -1);
        zip_int64_t   idx =
            zs ? zip_file_add(za, entry, zs, ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0) {
            if (zs)
                zip_source_free(zs);
            failed = 1;
            break;
        }
        zip_set_file_compression(za, (zip_uint64_t) idx, ZIP_CM_STORE, 0);
        n++;
    }
    mysql_free_result(res);

    /* zip_close does the writing; a partial archive never gets the final
     * name. */
    if (za == NULL || failed || n == 0 || zip_close(za) != 0) {
        if (za)
            zip_discard(za);
        unlink(part);
        if (n == 0 && !failed && za) {
            return resp_error(resp, 404, "NO_PHOTOS", "照片文件缺失",
                "the final photo files are missing", NULL);
        }
        return resp_error(resp, 503, "STORAGE_UNAVAILABLE", "无法生成压缩包",
            "cannot write the archive", json_pack("{s:i}", "retry_after", 5));
    }
    if (rename(part, final) != 0) {
        unlink(part);
        return resp_error(resp, 503, "STORAGE_UNAVAILABLE", "无法生成压缩包",
            "cannot write the archive", json_pack("{s:i}", "retry_after", 5));
    }
    prune_others(dir, name, now);

answer:;
    json_t *d = json_pack(
        "{s:i,s:i,s:s}", "photos", n, "missing", missing, "file", name);
    (void) adm_audit(ctx, req, &who, "export", "", d);
    json_decref(d);

    snprintf(uri, sizeof(uri), "%s/exports/%u/%s", cfg->storage_uri,
        who.school_id, name);
    snprintf(cd, sizeof(cd), "attachment; filename=\"photos-%u.zip\"",
        who.school_id);
    resp_header(resp, "Content-Disposition", cd);
    snprintf(cd, sizeof(cd), "%d", missing);
    resp_header(resp, "X-Tucai-Missing", cd);
    return resp_redirect(resp, uri, "application/zip");
}

/* GET /admin/api/v1/students/{student_no}/photo -> the final JPEG */
int
admin_student_photo(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char      no[40], uri[512];

    if (adm_auth(ctx, req, resp, &who) != 0
        || adm_param_student_no(req, resp, no, sizeof(no)) != 0)
    {
        return 0;
    }
    MYSQL_RES *res = adm_query(ctx,
        "SELECT s.id, p.path FROM students s"
        " LEFT JOIN photos p ON p.student_id = s.id"
        " WHERE s.school_id = %u AND s.student_no = %s",
        who.school_id, no);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return adm_not_found(resp);
    }
    if (row[1] == NULL || !safe_rel(row[1])) {
        mysql_free_result(res);
        return resp_error(resp, 404, "PHOTO_NOT_READY", "照片尚未完成",
            "the final photo is not ready", NULL);
    }
    snprintf(uri, sizeof(uri), "%s/%s", ctx->cfg->storage_uri, row[1]);
    mysql_free_result(res);
    return resp_redirect(resp, uri, "image/jpeg");
}
