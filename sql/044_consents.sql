-- One message per consent (WeChat's one-time subscriptions): each accept of
-- a template in the subscriptions step adds one consent, each message sent
-- uses one.  A student who accepted before this migration holds one.
ALTER TABLE students
    ADD COLUMN consents_photo_status INT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN consents_payment_result INT UNSIGNED NOT NULL DEFAULT 0;
UPDATE students SET consents_photo_status = sub_photo_status,
                    consents_payment_result = sub_payment_result;
-- A message queued without a consent left is kept, 'skipped', with the
-- reason in last_error; template names the consent a message used.
ALTER TABLE outbox
    MODIFY status ENUM('pending','sent','dead','skipped') NOT NULL DEFAULT 'pending',
    ADD COLUMN template VARCHAR(32) NOT NULL DEFAULT '';
