-- 040_trust.sql -- trust boundaries (issue 11).
-- Teacher login backoff per username (known or not: the same path for both,
-- so the answer tells nothing about which usernames exist).  Rows go away on
-- a successful login or a day after the last failure.
CREATE TABLE login_throttle (
    username           VARCHAR(64) NOT NULL PRIMARY KEY,
    failures           INT UNSIGNED NOT NULL DEFAULT 0,
    last_failure_at    BIGINT NOT NULL,
    KEY ix_last (last_failure_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
