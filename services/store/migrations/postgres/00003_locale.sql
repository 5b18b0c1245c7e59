-- +goose Up
-- The language of the account's emails: a BCP 47 tag of a supported language,
-- or '' for "the language of each request, else mail.default_locale".
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN locale;
