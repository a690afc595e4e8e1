-- Corrected patient responsibility (source document 003: after undoing a
-- write-off, "enter the correct amount owed"; the EOB shows a copay there
-- was none of). A person records what the patient owes, more or less than
-- the payer said, with a reason: a correction row, its audit row, and one
-- `patient_responsibility` entry of that signed amount, which moves it
-- between the payer's side and the patient's (never an edit of what the
-- payer posted).

CREATE TABLE responsibility_corrections (
    id               BIGSERIAL PRIMARY KEY,
    claim_id         BIGINT NOT NULL REFERENCES claims(id),
    service_line_id  BIGINT REFERENCES service_lines(id),
    -- Positive: the patient owes more (the payer less); negative: less.
    amount           NUMERIC(14,2) NOT NULL CHECK (amount <> 0),
    carc             TEXT,
    reason           TEXT NOT NULL CHECK (btrim(reason) <> ''),
    actor            TEXT NOT NULL REFERENCES actors(name),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX responsibility_corrections_claim ON responsibility_corrections (claim_id);
CREATE TRIGGER responsibility_corrections_append_only BEFORE UPDATE OR DELETE ON responsibility_corrections
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER responsibility_corrections_name_the_login AFTER INSERT ON responsibility_corrections
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_rows_name_the_login('actor');

ALTER TABLE ledger_entries ADD COLUMN correction_id BIGINT REFERENCES responsibility_corrections(id);

-- A correction's entry is what the correction says, written once, after
-- its audit row, by a login with the payment scope (or the daemon's or the
-- owner's), and leaves neither side of the claim owing less than nothing.
CREATE FUNCTION remitd_corrections_as_recorded() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows WHERE correction_id IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    IF NOT (remitd_login_is_owner() OR remitd_login_is_daemon() OR remitd_login_holds('billing.payment.write')) THEN
        RAISE EXCEPTION 'actor % lacks the scope billing.payment.write (correcting a patient responsibility)', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM new_rows n LEFT JOIN responsibility_corrections c ON c.id = n.correction_id
    WHERE n.correction_id IS NOT NULL
      AND (c.id IS NULL OR n.kind <> 'patient_responsibility' OR n.amount <> c.amount OR n.claim_id <> c.claim_id
           OR n.service_line_id IS DISTINCT FROM c.service_line_id OR n.writeoff_id IS NOT NULL
           OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'responsibility_corrected' AND a.detail->>'correction' = c.id::text)
           OR (SELECT count(*) FROM ledger_entries e WHERE e.correction_id = c.id) > 1);
    IF FOUND THEN
        RAISE EXCEPTION 'a correction''s entry is its recorded, audited amount, once (logged in as %)', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT o.claim_id, o.insurance_balance, o.patient_balance INTO bad
    FROM (SELECT DISTINCT claim_id FROM new_rows WHERE correction_id IS NOT NULL) n
    CROSS JOIN LATERAL (SELECT c.claim_id, c.insurance_balance, c.patient_balance FROM claim_owed c WHERE c.claim_id = n.claim_id) o
    WHERE o.insurance_balance < 0 OR o.patient_balance < 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a correction leaves neither side owing less than nothing: claim % would owe insurance %, patient %',
            bad.claim_id, bad.insurance_balance, bad.patient_balance
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_entries_corrections_as_recorded AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_corrections_as_recorded();

-- As in 0010, leaving a correction's entry to the trigger above.
CREATE OR REPLACE FUNCTION remitd_entries_by_scope() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kind_found text;
BEGIN
    IF remitd_login_is_owner() OR remitd_login_is_daemon() THEN
        RETURN NULL;
    END IF;
    SELECT n.kind INTO kind_found FROM new_rows n
    WHERE n.kind NOT IN ('write_off', 'write_off_reversal', 'patient_responsibility', 'other_adjustment', 'charge_correction')
      -- an undo reverses a write-off's own entries
      AND NOT (n.kind = 'reversal' AND EXISTS (SELECT 1 FROM ledger_entries r WHERE r.id = n.reverses_entry_id AND r.writeoff_id IS NOT NULL))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% entries come from remittances, posted by the daemon; logged in as %', kind_found, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- (An approver posts the write-offs she approves.)
    IF NOT (remitd_login_holds('billing.denial.write') OR remitd_login_holds('billing.payment.write')
            OR remitd_login_holds('billing.writeoff.approve')) THEN
        RAISE EXCEPTION 'actor % lacks the scope billing.denial.write or billing.payment.write (writing %)', session_user, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- A write-off's entries come with a posted write-off whose posting is
    -- in the audit log already, and add up to no more than it: nobody
    -- writes money off beside the workflow, or without a trace.
    PERFORM 1 FROM new_rows n LEFT JOIN writeoffs w ON w.id = n.writeoff_id
    WHERE n.kind IN ('write_off', 'patient_responsibility', 'other_adjustment') AND n.correction_id IS NULL
      AND (w.id IS NULL OR w.status <> 'POSTED'
           OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.writeoff_id = w.id
                          AND a.action IN ('writeoff_posted', 'writeoff_approved', 'pr_writeoff_posted'))
           OR (SELECT sum(e.amount) FROM ledger_entries e WHERE e.writeoff_id = w.id AND e.kind IN ('write_off', 'other_adjustment')) > w.amount);
    IF FOUND THEN
        RAISE EXCEPTION 'a write-off entry comes only with a posted, audited write-off of that amount (logged in as %)', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;
