-- Write-off reasons are data an admin keeps: each says which scope writing
-- off with it takes and, optionally, the most one write-off with it may
-- take; a reason is retired rather than deleted, so old rows keep it.
--
-- `small-balance` is seeded with a cap of 10.00 (source document 004:
-- "under the tenant's small-balance threshold, commonly $5 or $10"); an
-- admin changes it with `remitd reason cap small-balance AMOUNT|none`.

ALTER TABLE writeoff_reasons
    ADD COLUMN scope TEXT NOT NULL DEFAULT 'billing.denial.write'
        CHECK (scope IN ('billing.denial.write', 'billing.payment.write', 'billing.writeoff.approve')),
    ADD COLUMN max_amount NUMERIC(14,2) CHECK (max_amount > 0),
    ADD COLUMN retired_at TIMESTAMPTZ,
    ADD COLUMN added_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- What 0010 and 0011 decided in code: contractual write-offs are payment
-- postings. Everything else stays a denial write-off.
UPDATE writeoff_reasons SET scope = 'billing.payment.write' WHERE code = 'contractual';
UPDATE writeoff_reasons SET max_amount = 10.00 WHERE code = 'small-balance';

-- A code is its identity on every old row: it never changes, and a reason
-- in use is never deleted (the foreign keys) but retired.
CREATE FUNCTION remitd_reason_code_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.code IS DISTINCT FROM OLD.code THEN
        RAISE EXCEPTION 'a write-off reason''s code never changes (% stays %): add a new reason and retire this one', OLD.code, OLD.code
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER writeoff_reasons_code_fixed BEFORE UPDATE ON writeoff_reasons
    FOR EACH ROW EXECUTE FUNCTION remitd_reason_code_fixed();

-- Every new write-off, whoever writes it (a person, the daemon's sweep or
-- the database's owner): its reason is not retired, and its amount is
-- within the reason's cap. Requests are checked when made; approving one
-- later writes no new row.
CREATE FUNCTION remitd_writeoffs_within_their_reason() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.reason, n.amount, n.claim_id, r.max_amount, r.retired_at INTO bad
    FROM new_rows n JOIN writeoff_reasons r ON r.code = n.reason
    WHERE r.retired_at IS NOT NULL OR abs(n.amount) > r.max_amount
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF bad.retired_at IS NOT NULL THEN
        RAISE EXCEPTION 'the write-off reason % was retired on %: nothing new is written off with it', bad.reason, bad.retired_at::date
            USING ERRCODE = 'check_violation';
    END IF;
    RAISE EXCEPTION 'a write-off of % with reason % is over the reason''s cap of % (claim row %)', bad.amount, bad.reason, bad.max_amount, bad.claim_id
        USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER writeoffs_within_their_reason AFTER INSERT ON writeoffs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_writeoffs_within_their_reason();

-- As in 0011, with the scope a write-off takes read from its reason (a
-- patient-responsibility write-off still takes billing.payment.write).
CREATE OR REPLACE FUNCTION remitd_writeoffs_start_as_requests() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    needed text;
BEGIN
    IF remitd_login_is_owner() OR remitd_login_is_daemon() THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM new_rows WHERE status <> 'PENDING_APPROVAL';
    IF FOUND THEN
        RAISE EXCEPTION 'a write-off starts as a request (PENDING_APPROVAL); logged in as %', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT x.scope INTO needed
    FROM (SELECT CASE WHEN r.kind = 'patient_responsibility' THEN 'billing.payment.write' ELSE w.scope END AS scope
          FROM new_rows n JOIN writeoff_receipts r ON r.id = n.receipt_id JOIN writeoff_reasons w ON w.code = n.reason) x
    WHERE NOT remitd_login_holds(x.scope)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'actor % lacks the scope % (changing writeoffs)', session_user, needed
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM (SELECT DISTINCT denial_id FROM new_rows WHERE denial_id IS NOT NULL) n
    JOIN denials d ON d.id = n.denial_id
    JOIN denial_balances b ON b.denial_id = d.id
    WHERE d.status = 'RESOLVED' OR b.raw < 0;
    IF FOUND THEN
        RAISE EXCEPTION 'a write-off takes no more than what remains of its denial: what was denied, and what its line still owes (logged in as %)', session_user
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
