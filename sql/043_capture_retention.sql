-- Failed-capture originals expire ([storage] failed_retention): the job
-- scans failed captures by age.
ALTER TABLE captures ADD KEY ix_pass_created (pass, created_at);
