-- What a hold was priced at (issue 4): every input of its quote, written with the hold and never
-- changed afterwards, so the quote is locked when the hold is taken — the organizer may change
-- prices, fees or rates while it lives, the buyer keeps the price that was true.
--
-- The quote itself is computed from these columns by actors/pricing (make_quote), the same code
-- whether the hold was just taken or read back after a restart.

ALTER TABLE checkouts
  ADD COLUMN tax_mode       text    NOT NULL DEFAULT 'inclusive' CHECK (tax_mode IN ('inclusive', 'exclusive')),
  ADD COLUMN reverse_charge boolean NOT NULL DEFAULT false,
  ADD COLUMN buyer_vat_id   text    CHECK (octet_length(buyer_vat_id) <= 20),
  ADD CONSTRAINT checkouts_reverse_charge_names_vat_id CHECK (NOT reverse_charge OR buyer_vat_id IS NOT NULL);

ALTER TABLE holds
  -- The tier the quota chose (NULL: the ticket type's fixed price); unit_price_minor is its price.
  ADD COLUMN tier_name                 text,
  -- The promo code the hold uses and what it took off each ticket.
  ADD COLUMN promo_code_id             text REFERENCES promo_codes (id),
  ADD COLUMN promo_code                text,
  ADD COLUMN discount_per_ticket_minor bigint  NOT NULL DEFAULT 0,
  -- The fee rule and tax rate of the line when the hold was taken.
  ADD COLUMN fee_fixed_minor           bigint  NOT NULL DEFAULT 0 CHECK (fee_fixed_minor >= 0),
  ADD COLUMN fee_percent_bp            integer NOT NULL DEFAULT 0 CHECK (fee_percent_bp BETWEEN 0 AND 10000),
  ADD COLUMN fee_cap_minor             bigint  CHECK (fee_cap_minor >= 0),
  ADD COLUMN fee_absorbed              boolean NOT NULL DEFAULT false,
  ADD COLUMN tax_rate_bp               integer NOT NULL DEFAULT 0 CHECK (tax_rate_bp BETWEEN 0 AND 10000),
  -- A discount never makes a price negative.
  ADD CONSTRAINT holds_discount_within_price
    CHECK (discount_per_ticket_minor BETWEEN 0 AND unit_price_minor),
  ADD CONSTRAINT holds_promo_code_named CHECK ((promo_code_id IS NULL) = (promo_code IS NULL));

-- The pricing columns are part of the hold's history, like its quantity.
CREATE OR REPLACE FUNCTION holds_immutable_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.quantity <> OLD.quantity OR NEW.ticket_type_id <> OLD.ticket_type_id OR NEW.checkout_id <> OLD.checkout_id
     OR NEW.unit_price_minor <> OLD.unit_price_minor OR NEW.tier_name IS DISTINCT FROM OLD.tier_name THEN
    RAISE EXCEPTION 'a hold''s checkout, ticket type, quantity and price never change';
  END IF;
  IF OLD.status <> 'held' AND NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'a hold that is % cannot become %', OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;

-- price_tiers.taken and promo_codes.uses / discount_spent_minor follow the holds, per statement,
-- exactly like ticket_types.held and sold: a live hold ('held' or 'sold') counts, an expired or
-- released one has given its tier seat and its code use back. With the CHECKs of 0004
-- (taken <= quantity, uses <= max_uses, discount_spent_minor <= budget_minor) the database itself
-- refuses a transaction that would give a tier or a code more than the organizer allowed.
CREATE OR REPLACE FUNCTION holds_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  tiers_named integer;
  tiers_counted integer;
BEGIN
  UPDATE ticket_types t
     SET held = t.held + d.held, sold = t.sold + d.sold, updated_at = now()
    FROM (SELECT ticket_type_id,
                 coalesce(sum(quantity) FILTER (WHERE status = 'held'), 0) AS held,
                 coalesce(sum(quantity) FILTER (WHERE status = 'sold'), 0) AS sold
            FROM inserted GROUP BY ticket_type_id) d
   WHERE t.id = d.ticket_type_id;
  IF EXISTS (SELECT 1 FROM inserted WHERE tier_name IS NOT NULL AND status IN ('held', 'sold')) THEN
    UPDATE price_tiers p
       SET taken = p.taken + d.taken
      FROM (SELECT ticket_type_id, tier_name, sum(quantity) AS taken FROM inserted
             WHERE tier_name IS NOT NULL AND status IN ('held', 'sold') GROUP BY ticket_type_id, tier_name) d
     WHERE p.ticket_type_id = d.ticket_type_id AND p.name = d.tier_name;
    -- A hold at a tier that no longer exists would be counted nowhere.
    GET DIAGNOSTICS tiers_counted = ROW_COUNT;
    SELECT count(DISTINCT (ticket_type_id, tier_name)) INTO tiers_named FROM inserted
     WHERE tier_name IS NOT NULL AND status IN ('held', 'sold');
    IF tiers_counted <> tiers_named THEN
      RAISE EXCEPTION 'a hold names a price tier that does not exist' USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM inserted WHERE promo_code_id IS NOT NULL AND status IN ('held', 'sold')) THEN
    -- Quotas of different ticket types share codes: lock them in id order, so two batches never
    -- wait for each other's codes the other way round (a deadlock would fail one of them).
    PERFORM 1 FROM promo_codes WHERE id IN (SELECT promo_code_id FROM inserted) ORDER BY id FOR NO KEY UPDATE;
    UPDATE promo_codes c
       SET uses = c.uses + d.uses, discount_spent_minor = c.discount_spent_minor + d.discount
      FROM (SELECT promo_code_id, sum(quantity) AS uses, sum(quantity * discount_per_ticket_minor) AS discount
              FROM inserted WHERE promo_code_id IS NOT NULL AND status IN ('held', 'sold') GROUP BY promo_code_id) d
     WHERE c.id = d.promo_code_id;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION holds_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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
  -- A hold stops counting against its tier and its code when it stops being live, and a code
  -- applied to (or removed from) a live hold moves its use.
  IF EXISTS (SELECT 1 FROM updated_old WHERE tier_name IS NOT NULL OR promo_code_id IS NOT NULL)
     OR EXISTS (SELECT 1 FROM updated_new WHERE promo_code_id IS NOT NULL) THEN
    UPDATE price_tiers p
       SET taken = p.taken + d.taken
      FROM (SELECT ticket_type_id, tier_name, sum(taken) AS taken FROM (
              SELECT ticket_type_id, tier_name, quantity AS taken FROM updated_new
               WHERE tier_name IS NOT NULL AND status IN ('held', 'sold')
              UNION ALL
              SELECT ticket_type_id, tier_name, -quantity FROM updated_old
               WHERE tier_name IS NOT NULL AND status IN ('held', 'sold')) changes
             GROUP BY ticket_type_id, tier_name) d
     WHERE p.ticket_type_id = d.ticket_type_id AND p.name = d.tier_name AND d.taken <> 0;
    PERFORM 1 FROM promo_codes
      WHERE id IN (SELECT promo_code_id FROM updated_new UNION SELECT promo_code_id FROM updated_old)
      ORDER BY id FOR NO KEY UPDATE;
    UPDATE promo_codes c
       SET uses = c.uses + d.uses, discount_spent_minor = c.discount_spent_minor + d.discount
      FROM (SELECT promo_code_id, sum(uses) AS uses, sum(discount) AS discount FROM (
              SELECT promo_code_id, quantity AS uses, quantity * discount_per_ticket_minor AS discount
                FROM updated_new WHERE promo_code_id IS NOT NULL AND status IN ('held', 'sold')
              UNION ALL
              SELECT promo_code_id, -quantity, -quantity * discount_per_ticket_minor
                FROM updated_old WHERE promo_code_id IS NOT NULL AND status IN ('held', 'sold')) changes
             GROUP BY promo_code_id) d
     WHERE c.id = d.promo_code_id AND (d.uses <> 0 OR d.discount <> 0);
  END IF;
  RETURN NULL;
END $$;
