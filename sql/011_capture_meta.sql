-- 011_capture_meta.sql -- what the client said about a capture (meta part
-- of the upload), kept with it so the back office can see how photos were
-- taken (rear/front camera, camera/album) next to the check's verdict.
ALTER TABLE captures ADD COLUMN camera VARCHAR(16) NOT NULL DEFAULT '' AFTER original_path,
                     ADD COLUMN source VARCHAR(16) NOT NULL DEFAULT '' AFTER camera;
