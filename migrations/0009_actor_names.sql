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
