-- Who acts is the role a session acts as, not only the login it opened.
--
-- The console (and any PostgREST-style front end) logs in once as an
-- authenticator and acts for each person with `SET ROLE ann` (on a
-- connection of that person's own, `options=-c role=ann`). PostgreSQL lets
-- a login take only a role it is a member of, so the role is as proven as
-- the login: `remitd migrate --daemon ROLE` makes the daemon's login a
-- member of each staff member's role, and nobody else is.
--
-- `session_user` would still name the authenticator there, and
-- `current_user` names a SECURITY DEFINER function's owner inside it; the
-- `role` setting is neither: it is the role taken, or 'none' when the
-- session acts as its login. Every check that named `session_user` now
-- names `remitd_login()`, rewritten below function by function from the
-- catalogue so no check is missed and none is restated by hand.

CREATE FUNCTION remitd_login() RETURNS name
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN current_setting('role') = 'none' THEN session_user ELSE current_setting('role')::name END
$$;

DO $rewrite$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT p.oid, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prosrc ~ '\msession_user\M' AND p.proname <> 'remitd_login'
    LOOP
        EXECUTE regexp_replace(pg_get_functiondef(f.oid), '\msession_user\M', 'remitd_login()', 'g');
    END LOOP;
END
$rewrite$;

ALTER POLICY audit_log_read ON audit_log USING ((SELECT remitd_login_may_read()) OR actor = (SELECT remitd_login()));
ALTER POLICY writeoffs_read ON writeoffs USING ((SELECT remitd_login_may_read()) OR requested_by = (SELECT remitd_login()));
ALTER POLICY writeoff_receipts_read ON writeoff_receipts USING ((SELECT remitd_login_may_read()) OR actor = (SELECT remitd_login()));

-- Console passwords: argon2id hashes (PHC strings) remitd computes; the
-- database never sees a password. Only the owner reads the table; the
-- daemon (which serves the console) reads a hash through
-- `remitd_password_hash`, and a person sets her own, or an admin anyone's,
-- through `remitd_set_password`.
CREATE TABLE actor_passwords (
    actor text PRIMARY KEY REFERENCES actors (name),
    hash text NOT NULL CHECK (hash LIKE '$argon2id$%'),
    set_by text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON actor_passwords FROM PUBLIC;
-- Row security without a policy: a login given the table anyway (a broad
-- GRANT ON ALL TABLES) sees and changes no row of it; the functions below
-- run as the owner, which row security does not bind.
ALTER TABLE actor_passwords ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION remitd_set_password(who text, new_hash text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    acting name := remitd_login();
BEGIN
    IF acting IS DISTINCT FROM who::name AND NOT remitd_login_holds('remitd.admin') THEN
        RAISE EXCEPTION 'logged in as %, so setting the password of % takes the scope remitd.admin', acting, who
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM actors WHERE name = who) OR who = 'system' THEN
        RAISE EXCEPTION 'actor % does not exist', who USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO actor_passwords (actor, hash, set_by) VALUES (who, new_hash, acting)
    ON CONFLICT (actor) DO UPDATE SET hash = EXCLUDED.hash, set_by = EXCLUDED.set_by, set_at = now();
END
$$;

CREATE FUNCTION remitd_password_hash(who text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF NOT (remitd_login_is_owner() OR remitd_login_is_daemon()) THEN
        RAISE EXCEPTION 'logged in as %, so reading password hashes is refused: only the daemon checks passwords', remitd_login()
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN (SELECT hash FROM actor_passwords WHERE actor = who);
END
$$;
REVOKE ALL ON FUNCTION remitd_password_hash(text) FROM PUBLIC;
