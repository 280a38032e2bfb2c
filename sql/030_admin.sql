-- 030_admin.sql -- back office: the audit log is read newest first per
-- school (GET /admin/api/v1/audit pages by id).
ALTER TABLE audit_log ADD KEY ix_school_id (school_id, id);
