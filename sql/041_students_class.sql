-- 041_students_class.sql -- a student's class (班级), optional: code sheets
-- are printed per class.  IF NOT EXISTS: the roster's 班级 column (console)
-- may bring the same column.
ALTER TABLE students ADD COLUMN IF NOT EXISTS class VARCHAR(64) NULL;
