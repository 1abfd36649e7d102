-- Payments, orders and tickets (issue 5): a held checkout is paid through a provider, its holds
-- become sold, and tickets with signed QR payloads are issued exactly once.
--
-- The promises this schema backs up, whatever the actors believe:
--   * at most one live payment per checkout, and at most one captured attempt per payment
--     (a second capture would be a double charge);
--   * provider references are unique per provider, so a webhook or a retry maps to one attempt;
--   * tickets are keyed (checkout, ticket type, seq): issuing twice inserts nothing new;
--   * a ticket is checked in at most once (checkins' primary key);
--   * refunds never exceed what was captured.

-- A hold can now be sold (paid), sold after it expired (a late payment found a free seat), and
-- refunded with its seat returned to the quota.
ALTER TABLE holds DROP CONSTRAINT holds_status_check;
ALTER TABLE holds ADD CONSTRAINT holds_status_check
  CHECK (status IN ('held', 'released', 'expired', 'sold', 'refunded'));

CREATE OR REPLACE FUNCTION holds_immutable_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.quantity <> OLD.quantity OR NEW.ticket_type_id <> OLD.ticket_type_id OR NEW.checkout_id <> OLD.checkout_id
     OR NEW.unit_price_minor <> OLD.unit_price_minor OR NEW.tier_name IS DISTINCT FROM OLD.tier_name THEN
    RAISE EXCEPTION 'a hold''s checkout, ticket type, quantity and price never change';
  END IF;
  IF NEW.status <> OLD.status AND NOT (
       OLD.status = 'held'
       OR (OLD.status = 'expired' AND NEW.status = 'sold')
       OR (OLD.status = 'sold' AND NEW.status = 'refunded')) THEN
    RAISE EXCEPTION 'a hold that is % cannot become %', OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;

-- The order's state once a payment started; NULL while the checkout is only held.
ALTER TABLE checkouts
  ADD COLUMN order_status text CHECK (order_status IN
    ('payment_pending', 'paid', 'tickets_issued', 'refund_pending', 'refunded', 'partially_refunded')),
  ADD COLUMN order_updated_at timestamptz;
CREATE INDEX checkouts_order_open ON checkouts (order_status)
  WHERE order_status IN ('payment_pending', 'paid', 'refund_pending');

CREATE TABLE payments (
  id                 text        PRIMARY KEY,
  checkout_id        text        NOT NULL REFERENCES checkouts (id),
  event_id           text        NOT NULL REFERENCES events (id),
  workspace_id       text        NOT NULL REFERENCES workspaces (id),
  shard_id           integer     NOT NULL,
  method             text        NOT NULL,
  method_token       text        NOT NULL DEFAULT '',
  buyer_country      char(2)     NOT NULL,
  holder_name        text        NOT NULL,
  amount_minor       bigint      NOT NULL CHECK (amount_minor >= 0),
  currency           char(3)     NOT NULL,
  status             text        NOT NULL CHECK (status IN
    ('pending', 'requires_action', 'processing', 'unknown', 'succeeded', 'declined', 'failed', 'cancelled')),
  provider           text,
  provider_reference text,
  captured_minor     bigint      NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
  refunded_minor     bigint      NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
  decline_code       text,
  failure_message    text,
  action_url         text,
  idempotency_key    text,
  request_hash       bytea       NOT NULL,
  return_url         text        NOT NULL DEFAULT '',
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  -- captured_minor is what the provider reports it took, even if that differs from amount_minor:
  -- recorded, never hidden, and reported by reconciliation (amount_mismatch).
  CONSTRAINT payments_refund_within_capture CHECK (refunded_minor <= captured_minor)
);
-- One live payment per checkout: a declined or failed one may be followed by another.
CREATE UNIQUE INDEX payments_one_live_per_checkout ON payments (checkout_id)
  WHERE status NOT IN ('declined', 'failed', 'cancelled');
CREATE UNIQUE INDEX payments_idempotency ON payments (checkout_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX payments_unsettled ON payments (shard_id)
  WHERE status IN ('pending', 'requires_action', 'processing', 'unknown');
CREATE INDEX payments_event ON payments (event_id);
CREATE INDEX payments_checkout ON payments (checkout_id, created_at);

-- One row per provider tried. The idempotency key sent to the provider is derived from the
-- checkout and the attempt number, and stored before the call is made.
CREATE TABLE payment_attempts (
  payment_id         text        NOT NULL REFERENCES payments (id),
  attempt            integer     NOT NULL CHECK (attempt >= 1),
  checkout_id        text        NOT NULL REFERENCES checkouts (id),
  provider           text        NOT NULL,
  idempotency_key    text        NOT NULL UNIQUE,
  provider_reference text,
  status             text        NOT NULL CHECK (status IN
    ('creating', 'created', 'confirming', 'requires_action', 'processing', 'unknown', 'succeeded', 'declined',
     'failed_before_acceptance', 'rejected', 'cancelled')),
  http_status        integer,
  detail             text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (payment_id, attempt)
);
CREATE UNIQUE INDEX payment_attempts_reference ON payment_attempts (provider, provider_reference)
  WHERE provider_reference IS NOT NULL;
CREATE INDEX payment_attempts_checkout ON payment_attempts (checkout_id);
-- At most one attempt of a payment captures money.
CREATE UNIQUE INDEX payment_attempts_one_capture ON payment_attempts (payment_id) WHERE status = 'succeeded';

-- Verified webhooks, deduplicated by the provider's event id.
CREATE TABLE webhook_events (
  provider    text        NOT NULL,
  event_id    text        NOT NULL,
  type        text        NOT NULL,
  reference   text        NOT NULL DEFAULT '',
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, event_id)
);

-- The per-event Ed25519 key that signs ticket payloads. The private key is stored as the raw
-- 32-byte seed; a deployment with a KMS would keep it wrapped (see actors/payments/README.md).
CREATE TABLE event_ticket_keys (
  event_id    text        PRIMARY KEY REFERENCES events (id),
  key_id      text        NOT NULL UNIQUE,
  private_key bytea       NOT NULL CHECK (length(private_key) = 32),
  public_key  bytea       NOT NULL CHECK (length(public_key) = 32),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets (
  id               text        PRIMARY KEY,
  checkout_id      text        NOT NULL REFERENCES checkouts (id),
  payment_id       text        NOT NULL REFERENCES payments (id),
  event_id         text        NOT NULL REFERENCES events (id),
  ticket_type_id   text        NOT NULL REFERENCES ticket_types (id),
  seq              integer     NOT NULL CHECK (seq >= 1),
  holder_name      text        NOT NULL,
  unit_price_minor bigint      NOT NULL,
  currency         char(3)     NOT NULL,
  valid_from       timestamptz NOT NULL,
  valid_until      timestamptz NOT NULL,
  payload          text        NOT NULL,
  status           text        NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
  revoked_at       timestamptz,
  revoked_reason   text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (checkout_id, ticket_type_id, seq),
  CHECK (valid_until > valid_from)
);
CREATE INDEX tickets_event ON tickets (event_id, ticket_type_id);
CREATE INDEX tickets_revoked ON tickets (event_id) WHERE status = 'revoked';

-- A ticket enters once: the primary key is the promise.
CREATE TABLE checkins (
  ticket_id     text        PRIMARY KEY REFERENCES tickets (id),
  event_id      text        NOT NULL REFERENCES events (id),
  device        text        NOT NULL,
  nonce         text        NOT NULL,
  checked_in_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkins_event ON checkins (event_id);

-- Every scan's answer by the organizer's (device, nonce): a retried scan gets the same answer, no second entry.
CREATE TABLE checkin_scans (
  workspace_id text      NOT NULL REFERENCES workspaces (id),
  device     text        NOT NULL,
  nonce      text        NOT NULL,
  event_id   text        NOT NULL REFERENCES events (id),
  ticket_id  text,
  payload_sha256 bytea   NOT NULL,  -- a nonce reused for another code is refused, not replayed
  answer     jsonb       NOT NULL,
  scanned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, device, nonce)
);

CREATE TABLE refunds (
  id                 text        PRIMARY KEY,
  payment_id         text        NOT NULL REFERENCES payments (id),
  amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
  currency           char(3)     NOT NULL,
  reason             text        NOT NULL,
  ticket_type_ids    text[]      NOT NULL DEFAULT '{}',
  release_seats      boolean     NOT NULL DEFAULT false,
  -- Set once the released lines' seats are back with their quotas (a crash in between is
  -- finished after the restart).
  seats_released     boolean     NOT NULL DEFAULT false,
  status             text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  provider_reference text,
  idempotency_key    text        NOT NULL UNIQUE,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX tickets_checkout ON tickets (checkout_id);

-- A workspace's provider order per method / currency / country ('*' matches any).
CREATE TABLE payment_routes (
  workspace_id text   NOT NULL REFERENCES workspaces (id),
  method       text   NOT NULL,
  currency     text   NOT NULL CHECK (currency = '*' OR currency ~ '^[A-Z]{3}$'),
  country      text   NOT NULL CHECK (country = '*' OR country ~ '^[A-Z]{2}$'),
  providers    text[] NOT NULL CHECK (cardinality(providers) BETWEEN 1 AND 8),
  PRIMARY KEY (workspace_id, method, currency, country)
);

-- What the reconciliation job found; a run replaces its open findings.
CREATE TABLE reconciliation_findings (
  id          bigserial   PRIMARY KEY,
  run_id      text        NOT NULL,
  kind        text        NOT NULL,
  payment_id  text,
  checkout_id text,
  detail      text        NOT NULL,
  found_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_findings_run ON reconciliation_findings (run_id);
