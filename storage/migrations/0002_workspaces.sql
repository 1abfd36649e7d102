-- Organizers, the workspaces they own, and the workspace's API keys. Ids are prefixed random
-- ids made by the application (ws_, org_, key_ + 20 base32 characters). The CHECKs repeat the
-- API's input rules so a bug upstream cannot store what the API would have refused.
CREATE TABLE workspaces (
  id         text        PRIMARY KEY CHECK (id ~ '^ws_[a-z2-7]{20}$'),
  name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Emails are stored lower-cased (the application lower-cases ASCII and accepts only ASCII),
-- so the plain UNIQUE constraint is the case-insensitive one. The CHECK uses a regex rather
-- than lower() so it means the same under every collation.
CREATE TABLE organizers (
  id            text        PRIMARY KEY CHECK (id ~ '^org_[a-z2-7]{20}$'),
  workspace_id  text        NOT NULL REFERENCES workspaces (id),
  email         text        NOT NULL UNIQUE CHECK (octet_length(email) BETWEEN 3 AND 254 AND email !~ '[A-Z]'),
  password_hash text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organizers_workspace_id ON organizers (workspace_id);

-- Only the SHA-256 of a key's secret is stored; the key itself is shown once, at creation.
CREATE TABLE api_keys (
  id           text        PRIMARY KEY CHECK (id ~ '^key_[a-z2-7]{20}$'),
  workspace_id text        NOT NULL REFERENCES workspaces (id),
  name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  secret_hash  bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE INDEX api_keys_workspace_id ON api_keys (workspace_id, created_at);
