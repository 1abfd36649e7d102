-- Pricing configuration (issue 4): how organizers price an event — tax mode and rate overrides,
-- the service fee, price tiers per ticket type and promo codes. Written only by the event's actor
-- (fenced by the event's shard). The rules themselves live in actors/pricing/ (validate_tiers,
-- validate_promo_code, validate_fee_rule); the CHECKs below repeat the hard bounds so that a bug
-- upstream cannot store what the API would have refused. Rates are basis points (19 % = 1900),
-- amounts are minor units of the event's currency, 1e15 is pricing::amount_minor_max.

-- Tax: prices include tax (inclusive, the European habit) or tax is added on top (exclusive).
-- tax_rate_bp NULL means "the shipped table's admission rate for tax_country" (falling back to its
-- standard rate); a value is the organizer's override for the whole event.
-- Fee per ticket: fee_fixed_minor + round(price * fee_percent_bp / 10000), at most fee_cap_minor
-- (NULL: no cap); added on top for the buyer or absorbed by the organizer.
ALTER TABLE events
  ADD COLUMN tax_mode        text    NOT NULL DEFAULT 'inclusive' CHECK (tax_mode IN ('inclusive', 'exclusive')),
  ADD COLUMN tax_rate_bp     integer CHECK (tax_rate_bp BETWEEN 0 AND 10000),
  ADD COLUMN fee_fixed_minor bigint  NOT NULL DEFAULT 0 CHECK (fee_fixed_minor BETWEEN 0 AND 1000000000000000),
  ADD COLUMN fee_percent_bp  integer NOT NULL DEFAULT 0 CHECK (fee_percent_bp BETWEEN 0 AND 10000),
  ADD COLUMN fee_cap_minor   bigint  CHECK (fee_cap_minor BETWEEN 0 AND 1000000000000000),
  ADD COLUMN fee_mode        text    NOT NULL DEFAULT 'added' CHECK (fee_mode IN ('added', 'absorbed'));

-- A ticket type's own rate wins over the event's override and the table.
ALTER TABLE ticket_types
  ADD COLUMN tax_rate_bp integer CHECK (tax_rate_bp BETWEEN 0 AND 10000);

-- The tiers of a ticket type, tried in `position` order at hold time (the earliest applicable
-- tier wins; no applicable tier: ticket_types.price_minor). A window is [starts_at, ends_at);
-- quantity is "the first N tickets at this tier".
--
-- A tier is identified by its name within its ticket type (the primary key), not by its position:
-- the organizer replaces the whole list, and a tier that keeps its name keeps its `taken` counter
-- (so seats already held or sold at "Early bird" still count when the list is edited or
-- reordered); a renamed tier starts again at zero. Positions are unique too, but checked at commit
-- (DEFERRABLE) so that a replacement can reorder tiers in place. A tier left out of a new list is
-- deleted when nothing is taken at it, and otherwise retired (position NULL, not offered any more)
-- so that the holds still counted in `taken` find their row when they expire or are released, and
-- a tier of the same name added back later carries on with their count.
--
-- `taken` is the tier's live holds plus sold tickets. It is maintained by the ticket type's quota
-- at hold time (issue 4, part B), never by the organizer's writes; the CHECK is the backstop that
-- no more than `quantity` tickets ever get the tier, whatever an actor believed.
CREATE TABLE price_tiers (
  ticket_type_id text        NOT NULL REFERENCES ticket_types (id),
  name           text        NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 100),
  position       integer     CHECK (position >= 0),  -- NULL: retired
  price_minor    bigint      NOT NULL CHECK (price_minor BETWEEN 0 AND 1000000000000000),
  starts_at      timestamptz,
  ends_at        timestamptz,
  quantity       integer     CHECK (quantity > 0),
  taken          integer     NOT NULL DEFAULT 0 CHECK (taken >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ticket_type_id, name),
  CONSTRAINT price_tiers_position UNIQUE (ticket_type_id, position) DEFERRABLE INITIALLY DEFERRED,
  CHECK (starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at),
  CONSTRAINT tier_within_quantity CHECK (quantity IS NULL OR taken <= quantity)
);

-- Promo codes of an event. `code` is stored normalised (trimmed, upper-case), so the plain UNIQUE
-- constraint is the case-insensitive one. Codes are never deleted (holds and sales refer to them);
-- `active = false` retires one.
--
-- The discount is typed by kind instead of one overloaded value column:
--   percent_off: percent_off_bp (1..10000), no amount;
--   amount_off:  amount_minor > 0 off each ticket;  fixed_price: each ticket costs amount_minor;
--   access:      no discount and no budget (it unlocks hidden ticket types in its scope).
-- `currency` is the event's, the currency of amount_minor, budget_minor and discount_spent_minor.
-- ticket_type_ids is the scope: an empty array is every ticket type of the event.
--
-- `uses` (tickets holding or bought with the code; live holds count, expired ones give theirs
-- back) and `discount_spent_minor` are maintained at hold time (issue 4, part B); the CHECKs make
-- the database refuse any transaction that would use a code beyond its limits.
CREATE TABLE promo_codes (
  id                   text        PRIMARY KEY CHECK (id ~ '^pc_[a-z2-7]{20}$'),
  event_id             text        NOT NULL REFERENCES events (id),
  code                 text        NOT NULL CHECK (code ~ '^[A-Z0-9_-]{3,40}$'),
  kind                 text        NOT NULL CHECK (kind IN ('percent_off', 'amount_off', 'fixed_price', 'access')),
  percent_off_bp       integer     CHECK (percent_off_bp BETWEEN 1 AND 10000),
  amount_minor         bigint      CHECK (amount_minor BETWEEN 0 AND 1000000000000000),
  currency             char(3)     NOT NULL,
  ticket_type_ids      text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(ticket_type_ids) <= 100),
  valid_from           timestamptz,
  valid_until          timestamptz,
  max_uses             integer     CHECK (max_uses > 0),
  max_uses_per_buyer   integer     CHECK (max_uses_per_buyer > 0),
  budget_minor         bigint      CHECK (budget_minor BETWEEN 1 AND 1000000000000000),
  active               boolean     NOT NULL DEFAULT true,
  uses                 integer     NOT NULL DEFAULT 0 CHECK (uses >= 0),
  discount_spent_minor bigint      NOT NULL DEFAULT 0 CHECK (discount_spent_minor >= 0),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, code),
  CHECK ((kind = 'percent_off') = (percent_off_bp IS NOT NULL)),
  CHECK ((kind IN ('amount_off', 'fixed_price')) = (amount_minor IS NOT NULL)),
  CHECK (kind <> 'amount_off' OR amount_minor > 0),
  CHECK (kind <> 'access' OR budget_minor IS NULL),
  CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
  CONSTRAINT promo_within_max_uses CHECK (max_uses IS NULL OR uses <= max_uses),
  CONSTRAINT promo_within_budget CHECK (budget_minor IS NULL OR discount_spent_minor <= budget_minor)
);
