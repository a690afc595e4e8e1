-- A sweep's report lists the balances it left alone because their claim has
-- a denial under appeal or waiting for approval (it only counted them), so
-- a person can see which claims to come back to.
ALTER TABLE sweep_lines DROP CONSTRAINT sweep_lines_section_check;
ALTER TABLE sweep_lines ADD CONSTRAINT sweep_lines_section_check CHECK (section IN ('written_off', 'out_of_range', 'protected'));
