-- 020_pay.sql -- pay: when an UNPAID order was last queried at WeChat, so
-- reconciliation is rate-bounded (each order at most once per
-- [pay] reconcile seconds).
ALTER TABLE orders ADD COLUMN queried_at BIGINT NOT NULL DEFAULT 0;
