-- 042_code_batches.sql -- code batches and unbinding (issue 11).
-- Code batches: what one generation handed out, as files (sheets per class,
-- a CSV taken once) under [storage] dir/codes/<school>/<dir>/, written before
-- the codes are committed.  sheets: [{"page","class","students"}].
CREATE TABLE code_batches (
    id                 INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    school_id          INT UNSIGNED NOT NULL,
    teacher_id         INT UNSIGNED NOT NULL,
    dir                VARCHAR(64) NOT NULL,
    count              INT UNSIGNED NOT NULL,
    sheets             MEDIUMTEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    csv_taken_at       BIGINT NULL,
    expires_at         BIGINT NOT NULL,
    KEY ix_school (school_id, id),
    KEY ix_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Unbinding a student's WeChat account (POST /admin/api/v1/students/{no}/
-- unbind): the old account row is retired (its openid renamed so that the
-- same WeChat user logging in again gets a fresh account), and tokens
-- naming it are refused.
ALTER TABLE accounts ADD COLUMN unbound_at BIGINT NULL;
