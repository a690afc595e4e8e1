-- What the console's pages need at a million claims (`benches/console.rs`).
--
-- The claims of one payer. The denial worklist filtered by payer found
-- that payer's claims by reading every claim: at a million claims (25,000
-- of them the payer's) the page took 99 ms at the median, 121 ms at the
-- 95th percentile; reading only the payer's claims through this index,
-- 55 ms and 61 ms.
CREATE INDEX claims_payer ON claims (payer_id);
