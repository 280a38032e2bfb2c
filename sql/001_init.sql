-- 001_init.sql -- the core schema.  Times are unix seconds (BIGINT) so the
-- pool, nginx's zone and the tests compare them without time-zone games.
-- Later migrations: 002-009 pool/back office, 010-019 journey, 020-029 pay.

CREATE TABLE schools (
    id                 INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name               VARCHAR(128) NOT NULL,
    contact            VARCHAR(255) NOT NULL DEFAULT '',  -- photo office: name, phone
    fee_fen            INT UNSIGNED NOT NULL DEFAULT 0,   -- 0 = free school
    notice_version     INT UNSIGNED NOT NULL DEFAULT 1,
    notice_title       VARCHAR(255) NOT NULL DEFAULT '',
    notice_body        TEXT NOT NULL,
    video_url          VARCHAR(512) NOT NULL DEFAULT '',
    video_duration_s   INT UNSIGNED NOT NULL DEFAULT 60,
    tpl_photo_status   VARCHAR(128) NOT NULL DEFAULT '',
    tpl_payment_result VARCHAR(128) NOT NULL DEFAULT '',
    spec_json          TEXT NULL,                         -- NULL = default spec
    created_at         BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per WeChat account (openid) that ever logged in.
CREATE TABLE accounts (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    openid             VARCHAR(64) NOT NULL,
    created_at         BIGINT NOT NULL,
    last_login_at      BIGINT NOT NULL,
    pending_student_id BIGINT UNSIGNED NULL,   -- code scanned, not confirmed
    pending_phone      VARCHAR(20) NULL,
    UNIQUE KEY uq_openid (openid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE students (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    school_id          INT UNSIGNED NOT NULL,
    student_no         VARCHAR(32) NOT NULL,
    name               VARCHAR(64) NOT NULL,
    phone              VARCHAR(20) NULL,         -- from roster or confirmed
    account_id         BIGINT UNSIGNED NULL,     -- bound WeChat account, 1:1
    step               VARCHAR(16) NOT NULL DEFAULT 'code',
    notice_ack_version INT UNSIGNED NOT NULL DEFAULT 0,
    subs_set           TINYINT NOT NULL DEFAULT 0,
    sub_photo_status   TINYINT NOT NULL DEFAULT 0,
    sub_payment_result TINYINT NOT NULL DEFAULT 0,
    video_started_at   BIGINT NULL,
    video_finished_at  BIGINT NULL,
    cooldown_until     BIGINT NOT NULL DEFAULT 0,
    lock_kind          TINYINT NOT NULL DEFAULT 0,  -- 0 none, 1 liveness, 2 quality
    lock_until         BIGINT NOT NULL DEFAULT 0,
    liveness_fails     INT UNSIGNED NOT NULL DEFAULT 0,  -- consecutive
    quality_fails      INT UNSIGNED NOT NULL DEFAULT 0,  -- consecutive
    attempts           INT UNSIGNED NOT NULL DEFAULT 0,  -- all captures
    created_at         BIGINT NOT NULL DEFAULT 0,
    updated_at         BIGINT NOT NULL DEFAULT 0,
    UNIQUE KEY uq_school_no (school_id, student_no),
    UNIQUE KEY uq_account (account_id),
    KEY ix_school_step (school_id, step),
    CONSTRAINT fk_students_school FOREIGN KEY (school_id) REFERENCES schools (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Collection codes: only a SHA-256 of the code is stored.
CREATE TABLE codes (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    school_id          INT UNSIGNED NOT NULL,
    student_id         BIGINT UNSIGNED NOT NULL,
    code_hash          BINARY(32) NOT NULL,
    status             ENUM('active','revoked') NOT NULL DEFAULT 'active',
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL DEFAULT 0,   -- 0 = no expiry
    revoked_at         BIGINT NULL,
    UNIQUE KEY uq_code_hash (code_hash),
    KEY ix_student (student_id),
    CONSTRAINT fk_codes_student FOREIGN KEY (student_id) REFERENCES students (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every capture attempt, passed or not (progress by failure reason).
CREATE TABLE captures (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    student_id         BIGINT UNSIGNED NOT NULL,
    created_at         BIGINT NOT NULL,
    pass               TINYINT NOT NULL,
    reasons            VARCHAR(512) NOT NULL DEFAULT '',  -- comma-separated codes
    verdict_json       MEDIUMTEXT NOT NULL,
    original_path      VARCHAR(255) NOT NULL DEFAULT '',
    KEY ix_student (student_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE drafts (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    student_id         BIGINT UNSIGNED NOT NULL,
    capture_id         BIGINT UNSIGNED NOT NULL,
    created_at         BIGINT NOT NULL,
    photo_path         VARCHAR(255) NOT NULL,   -- relative to storage dir
    original_path      VARCHAR(255) NOT NULL,
    status             ENUM('draft','deleted') NOT NULL DEFAULT 'draft',
    deleted_at         BIGINT NULL,
    KEY ix_student (student_id, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One live order per student; switching drafts before payment updates it.
CREATE TABLE orders (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    student_id         BIGINT UNSIGNED NOT NULL,
    school_id          INT UNSIGNED NOT NULL,
    draft_id           BIGINT UNSIGNED NOT NULL,
    out_trade_no       VARCHAR(32) NOT NULL,
    amount_fen         INT UNSIGNED NOT NULL,
    status             ENUM('UNPAID','PAID','CLOSED','FREE') NOT NULL,
    prepay_id          VARCHAR(64) NULL,
    prepay_at          BIGINT NULL,
    transaction_id     VARCHAR(64) NULL,
    paid_at            BIGINT NULL,
    expires_at         BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    live               TINYINT NULL DEFAULT 1,  -- 1 while not CLOSED; NULL after
    UNIQUE KEY uq_out_trade_no (out_trade_no),
    UNIQUE KEY uq_student_live (student_id, live),
    KEY ix_status (status, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Final photos, produced after PAID/FREE.
CREATE TABLE photos (
    student_id         BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    order_id           BIGINT UNSIGNED NOT NULL,
    draft_id           BIGINT UNSIGNED NOT NULL,
    path               VARCHAR(255) NOT NULL,
    produced_at        BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Payment notifications and queries as received (audit, idempotency).
CREATE TABLE pay_events (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    out_trade_no       VARCHAR(32) NULL,
    source             ENUM('notify','query','close') NOT NULL,
    accepted           TINYINT NOT NULL,
    detail             VARCHAR(512) NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    KEY ix_trade (out_trade_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Messages to students, sent by the pool with retries and backoff.
CREATE TABLE outbox (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    student_id         BIGINT UNSIGNED NOT NULL,
    kind               VARCHAR(32) NOT NULL,      -- check_passed, check_failed, photo_ready, payment_result
    dedupe_key         VARCHAR(128) NOT NULL,
    payload_json       TEXT NOT NULL,             -- the subscribe/send body
    status             ENUM('pending','sent','dead') NOT NULL DEFAULT 'pending',
    attempts           INT UNSIGNED NOT NULL DEFAULT 0,
    next_at            BIGINT NOT NULL,
    last_error         VARCHAR(255) NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    sent_at            BIGINT NULL,
    UNIQUE KEY uq_dedupe (dedupe_key),
    KEY ix_due (status, next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- WeChat access token shared by all children (a new one kills the old one).
CREATE TABLE wx_tokens (
    name               VARCHAR(32) NOT NULL PRIMARY KEY,
    token              VARCHAR(1024) NOT NULL,
    expires_at         BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE teachers (
    id                 INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    school_id          INT UNSIGNED NOT NULL,
    username           VARCHAR(64) NOT NULL,
    pwd_hash           VARCHAR(255) NOT NULL,    -- argon2id encoded
    created_at         BIGINT NOT NULL,
    UNIQUE KEY uq_username (username),
    CONSTRAINT fk_teachers_school FOREIGN KEY (school_id) REFERENCES schools (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE audit_log (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    school_id          INT UNSIGNED NOT NULL,
    teacher_id         INT UNSIGNED NOT NULL,
    action             VARCHAR(32) NOT NULL,
    target             VARCHAR(64) NOT NULL DEFAULT '',
    detail             TEXT NULL,
    request_id         CHAR(32) NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    KEY ix_school (school_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
