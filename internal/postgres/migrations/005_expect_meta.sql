-- qun_expect_meta(k, v) raises SQLSTATE QUM01 unless the meta setting k
-- holds v ('' when unset). Tx.ExpectMeta sends it in front of the
-- transaction's next statement: an update held to the directory version
-- its request read before it began needs no round trip to read it again.
CREATE FUNCTION qun_expect_meta(k text, v text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF coalesce((SELECT value FROM meta WHERE key = k), '') <> v THEN
		RAISE EXCEPTION 'meta setting % moved', k USING ERRCODE = 'QUM01';
	END IF;
END
$$;
