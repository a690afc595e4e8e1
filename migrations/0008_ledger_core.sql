-- The ledger core: the money invariants the database holds itself.
--
-- 1. What a ledger entry does to a claim's two buckets (insurance, patient)
--    is defined once, by insurance_effect() and patient_effect(); every
--    balance view sums them.
-- 2. A write-off moves its bucket toward zero and never past it: a
--    statement-level trigger refuses any statement whose write-off entries
--    take a claim's bucket across zero or away from it.
-- 3. An entry is reversed at most once (a unique index).
-- 4. A claim's charge changes after posting only by a `charge_correction`
--    entry; the imported line keeps its original charge.
-- 5. Denials have one derived remaining amount (denial_balances): what is
--    still owed on what was denied, less what is written off or waiting for
--    approval, and never more than the claim (or its line) still owes.

-- New states and kinds.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN (
    'payment', 'contractual', 'other_adjustment', 'patient_responsibility',
    'denial', 'interest', 'provider_adjustment', 'reversal',
    'write_off', 'write_off_reversal', 'charge_correction'));

-- CANCELLED: a request waiting for approval that a later remittance made
-- wrong (the balance it would write off is no longer owed).
ALTER TABLE writeoffs DROP CONSTRAINT writeoffs_status_check;
ALTER TABLE writeoffs ADD CONSTRAINT writeoffs_status_check
    CHECK (status IN ('PENDING_APPROVAL', 'POSTED', 'REJECTED', 'UNDONE', 'CANCELLED'));

-- remitd.admin: configuration that changes how money posts (CARC categories).
ALTER TABLE actor_scopes DROP CONSTRAINT actor_scopes_scope_check;
ALTER TABLE actor_scopes ADD CONSTRAINT actor_scopes_scope_check
    CHECK (scope IN ('billing.denial.write', 'billing.payment.write', 'billing.writeoff.approve', 'remitd.admin'));

-- Each entry is reversed at most once, whoever reverses it.
CREATE UNIQUE INDEX ledger_entries_reversed_once ON ledger_entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL;

-- A line dropped from a claim by an amended import: kept (history is never
-- deleted), no longer matched, its charge corrected to zero in the ledger.
ALTER TABLE service_lines ADD COLUMN removed_at TIMESTAMPTZ;

-- Whether a claim has postings (or any ledger entry): from then on its
-- charge changes only by charge corrections.
CREATE FUNCTION claim_has_postings(claim BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT 1 FROM claim_postings p WHERE p.claim_id = claim)
        OR EXISTS (SELECT 1 FROM ledger_entries e WHERE e.claim_id = claim)
$$;

-- The parts of a patient-responsibility write-off, one per PR reason code:
-- what approval posts, and what undo reverses.
CREATE TABLE writeoff_parts (
    writeoff_id  BIGINT NOT NULL REFERENCES writeoffs(id),
    reason_code  TEXT NOT NULL,
    amount       NUMERIC(14,2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (writeoff_id, reason_code)
);
CREATE TRIGGER writeoff_parts_append_only BEFORE UPDATE OR DELETE ON writeoff_parts
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

CREATE INDEX writeoffs_pending ON writeoffs (claim_id) WHERE status = 'PENDING_APPROVAL';

-- What one amount does to a claim's buckets, by its kind (a reversal counted
-- as the kind it reverses) and group. Inlined by the planner.
CREATE FUNCTION insurance_effect(k TEXT, g TEXT, amount NUMERIC) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN k IN ('charge', 'charge_correction') THEN amount
                WHEN k IN ('payment', 'contractual', 'other_adjustment', 'patient_responsibility') THEN -amount
                WHEN k = 'write_off' AND g IS DISTINCT FROM 'PR' THEN -amount
                WHEN k = 'write_off_reversal' AND g IS DISTINCT FROM 'PR' THEN amount
                ELSE 0 END
$$;

CREATE FUNCTION patient_effect(k TEXT, g TEXT, amount NUMERIC) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN k = 'patient_responsibility' THEN amount
                WHEN k = 'write_off' AND g = 'PR' THEN -amount
                WHEN k = 'write_off_reversal' AND g = 'PR' THEN amount
                ELSE 0 END
$$;

-- Every amount that moves a claim's balances, now with its service line.
CREATE OR REPLACE VIEW claim_amounts AS
SELECT claim_id, 'charge' AS k, NULL AS g, charge AS amount, id AS line_id FROM service_lines
UNION ALL
SELECT claim_id, COALESCE(reversed_kind, kind), group_code, amount, service_line_id FROM ledger_entries WHERE claim_id IS NOT NULL;

CREATE OR REPLACE VIEW claim_owed AS
SELECT claim_id, sum(insurance_effect(k, g, amount)) AS insurance_balance, sum(patient_effect(k, g, amount)) AS patient_balance
FROM claim_amounts
GROUP BY claim_id;

-- What each service line owes, from the amounts posted against that line
-- (claim-level amounts are not a line's).
CREATE VIEW line_owed AS
SELECT claim_id, line_id, sum(insurance_effect(k, g, amount)) AS insurance_balance, sum(patient_effect(k, g, amount)) AS patient_balance
FROM claim_amounts
WHERE line_id IS NOT NULL
GROUP BY claim_id, line_id;

CREATE OR REPLACE VIEW claim_balances AS
SELECT d.claim_id, d.charge, d.paid, d.contractual, d.other_adjustments, d.patient_responsibility,
       d.insurance_written_off, d.patient_written_off, o.insurance_balance, o.patient_balance
FROM (
    SELECT claim_id,
           COALESCE(sum(amount) FILTER (WHERE k IN ('charge', 'charge_correction')), 0) AS charge,
           COALESCE(sum(amount) FILTER (WHERE k = 'payment'), 0) AS paid,
           COALESCE(sum(amount) FILTER (WHERE k = 'contractual'), 0) AS contractual,
           COALESCE(sum(amount) FILTER (WHERE k = 'other_adjustment'), 0) AS other_adjustments,
           COALESCE(sum(amount) FILTER (WHERE k = 'patient_responsibility'), 0) AS patient_responsibility,
           COALESCE(sum(CASE k WHEN 'write_off' THEN amount WHEN 'write_off_reversal' THEN -amount END) FILTER (WHERE g IS DISTINCT FROM 'PR'), 0)
               AS insurance_written_off,
           COALESCE(sum(CASE k WHEN 'write_off' THEN amount WHEN 'write_off_reversal' THEN -amount END) FILTER (WHERE g = 'PR'), 0)
               AS patient_written_off
    FROM claim_amounts
    GROUP BY claim_id
) d
JOIN claim_owed o ON o.claim_id = d.claim_id;

-- A denial's figures:
-- - written_off, pending: its write-offs posted, and waiting for approval;
-- - scope_owed: what its line (or, for a claim-level denial, its claim)
--   still owes on the insurance side, never more than the claim owes;
-- - available: scope_owed less every request waiting in that scope;
-- - raw: the denied amount not yet written off or requested, bounded by
--   available; negative when waiting requests no longer fit;
-- - remaining: what may still be written off (0 once RESOLVED).
CREATE VIEW denial_balances AS
SELECT d.id AS denial_id, d.claim_id, w.written_off, w.pending, s.scope_owed,
       LEAST(d.amount - w.written_off - w.pending, s.available) AS raw,
       CASE WHEN d.status = 'RESOLVED' THEN 0
            ELSE GREATEST(0, LEAST(d.amount - w.written_off - w.pending, s.available)) END AS remaining
FROM denials d
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(x.amount) FILTER (WHERE x.status = 'POSTED'), 0) AS written_off,
           COALESCE(sum(x.amount) FILTER (WHERE x.status = 'PENDING_APPROVAL'), 0) AS pending
    FROM writeoffs x WHERE x.denial_id = d.id
) w
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(o.insurance_balance), 0) AS owed FROM claim_owed o WHERE o.claim_id = d.claim_id
) co
CROSS JOIN LATERAL (
    SELECT sum(o.insurance_balance) AS owed FROM line_owed o
    WHERE d.service_line_id IS NOT NULL AND o.claim_id = d.claim_id AND o.line_id = d.service_line_id
) lo
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(x.amount), 0) AS claim_pending,
           COALESCE(sum(x.amount) FILTER (WHERE x.service_line_id = d.service_line_id), 0) AS line_pending
    FROM writeoffs x WHERE x.claim_id = d.claim_id AND x.status = 'PENDING_APPROVAL' AND x.bucket = 'insurance'
) p
CROSS JOIN LATERAL (
    SELECT LEAST(co.owed, COALESCE(lo.owed, co.owed)) AS scope_owed,
           LEAST(co.owed - p.claim_pending, COALESCE(lo.owed - p.line_pending, co.owed - p.claim_pending)) AS available
) s;

-- A write-off moves its bucket toward zero and never past it. The entries
-- a write-off posts (its write_off entry, or a patient-responsibility
-- write-off's pair) are checked per statement against the claim's
-- balances after the statement: before = after less what they moved.
-- Reversals of write-offs are not checked (they restore a balance), nor is
-- anything a payer posts (a true overpayment is a real credit).
CREATE FUNCTION toward_zero(before NUMERIC, after NUMERIC) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (before >= 0 AND after >= 0 AND after <= before) OR (before <= 0 AND after <= 0 AND after >= before)
$$;

CREATE FUNCTION ledger_entries_writeoffs_toward_zero() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad RECORD;
BEGIN
    -- Most statements (a remittance's postings) carry no write-off entry:
    -- one pass over the new rows and done.
    IF NOT EXISTS (SELECT 1 FROM new_entries WHERE writeoff_id IS NOT NULL AND kind IN ('write_off', 'patient_responsibility', 'other_adjustment')) THEN
        RETURN NULL;
    END IF;
    -- The aggregate in the lateral subquery keeps it a per-claim lookup
    -- (a plain one would be pulled up and could sum the whole ledger).
    SELECT m.claim_id, o.insurance_balance - m.ins AS ins_before, o.insurance_balance AS ins_after,
           o.patient_balance - m.pat AS pat_before, o.patient_balance AS pat_after
    INTO bad
    FROM (SELECT claim_id, sum(insurance_effect(kind, group_code, amount)) AS ins, sum(patient_effect(kind, group_code, amount)) AS pat
          FROM new_entries
          WHERE writeoff_id IS NOT NULL AND kind IN ('write_off', 'patient_responsibility', 'other_adjustment')
          GROUP BY claim_id) m
    CROSS JOIN LATERAL (SELECT COALESCE(sum(c.insurance_balance), 0) AS insurance_balance, COALESCE(sum(c.patient_balance), 0) AS patient_balance
                        FROM claim_owed c WHERE c.claim_id = m.claim_id) o
    WHERE NOT (toward_zero(o.insurance_balance - m.ins, o.insurance_balance) AND toward_zero(o.patient_balance - m.pat, o.patient_balance))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a write-off may move a balance toward zero, never past it: claim % insurance % -> %, patient % -> %',
            bad.claim_id, bad.ins_before, bad.ins_after, bad.pat_before, bad.pat_after
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ledger_entries_writeoffs_toward_zero AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_writeoffs_toward_zero();
