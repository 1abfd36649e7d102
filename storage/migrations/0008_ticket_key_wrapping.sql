-- Ticket signing seeds may be stored wrapped under a key-encryption key from configuration
-- (payments.ticket_key_wrapping_key; actors/payments/key_wrapping.hpp): `wrapped_by` names that
-- key ("kek_" and 16 hex digits), and `private_key` then holds nonce, ciphertext and tag (72
-- bytes). NULL keeps the raw 32-byte seed of a deployment without a wrapping key; a node that
-- starts with one wraps every raw seed before it serves.
ALTER TABLE event_ticket_keys
  ADD COLUMN wrapped_by text CHECK (wrapped_by ~ '^kek_[0-9a-f]{16}$'),
  DROP CONSTRAINT event_ticket_keys_private_key_check,
  ADD CONSTRAINT event_ticket_keys_private_key_check CHECK (
    (wrapped_by IS NULL AND length(private_key) = 32) OR (wrapped_by IS NOT NULL AND length(private_key) = 72));

-- The deployment's one wrapping key, recorded by the first node that starts with one: a node with
-- another key, or with none, refuses to start (it could open no wrapped seed, and seeds it wrapped
-- or stored raw would split the deployment's keys).
CREATE TABLE ticket_key_wrapping (
  singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  wrapped_by  text        NOT NULL CHECK (wrapped_by ~ '^kek_[0-9a-f]{16}$'),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
