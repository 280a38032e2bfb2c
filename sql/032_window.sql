-- 032_window.sql -- the school's collection window (采集时间), set in the
-- back office as two dates in Beijing time: window_start is the first
-- second of the first day, window_end the first second after the last day
-- (Unix times; NULL = open on that side).  Outside it a collection code is
-- not accepted (POST /api/v1/code answers 403).
ALTER TABLE schools ADD COLUMN window_start BIGINT NULL,
                    ADD COLUMN window_end BIGINT NULL;
