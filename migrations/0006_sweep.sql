-- The small-balance sweep: transaction codes, balances as a view, and the
-- runs with their stored reports.

-- Transaction codes as the practice-management system knows them. A sweep
-- writes off under an adjustment code (one for insurance balances, one for
-- patient balances); extend the table with `remitd txcode add`.
CREATE TABLE transaction_codes (
    code         TEXT PRIMARY KEY CHECK (code <> '' AND code !~ '\s'),
    kind         TEXT NOT NULL CHECK (kind IN ('adjustment', 'payment', 'charge')),
    description  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO transaction_codes (code, kind, description) VALUES
    ('w', 'adjustment', 'Small balance write-off, insurance'),
    ('W', 'adjustment', 'Small balance write-off, patient'),
    ('BD', 'adjustment', 'Bad debt write-off'),
    ('ADJ', 'adjustment', 'Other adjustment'),
    ('ERA', 'payment', 'Electronic remittance payment'),
    ('PAY', 'payment', 'Patient payment'),
    ('CHG', 'charge', 'Charge');

-- A write-off may carry the transaction code it was made under, and may
-- write off a credit balance (a negative amount).
ALTER TABLE writeoffs ADD COLUMN tx_code TEXT REFERENCES transaction_codes(code);
ALTER TABLE writeoffs DROP CONSTRAINT writeoffs_amount_check;
ALTER TABLE writeoffs ADD CONSTRAINT writeoffs_amount_check CHECK (amount <> 0);

-- Every amount that moves a claim's balances, in one column: the charges
-- of its service lines and its ledger entries, a reversal counted as the
-- kind it reverses.
CREATE VIEW claim_amounts AS
SELECT claim_id, 'charge' AS k, NULL AS g, charge AS amount FROM service_lines
UNION ALL
SELECT claim_id, COALESCE(reversed_kind, kind), group_code, amount FROM ledger_entries WHERE claim_id IS NOT NULL;

-- What each claim still owes: the payer side (charge less payments,
-- contractual and other adjustments, patient responsibility and insurance
-- write-offs; denied amounts stay owed) and the patient (responsibility
-- less patient write-offs, those with group PR). Two sums and nothing
-- else, because the sweep takes them over every claim at once.
CREATE VIEW claim_owed AS
SELECT claim_id,
       sum(CASE WHEN k = 'charge' THEN amount
                WHEN k IN ('payment', 'contractual', 'other_adjustment', 'patient_responsibility') THEN -amount
                WHEN k = 'write_off' AND g IS DISTINCT FROM 'PR' THEN -amount
                WHEN k = 'write_off_reversal' AND g IS DISTINCT FROM 'PR' THEN amount
                ELSE 0 END) AS insurance_balance,
       sum(CASE WHEN k = 'patient_responsibility' THEN amount
                WHEN k = 'write_off' AND g = 'PR' THEN -amount
                WHEN k = 'write_off_reversal' AND g = 'PR' THEN amount
                ELSE 0 END) AS patient_balance
FROM claim_amounts
GROUP BY claim_id;

-- A claim's balances in full, as `claim show` lists them: the columns that
-- make up what is owed, and what is owed (from claim_owed, the one
-- definition). The test suite checks the two always agree.
CREATE VIEW claim_balances AS
SELECT d.claim_id, d.charge, d.paid, d.contractual, d.other_adjustments, d.patient_responsibility,
       d.insurance_written_off, d.patient_written_off, o.insurance_balance, o.patient_balance
FROM (
    SELECT claim_id,
           COALESCE(sum(amount) FILTER (WHERE k = 'charge'), 0) AS charge,
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

-- The payment-entry date range selects claims by when a remittance posted
-- against them.
CREATE INDEX claim_postings_posted_at ON claim_postings (posted_at);

-- One posted sweep run (a preview writes nothing). A scheduled run names its
-- slot, and a slot runs once however many instances watch the clock.
CREATE TABLE sweep_runs (
    id                 BIGSERIAL PRIMARY KEY,
    receipt_id         BIGINT UNIQUE REFERENCES writeoff_receipts(id),
    mode               TEXT NOT NULL CHECK (mode IN ('post', 'interactive', 'scheduled')),
    slot               TIMESTAMPTZ UNIQUE,
    actor              TEXT NOT NULL REFERENCES actors(name),
    params             JSONB NOT NULL,
    skipped_protected  INTEGER NOT NULL DEFAULT 0,
    started_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((mode = 'scheduled') = (slot IS NOT NULL))
);

-- The report of a run as it was printed: what was written off and what was
-- left out as over the maximum amount. Patient names are kept as they were
-- on the day, for billing staff; they are never logged.
CREATE TABLE sweep_lines (
    run_id            BIGINT NOT NULL REFERENCES sweep_runs(id),
    line_no           INTEGER NOT NULL,
    section           TEXT NOT NULL CHECK (section IN ('written_off', 'out_of_range')),
    bucket            TEXT NOT NULL CHECK (bucket IN ('insurance', 'patient')),
    claim_id          BIGINT NOT NULL REFERENCES claims(id),
    patient_name      TEXT NOT NULL,
    account_number    TEXT NOT NULL,
    last_billed_date  DATE NOT NULL,
    amount            NUMERIC(14,2) NOT NULL,
    tx_code           TEXT NOT NULL,
    payer_code        TEXT NOT NULL,
    policy_order      SMALLINT NOT NULL,
    PRIMARY KEY (run_id, line_no)
);
CREATE TRIGGER sweep_lines_append_only BEFORE UPDATE OR DELETE ON sweep_lines
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER sweep_lines_no_truncate BEFORE TRUNCATE ON sweep_lines
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
