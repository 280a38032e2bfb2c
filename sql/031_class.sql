-- 031_class.sql -- classes (班级) as a first-class field of the roster:
-- optional (NULL = not given), filtered and grouped by the back office, so
-- indexed with the school.  Paid orders and produced photos are counted per
-- school and per day by GET /admin/api/v1/progress.
-- IF NOT EXISTS: a database that ran 041 first (both landed the same day)
-- already has the column.
ALTER TABLE students ADD COLUMN IF NOT EXISTS class VARCHAR(32) NULL AFTER name,
                     ADD KEY IF NOT EXISTS ix_school_class (school_id, class);
ALTER TABLE orders ADD KEY IF NOT EXISTS ix_school_status (school_id, status);
ALTER TABLE photos ADD KEY IF NOT EXISTS ix_produced (produced_at);
