-- +goose Up
-- At most one unused reset token per account, held by the database itself:
-- issuing a token replaces the live one in one upsert, so concurrent issuers
-- cannot leave two live links behind. Older duplicates (a newer one exists)
-- are dropped first; only the newest could still have been used.
DELETE FROM reset_tokens WHERE used_at IS NULL AND EXISTS (
    SELECT 1 FROM reset_tokens n
    WHERE n.user_id = reset_tokens.user_id AND n.used_at IS NULL AND n.id > reset_tokens.id);
CREATE UNIQUE INDEX reset_tokens_one_live ON reset_tokens (user_id) WHERE used_at IS NULL;

-- +goose Down
DROP INDEX reset_tokens_one_live;
