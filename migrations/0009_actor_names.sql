-- Actor names are what a PostgreSQL login role can be called without
-- quoting: lowercase letters, digits, '.', '_' and '-', starting with a
-- letter, at most 63 bytes. So no two people differ only in case or in an
-- invisible character, no name can carry a newline into a report, and
-- `system` (the daemon) stays the only one of its kind. Names PostgreSQL
-- keeps for itself are refused too.
--
-- NOT VALID: an install from before this rule keeps the names it has; every
-- new or renamed actor is checked.
ALTER TABLE actors ADD CONSTRAINT actors_name_check CHECK (
    name = 'system'
    OR (name ~ '^[a-z][a-z0-9._-]{0,62}$'
        AND name NOT IN ('public', 'none', 'current_user', 'session_user', 'current_role')
        AND name !~ '^pg_')
) NOT VALID;

-- Whether the session's login owns this database (or is a superuser). Such
-- a login can already change every table, so remitd lets it say which
-- actor it acts for (`--actor`); every other login acts only as itself.
CREATE FUNCTION remitd_login_is_owner() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(session_user, d.datdba, 'MEMBER') FROM pg_database d WHERE d.datname = current_database()
$$;
