-- Reassociation beyond one deposit for one remittance: bulk deposits, debits,
-- the same credit reported by two bank files, questions for a person, and a
-- person's own match or unmatch, with a reason, in her own name.

-- (1) What the money side needs of a remittance's BPR: BPR03 (C: the payer
-- pays; D: the payer takes money back) and BPR04 (ACH, CHK, FWT, BOP, NON).
-- Remittances posted before this keep NULL: unknown, read as a credit.
ALTER TABLE remittances ADD COLUMN credit_debit TEXT, ADD COLUMN payment_method TEXT;

-- (2) An office may drop both the ACH file and the bank statement that
-- report one credit. The later report names the earlier as the same money
-- (same direction, amount, date, trace and payer, from the other kind of
-- file) and is neither matched nor left unexplained.
ALTER TABLE deposits ADD COLUMN same_money_as BIGINT REFERENCES deposits(id);
CREATE UNIQUE INDEX deposits_reported_again_once ON deposits (same_money_as) WHERE same_money_as IS NOT NULL;
CREATE INDEX deposits_customer_reference ON deposits (customer_reference) WHERE customer_reference IS NOT NULL;

-- (3) A match is one deposit with the remittances it pays: one (by trace or
-- check number), several whose amounts add up (a bulk check deposit), or
-- none (a person explains a deposit no remittance will: interest, a
-- patient's payment). All rows of a match share match_id. A match is never
-- deleted; unmatching ends it (ended_*), once, and the deposit may then be
-- matched again.
CREATE SEQUENCE reassociation_matches;
ALTER TABLE reassociations DROP CONSTRAINT reassociations_deposit_id_key;
ALTER TABLE reassociations DROP CONSTRAINT reassociations_remittance_id_key;
ALTER TABLE reassociations DROP CONSTRAINT reassociations_how_check;
ALTER TABLE reassociations
    ALTER COLUMN remittance_id DROP NOT NULL,
    ADD COLUMN match_id BIGINT,
    ADD COLUMN matched_by TEXT NOT NULL DEFAULT 'system' REFERENCES actors(name),
    ADD COLUMN reason TEXT,
    ADD COLUMN ended_at TIMESTAMPTZ,
    ADD COLUMN ended_by TEXT REFERENCES actors(name),
    ADD COLUMN end_reason TEXT,
    ADD CONSTRAINT reassociations_how_check CHECK (how IN ('trace', 'check', 'bulk', 'manual')),
    ADD CONSTRAINT reassociations_manual_has_reason CHECK ((how = 'manual') = (reason IS NOT NULL AND btrim(reason) <> '')),
    ADD CONSTRAINT reassociations_only_manual_explains CHECK (remittance_id IS NOT NULL OR how = 'manual'),
    ADD CONSTRAINT reassociations_ended_whole CHECK (
        (ended_at IS NULL) = (ended_by IS NULL) AND (ended_at IS NULL) = (end_reason IS NULL)
        AND (end_reason IS NULL OR btrim(end_reason) <> ''));
UPDATE reassociations SET match_id = nextval('reassociation_matches');
ALTER TABLE reassociations ALTER COLUMN match_id SET NOT NULL;
CREATE UNIQUE INDEX reassociations_remittance_paid_once ON reassociations (remittance_id) WHERE ended_at IS NULL AND remittance_id IS NOT NULL;
CREATE UNIQUE INDEX reassociations_remittance_once_per_match ON reassociations (match_id, remittance_id);
-- A deposit is in one open match at a time, in any isolation level: two
-- matches of one deposit at once queue on the constraint and the second
-- fails. (btree_gist is a trusted extension: the database's owner may
-- create it.)
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE reassociations ADD CONSTRAINT reassociations_deposit_in_one_open_match
    EXCLUDE USING gist (deposit_id WITH =, match_id WITH <>) WHERE (ended_at IS NULL);
-- Whether a deposit is open is asked of every deposit each time matching
-- runs: a btree answers a probe several times faster than the gist above.
CREATE INDEX reassociations_open_deposit ON reassociations (deposit_id) WHERE ended_at IS NULL;

DROP TRIGGER reassociations_only_the_daemon ON reassociations;

-- Who may write a match: the daemon matches what it is sure of; a person
-- with billing.payment.write matches by hand (how = 'manual') in her own
-- name, and ends a match in her own name; nobody deletes one or changes
-- what it said. New matches are checked per statement (the daemon writes
-- tens of thousands at once), changes per row.
CREATE FUNCTION remitd_reassociation_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner boolean := remitd_login_is_owner();
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'reassociation row %: a match is never deleted; unmatch it (it is ended, with a reason)', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.ended_at IS NOT NULL OR NEW.ended_at IS NULL
       OR (OLD.deposit_id, OLD.remittance_id, OLD.match_id, OLD.how, OLD.matched_by, OLD.reason, OLD.matched_at)
          IS DISTINCT FROM (NEW.deposit_id, NEW.remittance_id, NEW.match_id, NEW.how, NEW.matched_by, NEW.reason, NEW.matched_at) THEN
        RAISE EXCEPTION 'reassociation row %: a match is ended once, and what it said never changes', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NOT owner AND NOT remitd_login_holds('billing.payment.write') THEN
        RAISE EXCEPTION 'actor % lacks the scope billing.payment.write (unmatching a deposit)', remitd_login()
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT owner AND NEW.ended_by IS DISTINCT FROM remitd_login()::text THEN
        RAISE EXCEPTION 'logged in as %, so unmatching in the name of % is refused: a login acts only as itself', remitd_login(), NEW.ended_by
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER reassociations_changes BEFORE UPDATE OR DELETE ON reassociations
    FOR EACH ROW EXECUTE FUNCTION remitd_reassociation_changes();

CREATE FUNCTION remitd_reassociations_written() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner boolean := remitd_login_is_owner();
    daemon boolean := remitd_login_is_daemon();
    may_match boolean := owner OR remitd_login_holds('billing.payment.write');
    who text := remitd_login()::text;
    bad record;
BEGIN
    SELECT n.* INTO bad FROM new_rows n WHERE n.ended_at IS NOT NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a match starts open' USING ERRCODE = 'check_violation';
    END IF;
    SELECT n.* INTO bad FROM new_rows n WHERE n.how = 'manual' AND NOT may_match LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'actor % lacks the scope billing.payment.write (matching a deposit by hand)', who
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT n.* INTO bad FROM new_rows n WHERE n.how = 'manual' AND NOT owner AND n.matched_by IS DISTINCT FROM who LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'logged in as %, so matching in the name of % is refused: a login acts only as itself', who, bad.matched_by
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT n.* INTO bad FROM new_rows n WHERE n.how <> 'manual' AND (NOT (owner OR daemon) OR n.matched_by <> 'system') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'reassociations rows are written by the daemon (it matches deposits with remittances), or by hand with a reason; logged in as %', who
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT d.id, d.same_money_as INTO bad FROM new_rows n JOIN deposits d ON d.id = n.deposit_id WHERE d.same_money_as IS NOT NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'deposit % reports the same money as deposit %: match that one', bad.id, bad.same_money_as
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER reassociations_written AFTER INSERT ON reassociations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_reassociations_written();
CREATE TRIGGER reassociations_no_truncate BEFORE TRUNCATE ON reassociations
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();

-- (4) What a person should look at: a deposit that two remittances could
-- explain (or a remittance two deposits could pay), a bulk deposit with
-- more than one set of checks adding up to it, or a deposit and remittance
-- with the same trace whose amount or date disagree. The daemon asks
-- afresh each time it matches: a question it does not ask again is closed
-- (open = false), not deleted (nobody but the owner deletes); a question
-- is about a deposit not matched.
CREATE TABLE deposit_questions (
    deposit_id      BIGINT PRIMARY KEY REFERENCES deposits(id),
    kind            TEXT NOT NULL CHECK (kind IN ('ambiguous', 'amount', 'date')),
    remittance_ids  BIGINT[] NOT NULL,
    detail          TEXT NOT NULL,
    asked_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    open            BOOLEAN NOT NULL DEFAULT true
);
CREATE INDEX deposit_questions_open ON deposit_questions USING gin (remittance_ids) WHERE open;
CREATE TRIGGER deposit_questions_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON deposit_questions
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it asks what it cannot match');

-- (5) Reading bank files, deposits, matches and questions takes a scope,
-- as reading write-offs does (0017): they name payers' accounts' money.
-- Changes see every row; the triggers above decide them.
DO $policies$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['bank_files', 'deposits', 'reassociations', 'deposit_questions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING ((SELECT remitd_login_may_read()))', t || '_read', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR INSERT WITH CHECK (true)', t || '_write', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR UPDATE USING (true) WITH CHECK (true)', t || '_change', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR DELETE USING (true)', t || '_remove', t);
    END LOOP;
END
$policies$;

-- (6) The window and the candidates, each said once, for the daemon's
-- matching, its questions and every report. security_invoker: a view reads
-- with the reader's rights, so row security above holds through it.
CREATE FUNCTION remitd_reassociation_window() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 3 $$;   -- business days (rule 370)

-- Deposits neither matched nor the same money as another.
CREATE VIEW open_deposits WITH (security_invoker = true) AS
    SELECT d.* FROM deposits d
    WHERE d.same_money_as IS NULL
      AND NOT EXISTS (SELECT 1 FROM reassociations x WHERE x.deposit_id = d.id AND x.ended_at IS NULL);

-- Remittances that move money (not a notice, not BPR04 NON) and are not
-- matched; a remittance paying nothing has nothing to wait for.
CREATE VIEW open_remittances WITH (security_invoker = true) AS
    SELECT r.* FROM remittances r
    WHERE r.payment_amount > 0 AND r.handling_code <> 'H' AND r.payment_method IS DISTINCT FROM 'NON'
      AND NOT EXISTS (SELECT 1 FROM reassociations x WHERE x.remittance_id = r.id AND x.ended_at IS NULL);

-- Each open deposit with each open remittance it names, going the same
-- way: by the 835's trace and payer, or (a deposit without a TRN) by its
-- customer reference, a check's number, as the trace. Whether amount and
-- date agree is said, not filtered: a disagreement is a question.
CREATE VIEW reassociation_candidates WITH (security_invoker = true) AS
    SELECT p.deposit_id, p.remittance_id, p.how,
           p.amount = p.payment_amount AS amount_agrees,
           (p.deposit_date IS NULL OR p.payment_date IS NULL
            OR remitd_business_days(p.deposit_date, p.payment_date) <= remitd_reassociation_window()) AS date_agrees,
           p.amount - p.payment_amount AS difference,
           CASE WHEN p.deposit_date IS NULL OR p.payment_date IS NULL THEN NULL
                ELSE remitd_business_days(p.deposit_date, p.payment_date) END AS days_apart
    FROM (
        SELECT d.id AS deposit_id, r.id AS remittance_id, 'trace'::text AS how, d.amount, r.payment_amount, d.deposit_date, r.payment_date,
               d.credit, r.credit_debit
        FROM open_deposits d JOIN open_remittances r ON r.trace_number = d.trace_number AND r.payer_key = d.payer_id
        UNION ALL
        SELECT d.id, r.id, 'check', d.amount, r.payment_amount, d.deposit_date, r.payment_date, d.credit, r.credit_debit
        FROM open_deposits d JOIN open_remittances r ON d.trace_number IS NULL AND r.trace_number = d.customer_reference
    ) p
    WHERE p.credit = (COALESCE(p.credit_debit, 'C') = 'C');

-- (7) Business days without a row per day: 0026 counted them with
-- generate_series, a call the planner cannot inline, paid once per
-- candidate pair (a second and more at a hundred thousand deposits). Days
-- are placed on a Monday-based line (ISO day of the week of the earlier
-- date, 1 to 7); weekdays up to position t number t / 7 * 5 + least(t % 7,
-- 5); the business days between are that count at the later date's
-- position less that at the earlier's. The same figures
-- (tests/reassociation.rs compares both over every pair of a quarter).
CREATE OR REPLACE FUNCTION remitd_business_days(a date, b date) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT ((extract(isodow FROM LEAST(a, b))::integer + abs(b - a)) / 7 * 5 + LEAST((extract(isodow FROM LEAST(a, b))::integer + abs(b - a)) % 7, 5))
         - (extract(isodow FROM LEAST(a, b))::integer / 7 * 5 + LEAST(extract(isodow FROM LEAST(a, b))::integer % 7, 5))
$$;
