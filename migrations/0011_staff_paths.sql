-- What support staff do on their own logins, held by the database like the
-- rest of migration 0010:
--
-- 1. What remittances write (remittances, their claim postings, denials
--    they open, the unmatched queue, the files ingested) comes from the
--    daemon's login (or the owner's) alone. A person updates a denial's
--    state (appeal, reopen) but does not make one up.
-- 2. Claims, their lines, accounts and payers (what is owed before any
--    payer answers) change only with billing.payment.write.
-- 3. A person re-feeds the unmatched queue by asking the daemon: a row in
--    refeed_requests, naming the person, which the daemon answers (it alone
--    posts), recording what happened.
-- 4. A write-off request on a denial fits what its line still owes, not
--    only what was denied: the same bound `denial_balances` gives the
--    workflows, so a write-off typed in psql cannot take from another line.
-- 5. A write-off's terms never change once requested, and its state moves
--    only forward (requested -> posted, rejected or cancelled; posted ->
--    undone), posted with its entry and undone with its reversal; receipts
--    and sweep runs are append-only; a denial's amount, claim, line,
--    posting and codes never change. For every login, the owner included:
--    no code path changes them, so a change is a forgery.
-- 6. The two statement triggers of 0010 that follow an update of write-offs
--    (the approval gate, and decisions by another) become one: one pass
--    over the transition tables instead of two.

-- The name rows written on this session carry: `system` for the daemon's
-- login and the database's owner (who post what remittances bring), the
-- login's own name for a person. Used by remitd to name the actor of what
-- it writes for a login (a claims import), and by the checks below.
CREATE FUNCTION remitd_acting() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN remitd_login_is_owner() OR remitd_login_is_daemon() THEN 'system' ELSE session_user::text END
$$;

-- Statement trigger: only the daemon's login (or the owner) writes here.
CREATE FUNCTION remitd_only_the_daemon() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF remitd_login_is_owner() OR remitd_login_is_daemon() THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% rows are written by the daemon (%); logged in as %', TG_TABLE_NAME, TG_ARGV[0], session_user
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER remittances_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON remittances
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it posts remittances');
CREATE TRIGGER claim_postings_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON claim_postings
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it posts remittances');
CREATE TRIGGER denials_opened_by_the_daemon BEFORE INSERT OR DELETE ON denials
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('a remittance opens a denial');
CREATE TRIGGER unmatched_claims_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON unmatched_claims
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('ask it to re-feed: refeed_requests');
CREATE TRIGGER ingested_files_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON ingested_files
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('drop the file in an inbox');

CREATE TRIGGER claims_change_needs_payment_scope BEFORE INSERT OR UPDATE OR DELETE ON claims
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.payment.write');
CREATE TRIGGER service_lines_change_needs_payment_scope BEFORE INSERT OR UPDATE OR DELETE ON service_lines
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.payment.write');
CREATE TRIGGER accounts_change_needs_payment_scope BEFORE INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.payment.write');
CREATE TRIGGER payers_change_needs_payment_scope BEFORE INSERT OR UPDATE OR DELETE ON payers
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.payment.write');

-- A person's request that the daemon re-feed one unmatched item (or, with
-- no item, every open one). The daemon answers it: done_at and outcome
-- (one element per item tried: its id, what happened, why).
CREATE TABLE refeed_requests (
    id            BIGSERIAL PRIMARY KEY,
    unmatched_id  BIGINT REFERENCES unmatched_claims(id),
    requested_by  TEXT NOT NULL,
    requested_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at       TIMESTAMPTZ,
    outcome       JSONB,
    CHECK ((done_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX refeed_requests_waiting ON refeed_requests (id) WHERE done_at IS NULL;

CREATE TRIGGER refeed_requests_name_the_login AFTER INSERT ON refeed_requests
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_rows_name_the_login('requested_by');
CREATE TRIGGER refeed_requests_need_payment_scope BEFORE INSERT ON refeed_requests
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.payment.write');
CREATE TRIGGER refeed_requests_answered_by_the_daemon BEFORE UPDATE OR DELETE ON refeed_requests
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it answers refeed requests');

-- Wakes the daemon (it listens on `remitd_refeed`; it also looks every few
-- seconds, so a missed notification only delays the answer).
CREATE FUNCTION remitd_refeed_requested() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('remitd_refeed', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER refeed_requests_wake_the_daemon AFTER INSERT ON refeed_requests
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_refeed_requested();

-- (4) As in 0010, with the denial's bound taken from denial_balances: its
-- `raw` goes below zero when the requests on the denial add up to more than
-- was denied, or than its line (or claim) still owes less what is waiting.
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
    FROM (SELECT CASE WHEN n.reason = 'contractual' OR r.kind = 'patient_responsibility' THEN 'billing.payment.write'
                      ELSE 'billing.denial.write' END AS scope
          FROM new_rows n JOIN writeoff_receipts r ON r.id = n.receipt_id) x
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

-- (5) Write-offs, denials, receipts and sweep runs: what never changes.
CREATE FUNCTION remitd_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% row %: %', TG_TABLE_NAME, OLD.id, TG_ARGV[0]
        USING ERRCODE = 'check_violation';
END
$$;

CREATE TRIGGER writeoffs_terms_never_change BEFORE UPDATE ON writeoffs FOR EACH ROW
    WHEN ((OLD.receipt_id, OLD.denial_id, OLD.claim_id, OLD.service_line_id, OLD.amount, OLD.bucket, OLD.reason, OLD.note,
           OLD.requested_by, OLD.requested_at, OLD.tx_code)
          IS DISTINCT FROM
          (NEW.receipt_id, NEW.denial_id, NEW.claim_id, NEW.service_line_id, NEW.amount, NEW.bucket, NEW.reason, NEW.note,
           NEW.requested_by, NEW.requested_at, NEW.tx_code))
    EXECUTE FUNCTION remitd_refuse_change('a write-off''s terms never change; undo it and write off anew');
CREATE TRIGGER writeoffs_state_moves_forward BEFORE UPDATE ON writeoffs FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND NOT (OLD.status = 'PENDING_APPROVAL' AND NEW.status IN ('POSTED', 'REJECTED', 'CANCELLED'))
          AND NOT (OLD.status = 'POSTED' AND NEW.status = 'UNDONE'))
    EXECUTE FUNCTION remitd_refuse_change('a write-off moves from requested to posted, rejected or cancelled, and from posted to undone, never back');
CREATE TRIGGER writeoffs_decision_fixed BEFORE UPDATE ON writeoffs FOR EACH ROW
    WHEN (OLD.status = NEW.status AND (OLD.decided_by, OLD.ledger_entry_id, OLD.reversal_entry_id)
                                      IS DISTINCT FROM (NEW.decided_by, NEW.ledger_entry_id, NEW.reversal_entry_id))
    EXECUTE FUNCTION remitd_refuse_change('who decided a write-off and its entries change only with its state');
CREATE TRIGGER writeoffs_posted_with_entries BEFORE UPDATE ON writeoffs FOR EACH ROW
    WHEN ((NEW.status = 'POSTED' AND NEW.ledger_entry_id IS NULL) OR (NEW.status = 'UNDONE' AND NEW.reversal_entry_id IS NULL))
    EXECUTE FUNCTION remitd_refuse_change('a write-off is posted with its ledger entry and undone with its reversal');

CREATE TRIGGER denials_terms_never_change BEFORE UPDATE ON denials FOR EACH ROW
    WHEN ((OLD.claim_id, OLD.service_line_id, OLD.claim_posting_id, OLD.amount, OLD.reason_codes, OLD.opened_at)
          IS DISTINCT FROM
          (NEW.claim_id, NEW.service_line_id, NEW.claim_posting_id, NEW.amount, NEW.reason_codes, NEW.opened_at))
    EXECUTE FUNCTION remitd_refuse_change('what a remittance denied never changes; only the denial''s state does');

CREATE TRIGGER writeoff_receipts_append_only BEFORE UPDATE OR DELETE ON writeoff_receipts
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER sweep_runs_append_only BEFORE UPDATE OR DELETE ON sweep_runs
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

-- (6) After an update of write-offs, in one pass:
-- - nobody decides a request they made (every login, the owner included):
--   a write-off that waited (requested in an earlier transaction) is
--   posted or rejected by someone else, and only by an approver, in their
--   own name;
-- - a person posting their own request in the transaction that made it
--   passes the approval gate: under `all` every manual write-off waits;
--   under `above:AMOUNT` what is written off or requested on the denial
--   (for a PR write-off, on the claim) counts together. A sweep run is not
--   gated, and needs the approver's scope.
CREATE FUNCTION remitd_writeoffs_decided() RETURNS trigger
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
                SELECT sum(w.amount) FROM writeoffs w
                WHERE w.status IN ('POSTED', 'PENDING_APPROVAL')
                  AND CASE WHEN n.denial_id IS NOT NULL THEN w.denial_id = n.denial_id
                           ELSE w.claim_id = n.claim_id AND EXISTS (SELECT 1 FROM writeoff_parts p WHERE p.writeoff_id = w.id) END
              ) > substr(policy, 7)::numeric))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'write-off #% waits for approval under the policy %: an approver posts it', id_found, policy
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER writeoffs_self_posting_gated ON writeoffs;
DROP TRIGGER writeoffs_decided_by_another ON writeoffs;
DROP FUNCTION remitd_self_posting_gated();
DROP FUNCTION remitd_decisions_by_another();
CREATE TRIGGER writeoffs_decided AFTER UPDATE ON writeoffs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_writeoffs_decided();
