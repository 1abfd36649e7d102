-- Events, ticket types, checkouts and holds: the inventory that must never be oversold.
--
-- Shard ownership with fencing epochs (DESIGN.md). Every entity write runs in a transaction
-- that first reads its shard's row FOR SHARE and checks owner_node and owner_epoch; a change of
-- owner takes the row FOR UPDATE and bumps the epoch, so it waits for writes in flight and
-- every later write of the old owner fails.
CREATE TABLE shards (
  shard_id    integer     PRIMARY KEY CHECK (shard_id >= 0),
  owner_node  text,
  owner_epoch bigint      NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
  id              text        PRIMARY KEY,
  workspace_id    text        NOT NULL REFERENCES workspaces (id),
  shard_id        integer     NOT NULL,
  slug            text        NOT NULL,
  title           text        NOT NULL,
  description     text        NOT NULL DEFAULT '',
  venue_name      text        NOT NULL DEFAULT '',
  venue_address   text        NOT NULL DEFAULT '',
  -- Coordinates are not money: floating point is fine here.
  venue_latitude  double precision CHECK (venue_latitude BETWEEN -90 AND 90),
  venue_longitude double precision CHECK (venue_longitude BETWEEN -180 AND 180),
  time_zone       text        NOT NULL,
  starts_at       timestamptz NOT NULL,
  ends_at         timestamptz NOT NULL,
  currency        char(3)     NOT NULL,
  tax_country     char(2)     NOT NULL,
  images          jsonb       NOT NULL DEFAULT '[]',
  status          text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'closed')),
  version         bigint      NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, slug),
  CHECK (ends_at > starts_at)
);

CREATE TABLE ticket_types (
  id             text        PRIMARY KEY,
  event_id       text        NOT NULL REFERENCES events (id),
  shard_id       integer     NOT NULL,
  name           text        NOT NULL,
  description    text        NOT NULL DEFAULT '',
  price_minor    bigint      NOT NULL CHECK (price_minor >= 0),
  currency       char(3)     NOT NULL,
  capacity       integer     NOT NULL CHECK (capacity >= 0),
  -- Maintained by the holds triggers below, never written by the application.
  held           integer     NOT NULL DEFAULT 0 CHECK (held >= 0),
  sold           integer     NOT NULL DEFAULT 0 CHECK (sold >= 0),
  sale_starts_at timestamptz,
  sale_ends_at   timestamptz,
  min_per_order  integer     NOT NULL DEFAULT 1 CHECK (min_per_order >= 1),
  max_per_order  integer     NOT NULL DEFAULT 10 CHECK (max_per_order >= min_per_order),
  hidden         boolean     NOT NULL DEFAULT false,
  position       integer     NOT NULL DEFAULT 0,
  -- Bumped by every activation of the ticket type's quota; a batch commits only under the
  -- generation it loaded, so a restarted quota and its predecessor's late batch never both write.
  writer_generation bigint   NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  -- The backstop: even a wrong actor cannot oversell.
  CONSTRAINT no_oversell CHECK (sold + held <= capacity),
  CHECK (sale_ends_at IS NULL OR sale_starts_at IS NULL OR sale_ends_at > sale_starts_at)
);
CREATE INDEX ticket_types_event ON ticket_types (event_id, position);
CREATE INDEX ticket_types_shard ON ticket_types (shard_id);

CREATE TABLE checkouts (
  id              text        PRIMARY KEY,
  event_id        text        NOT NULL REFERENCES events (id),
  buyer_email     text        NOT NULL,
  client_address  text        NOT NULL,
  item_count      integer     NOT NULL CHECK (item_count BETWEEN 1 AND 20),
  -- SHA-256 of the canonical request; a replayed Idempotency-Key must match it.
  request_hash    bytea       NOT NULL,
  idempotency_key text,
  expires_at      timestamptz NOT NULL,
  extended        boolean     NOT NULL DEFAULT false,
  -- Set when creating the checkout failed after some of its holds were taken (and released):
  -- a retry with the same Idempotency-Key is answered with the same error.
  failure_code    smallint,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkouts_buyer ON checkouts (event_id, buyer_email);

CREATE TABLE holds (
  checkout_id      text        NOT NULL REFERENCES checkouts (id),
  ticket_type_id   text        NOT NULL REFERENCES ticket_types (id),
  quantity         integer     NOT NULL CHECK (quantity > 0),
  unit_price_minor bigint      NOT NULL CHECK (unit_price_minor >= 0),
  currency         char(3)     NOT NULL,
  status           text        NOT NULL CHECK (status IN ('held', 'released', 'expired', 'sold')),
  expires_at       timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (checkout_id, ticket_type_id)
);
CREATE INDEX holds_live ON holds (ticket_type_id, expires_at) WHERE status = 'held';

-- held and sold follow the holds rows, per statement (a group commit inserts hundreds of rows
-- in one statement and this adds them up once). With the CHECK above, the database itself
-- refuses any transaction that would oversell, whatever the actors believed.
CREATE FUNCTION holds_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ticket_types t
     SET held = t.held + d.held, sold = t.sold + d.sold, updated_at = now()
    FROM (SELECT ticket_type_id,
                 coalesce(sum(quantity) FILTER (WHERE status = 'held'), 0) AS held,
                 coalesce(sum(quantity) FILTER (WHERE status = 'sold'), 0) AS sold
            FROM inserted GROUP BY ticket_type_id) d
   WHERE t.id = d.ticket_type_id;
  RETURN NULL;
END $$;

CREATE FUNCTION holds_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ticket_types t
     SET held = t.held + d.held, sold = t.sold + d.sold, updated_at = now()
    FROM (SELECT ticket_type_id, sum(held) AS held, sum(sold) AS sold FROM (
            SELECT ticket_type_id,
                   CASE WHEN status = 'held' THEN quantity ELSE 0 END AS held,
                   CASE WHEN status = 'sold' THEN quantity ELSE 0 END AS sold
              FROM updated_new
            UNION ALL
            SELECT ticket_type_id,
                   CASE WHEN status = 'held' THEN -quantity ELSE 0 END,
                   CASE WHEN status = 'sold' THEN -quantity ELSE 0 END
              FROM updated_old) changes
          GROUP BY ticket_type_id) d
   WHERE t.id = d.ticket_type_id AND (d.held <> 0 OR d.sold <> 0);
  RETURN NULL;
END $$;

CREATE TRIGGER holds_inserted AFTER INSERT ON holds
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION holds_count_inserted();
CREATE TRIGGER holds_updated AFTER UPDATE ON holds
  REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
  FOR EACH STATEMENT EXECUTE FUNCTION holds_count_updated();
-- Holds are history: they change status, they are never deleted.
CREATE FUNCTION holds_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'holds are never deleted; change their status instead';
END $$;
CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds FOR EACH ROW EXECUTE FUNCTION holds_refuse_delete();
-- quantity and ticket_type_id never change after insert: only status and expires_at do.
CREATE FUNCTION holds_immutable_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.quantity <> OLD.quantity OR NEW.ticket_type_id <> OLD.ticket_type_id OR NEW.checkout_id <> OLD.checkout_id THEN
    RAISE EXCEPTION 'a hold''s checkout, ticket type and quantity never change';
  END IF;
  IF OLD.status <> 'held' AND NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'a hold that is % cannot become %', OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER holds_transitions BEFORE UPDATE ON holds FOR EACH ROW EXECUTE FUNCTION holds_immutable_columns();
