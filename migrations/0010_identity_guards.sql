-- The database holds who may act, for every login that does not own it.
--
-- The owner (after `remitd migrate --daemon ROLE`, a role nobody logs in
-- as) and superusers can change every table and trigger anyway; for them
-- these guards step aside. Any other login is a person or the daemon:
-- rows a person writes must name that person as their actor (the daemon's
-- name `system`), and changes to who may act or to what decides how money
-- posts need the matching scope, whichever client writes them (remitd or
-- psql). A refusal names the missing scope; SQLSTATE 42501
-- (insufficient_privilege).

-- The daemon's own login. `remitd migrate --daemon ROLE` records it (in
-- settings, key `daemon_role`) when it sets up the database's roles; from
-- then on the daemon no longer owns the database, and this is how the
-- database knows that rows naming `system` come from it.
CREATE FUNCTION remitd_login_is_daemon() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'daemon_role' AND value = session_user)
$$;

-- Whether the session's login may act with `wanted`: it owns the database,
-- or it is an actor holding that scope.
CREATE FUNCTION remitd_login_holds(wanted text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT remitd_login_is_owner()
        OR EXISTS (SELECT 1 FROM actor_scopes WHERE actor = session_user AND scope = wanted)
$$;

-- Statement trigger: every new row names the login in column TG_ARGV[0]
-- (the new rows are the transition table `new_rows`).
CREATE FUNCTION remitd_rows_name_the_login() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    acting text;
    wrong boolean;
    named text;
BEGIN
    IF remitd_login_is_owner() THEN
        RETURN NULL;
    END IF;
    acting := CASE WHEN remitd_login_is_daemon() THEN 'system' ELSE session_user END;
    -- (EXECUTE does not set FOUND: the query says whether it found one.)
    EXECUTE format('SELECT true, %1$I FROM new_rows WHERE %1$I IS DISTINCT FROM $1 LIMIT 1', TG_ARGV[0]) INTO wrong, named USING acting;
    IF wrong THEN
        RAISE EXCEPTION 'logged in as %, so a % row naming % as its % is refused: a login acts only as itself',
            session_user, TG_TABLE_NAME, coalesce(named, 'nobody'), TG_ARGV[0]
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_names_the_login AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_rows_name_the_login('actor');
CREATE TRIGGER ledger_entries_name_the_login AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_rows_name_the_login('actor');
CREATE TRIGGER writeoff_receipts_name_the_login AFTER INSERT ON writeoff_receipts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_rows_name_the_login('actor');
CREATE TRIGGER writeoffs_name_the_login AFTER INSERT ON writeoffs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_rows_name_the_login('requested_by');
CREATE TRIGGER sweep_runs_name_the_login AFTER INSERT ON sweep_runs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_rows_name_the_login('actor');

-- What a person's login may put in the ledger: write-offs and what moves
-- with them (their undoing, the PR moves, charge corrections), and only
-- holding a write-off scope (or the approver's, posting what she
-- approved). Payments, adjustments, denials and payer reversals come from
-- remittances: the daemon's (or the owner's) alone.
CREATE FUNCTION remitd_entries_by_scope() RETURNS trigger
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
    WHERE n.kind IN ('write_off', 'patient_responsibility', 'other_adjustment')
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
-- (Named to fire after the name check: statement triggers fire in name order.)
CREATE TRIGGER ledger_entries_only_writeoffs_by_scope AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_entries_by_scope();

-- Statement trigger: the login holds scope TG_ARGV[0] before the table
-- changes at all. With the arguments (scope, 'daemon') the daemon may make
-- the change too (it applies the configured approval policy at start).
CREATE FUNCTION remitd_change_needs_scope() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF remitd_login_holds(TG_ARGV[0]) OR (TG_NARGS > 1 AND TG_ARGV[1] = 'daemon' AND remitd_login_is_daemon()) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'actor % lacks the scope % (changing %)', session_user, TG_ARGV[0], TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- A person's write-off starts as a request (PENDING_APPROVAL), which the
-- workflow posts under the approval gate below, and takes the scope its
-- kind takes: a contractual or patient-responsibility write-off
-- billing.payment.write, any other billing.denial.write. On a denial, the
-- requests never add up to more than was denied.
CREATE FUNCTION remitd_writeoffs_start_as_requests() RETURNS trigger
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
    -- Never more than was denied, and nothing on a denial the payer resolved.
    PERFORM 1 FROM (SELECT DISTINCT denial_id FROM new_rows WHERE denial_id IS NOT NULL) n
    JOIN denials d ON d.id = n.denial_id
    WHERE d.status = 'RESOLVED'
       OR (SELECT sum(x.amount) FROM writeoffs x WHERE x.denial_id = d.id AND x.status IN ('POSTED', 'PENDING_APPROVAL')) > d.amount;
    IF FOUND THEN
        RAISE EXCEPTION 'a write-off takes no more than what remains of its denial (logged in as %)', session_user
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER writeoffs_start_as_requests AFTER INSERT ON writeoffs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION remitd_writeoffs_start_as_requests();

-- The approval gate, for a person posting their own request in the
-- transaction that made it: under `all` every manual write-off waits;
-- under `above:AMOUNT` what is written off or requested on the denial (for
-- a PR write-off, on the claim) counts together. A sweep run is not gated,
-- and needs the approver's scope.
CREATE FUNCTION remitd_self_posting_gated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    policy text;
    id_found bigint;
BEGIN
    IF remitd_login_is_owner() OR remitd_login_is_daemon() THEN
        RETURN NULL;
    END IF;
    SELECT value INTO policy FROM settings WHERE key = 'writeoff.approval';
    PERFORM 1 FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN writeoff_receipts r ON r.id = n.receipt_id
    WHERE o.status = 'PENDING_APPROVAL' AND n.status = 'POSTED' AND o.requested_at = now() AND r.kind = 'sweep';
    IF FOUND AND NOT remitd_login_holds('billing.writeoff.approve') THEN
        RAISE EXCEPTION 'actor % lacks the scope billing.writeoff.approve (posting a sweep)', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
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
CREATE TRIGGER writeoffs_self_posting_gated AFTER UPDATE ON writeoffs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_self_posting_gated();

-- Who may act: only an admin adds people, grants and revokes.
CREATE TRIGGER actors_change_needs_admin BEFORE INSERT OR UPDATE OR DELETE ON actors
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('remitd.admin');
CREATE TRIGGER actor_scopes_change_needs_admin BEFORE INSERT OR UPDATE OR DELETE ON actor_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('remitd.admin');
-- What decides how money posts: CARC categories and reasons by an admin;
-- the approval policy and transaction codes by an approver.
CREATE TRIGGER carc_categories_change_needs_admin BEFORE INSERT OR UPDATE OR DELETE ON carc_categories
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('remitd.admin');
CREATE TRIGGER writeoff_reasons_change_needs_admin BEFORE INSERT OR UPDATE OR DELETE ON writeoff_reasons
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('remitd.admin');
CREATE TRIGGER settings_change_needs_approver BEFORE INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.writeoff.approve', 'daemon');
CREATE TRIGGER transaction_codes_change_needs_approver BEFORE INSERT OR UPDATE OR DELETE ON transaction_codes
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.writeoff.approve');

-- Nobody approves their own request: a write-off that waited for approval
-- (requested in an earlier transaction) is decided by someone else, and
-- only by an approver. This holds for every login, the owner included; a
-- write-off posted without waiting (requested and posted in one
-- transaction) is not a decision.
CREATE FUNCTION remitd_decisions_by_another() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    who text;
    acting text;
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
    IF NOT remitd_login_is_owner() THEN
        IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
                   WHERE o.status = 'PENDING_APPROVAL' AND n.status IN ('POSTED', 'REJECTED') AND o.requested_at < now())
           AND NOT remitd_login_holds('billing.writeoff.approve') THEN
            RAISE EXCEPTION 'actor % lacks the scope billing.writeoff.approve (deciding a write-off)', session_user
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        acting := CASE WHEN remitd_login_is_daemon() THEN 'system' ELSE session_user END;
        PERFORM 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.decided_by IS DISTINCT FROM o.decided_by AND n.decided_by IS DISTINCT FROM acting;
        IF FOUND THEN
            RAISE EXCEPTION 'logged in as %, so a decision in another''s name is refused', session_user
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER writeoffs_decided_by_another AFTER UPDATE ON writeoffs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_decisions_by_another();
