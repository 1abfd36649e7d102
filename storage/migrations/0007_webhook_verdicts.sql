-- What a provider's event said, kept with the event. Adyen states a payment's or a refund's
-- outcome only in its notifications (it has no endpoint to read a payment), and once the node
-- answered [accepted] it never sends that notification again: a node that died between that
-- answer and applying the verdict reads the verdict back from here when the checkout's payment
-- entity starts again.
ALTER TABLE webhook_events
  ADD COLUMN checkout_id        text,
  ADD COLUMN merchant_reference text NOT NULL DEFAULT '',
  ADD COLUMN success            boolean NOT NULL DEFAULT true;

CREATE INDEX webhook_events_checkout ON webhook_events (checkout_id) WHERE checkout_id IS NOT NULL;
