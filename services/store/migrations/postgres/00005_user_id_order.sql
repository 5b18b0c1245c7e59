-- +goose Up
-- Accounts are listed in pages ordered by id in byte order (COLLATE "C"),
-- whatever the database's default collation: this index serves that order.
-- SQLite compares text bytewise already, and its primary key serves it there.
CREATE INDEX users_id_bytes ON users (id COLLATE "C");

-- +goose Down
DROP INDEX users_id_bytes;
