/*
 * config.h -- tucai-worker configuration (INI, parsed with libinih).
 * Every key is documented in README.md; secrets are never inline, only the
 * name of a file that holds them.
 */
#ifndef TUCAI_CONFIG_H
#define TUCAI_CONFIG_H

#include <stdint.h>

#define TUCAI_MAX_LISTEN 8
#define TUCAI_PATH_MAX   512

typedef struct {
    /* [pool] */
    char listen[TUCAI_MAX_LISTEN][TUCAI_PATH_MAX]; /* listen = a, b */
    int  nlisten;
    int  children;          /* children = 4 (per socket set) */
    int  max_requests;      /* recycle a child after N, 0 = never */
    int  max_rss_mb;        /* recycle a child above this RSS, 0 = never */
    int  request_timeout_s; /* read/write timeout on a connection: 30 */
    int  socket_mode;       /* socket_mode = 0660 (no "other" bits) */
    char socket_owner[64];  /* user name or uid, "" = unchanged */
    char socket_group[64];  /* group name or gid, "" = unchanged */
    char peer_users[256];   /* uids allowed besides the pool's own */
    char peer_groups[256];  /* gids allowed; "" = socket_group */
    char pid_file[TUCAI_PATH_MAX];
    char log_file[TUCAI_PATH_MAX]; /* "" = stderr */

    /* [db] */
    char db_host[256];              /* host = 127.0.0.1 */
    int  db_port;                   /* port = 3306 */
    char db_socket[TUCAI_PATH_MAX]; /* socket = (wins over host) */
    char db_user[128];
    char db_password[256]; /* read from password_file */
    char db_name[128];
    int  db_connect_timeout_s;           /* 3 */
    char migrations_dir[TUCAI_PATH_MAX]; /* migrations = sql */

    /* [storage] */
    char storage_dir[TUCAI_PATH_MAX]; /* dir = var/files */
    char storage_uri[256];            /* uri = /_tucai_files (nginx internal) */

    /* [tokens] */
    char token_key_file[TUCAI_PATH_MAX];
    int  token_ttl_s; /* ttl = 7200 */

    /* [wechat] */
    char wx_api_base[256]; /* api_base = https://api.weixin.qq.com */
    char wx_appid[64];
    char wx_secret[128];  /* read from secret_file */
    int  wx_timeout_ms;   /* 3000 */
    int  wx_retries;      /* 2 */
    char wx_mp_state[16]; /* miniprogram_state = formal */

    /* [pay] */
    char pay_api_base[256]; /* api_base = https://api.mch.weixin.qq.com */
    char pay_mchid[32];
    char pay_merchant_serial[64];
    char pay_merchant_key_file[TUCAI_PATH_MAX];
    char pay_apiv3_key[33]; /* read from apiv3_key_file, 32 bytes */
    char pay_platform_keys[TUCAI_PATH_MAX * 2]; /* "ID=file,ID=file" */
    char pay_notify_url[256];
    int  pay_order_expire_s;  /* 1800 */
    int  pay_reconcile_s;     /* 60 */
    int  pay_notify_window_s; /* 300 */

    /* [photo] */
    char photo_spec_file[TUCAI_PATH_MAX]; /* "" = built-in default */
    char photo_thresholds_file[TUCAI_PATH_MAX];

    /* [outbox] */
    int codes_sheet_retention_s;    /* [codes] sheet_retention = 604800 */
    int storage_failed_retention_s; /* [storage] failed_retention = 259200 */
    int outbox_interval_s;          /* 5 */
    int outbox_max_attempts;        /* 8 */
} tucai_config_t;

/* Loads path into cfg (defaults first). Returns 0, or -1 with a message
 * on stderr naming the file, line and key. */
int tucai_config_load(tucai_config_t *cfg, const char *path);

#endif
