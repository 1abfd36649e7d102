-- The cluster's membership: one row per running node, refreshed by its heartbeat. Liveness
-- is judged with the database's clock (now()), never a node's own.
-- Deliberately plain CREATE TABLE: migrations run exactly once under the runner's lock, so a
-- second application must fail loudly rather than hide a bookkeeping bug.
CREATE TABLE nodes (
  node_id      text        PRIMARY KEY,
  http_address text        NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);
