-- Reading write-offs, their receipts and the audit trail takes a scope
-- (source document 001 makes the mass write-off history a permission): a
-- login sees every row when it holds any scope (`billing.read` is the
-- scope that grants reading alone; the write and approve scopes include
-- it), and only the rows it wrote itself otherwise. The daemon's login and
-- the database's owner see everything; a superuser bypasses row security.
-- Writing is unchanged: the triggers of 0010 to 0015 decide it.

ALTER TABLE actor_scopes DROP CONSTRAINT actor_scopes_scope_check;
ALTER TABLE actor_scopes ADD CONSTRAINT actor_scopes_scope_check
    CHECK (scope IN ('billing.read', 'billing.denial.write', 'billing.payment.write', 'billing.writeoff.approve', 'remitd.admin'));

CREATE FUNCTION remitd_login_may_read() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT remitd_login_is_owner() OR remitd_login_is_daemon()
        OR EXISTS (SELECT 1 FROM actor_scopes WHERE actor = session_user)
$$;

-- `(SELECT ...)`: evaluated once per statement, not once per row. Changes
-- see every row, so the append-only and state triggers answer them as
-- before (row security would otherwise hide the rows and change nothing,
-- silently).
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT USING ((SELECT remitd_login_may_read()) OR actor = session_user);
CREATE POLICY audit_log_write ON audit_log FOR INSERT WITH CHECK (true);
CREATE POLICY audit_log_change ON audit_log FOR UPDATE USING (true) WITH CHECK (true);
CREATE POLICY audit_log_remove ON audit_log FOR DELETE USING (true);

ALTER TABLE writeoffs ENABLE ROW LEVEL SECURITY;
CREATE POLICY writeoffs_read ON writeoffs FOR SELECT USING ((SELECT remitd_login_may_read()) OR requested_by = session_user);
CREATE POLICY writeoffs_write ON writeoffs FOR INSERT WITH CHECK (true);
CREATE POLICY writeoffs_change ON writeoffs FOR UPDATE USING (true) WITH CHECK (true);
CREATE POLICY writeoffs_remove ON writeoffs FOR DELETE USING (true);

ALTER TABLE writeoff_receipts ENABLE ROW LEVEL SECURITY;
CREATE POLICY writeoff_receipts_read ON writeoff_receipts FOR SELECT USING ((SELECT remitd_login_may_read()) OR actor = session_user);
CREATE POLICY writeoff_receipts_write ON writeoff_receipts FOR INSERT WITH CHECK (true);
CREATE POLICY writeoff_receipts_change ON writeoff_receipts FOR UPDATE USING (true) WITH CHECK (true);
CREATE POLICY writeoff_receipts_remove ON writeoff_receipts FOR DELETE USING (true);
