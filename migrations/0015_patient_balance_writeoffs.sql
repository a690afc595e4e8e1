-- Mass write-off of patient balances (source document 001: "Mass Write
-- Off for insurances that do not balance bill the patient"): a receipt
-- kind of its own, a seeded reason for payers that forbid balance billing,
-- and the approval gate counting a claim's patient write-offs together,
-- Write Off PR and mass write-offs alike.

ALTER TABLE writeoff_receipts DROP CONSTRAINT writeoff_receipts_kind_check;
ALTER TABLE writeoff_receipts ADD CONSTRAINT writeoff_receipts_kind_check
    CHECK (kind IN ('single', 'bulk', 'sweep', 'patient_responsibility', 'patient_balance'));

INSERT INTO writeoff_reasons (code, label, scope) VALUES
    ('no-balance-billing', 'Payer forbids balance billing the patient', 'billing.payment.write');

-- What counts together on a claim's patient side under the approval gate:
-- the claim's patient write-offs a person made (Write Off PR and mass
-- write-offs, not the sweep's), posted or waiting. remitd reads the same
-- function before it asks, so both say the same.
CREATE FUNCTION remitd_patient_writeoffs_on(claim bigint) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(w.amount), 0) FROM writeoffs w JOIN writeoff_receipts r ON r.id = w.receipt_id
    WHERE w.claim_id = claim AND w.denial_id IS NULL AND w.bucket = 'patient'
      AND w.status IN ('POSTED', 'PENDING_APPROVAL') AND r.kind IN ('patient_responsibility', 'patient_balance')
$$;

-- As in 0011, with that function for a claim's patient side (Write Off PR
-- counted only Write Off PR's before).
CREATE OR REPLACE FUNCTION remitd_writeoffs_decided() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    who text;
    policy text;
    id_found bigint;
BEGIN
    SELECT n.decided_by INTO who
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.status = 'PENDING_APPROVAL' AND n.status IN ('POSTED', 'REJECTED') AND o.requested_at < now()
      AND (n.decided_by IS NULL OR n.decided_by = n.requested_by)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% may not decide a write-off they requested', coalesce(who, 'nobody')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF remitd_login_is_owner() THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
               WHERE o.status = 'PENDING_APPROVAL' AND n.status IN ('POSTED', 'REJECTED') AND o.requested_at < now())
       AND NOT remitd_login_holds('billing.writeoff.approve') THEN
        RAISE EXCEPTION 'actor % lacks the scope billing.writeoff.approve (deciding a write-off)', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.decided_by IS DISTINCT FROM o.decided_by AND n.decided_by IS DISTINCT FROM remitd_acting();
    IF FOUND THEN
        RAISE EXCEPTION 'logged in as %, so a decision in another''s name is refused', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF remitd_login_is_daemon() THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN writeoff_receipts r ON r.id = n.receipt_id
    WHERE o.status = 'PENDING_APPROVAL' AND n.status = 'POSTED' AND o.requested_at = now() AND r.kind = 'sweep';
    IF FOUND AND NOT remitd_login_holds('billing.writeoff.approve') THEN
        RAISE EXCEPTION 'actor % lacks the scope billing.writeoff.approve (posting a sweep)', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT value INTO policy FROM settings WHERE key = 'writeoff.approval';
    SELECT n.id INTO id_found
    FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN writeoff_receipts r ON r.id = n.receipt_id
    WHERE o.status = 'PENDING_APPROVAL' AND n.status = 'POSTED' AND o.requested_at = now() AND r.kind <> 'sweep'
      AND (policy = 'all'
           OR (policy LIKE 'above:%' AND (
                CASE WHEN n.denial_id IS NOT NULL
                     THEN (SELECT sum(w.amount) FROM writeoffs w WHERE w.denial_id = n.denial_id AND w.status IN ('POSTED', 'PENDING_APPROVAL'))
                     ELSE remitd_patient_writeoffs_on(n.claim_id) END
              ) > substr(policy, 7)::numeric))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'write-off #% waits for approval under the policy %: an approver posts it', id_found, policy
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;
