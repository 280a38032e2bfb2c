-- 010_journey.sql -- journey additions.
-- The code an account scanned, so confirm can refuse a code revoked or
-- expired between the scan and the confirmation.
ALTER TABLE accounts ADD COLUMN pending_code_id BIGINT UNSIGNED NULL AFTER pending_phone;
-- Draft lookups by order (delete refuses the draft of an order).
ALTER TABLE orders ADD KEY ix_draft (draft_id);
