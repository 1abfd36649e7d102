-- Ticket signing seeds may be stored wrapped under a key-encryption key from configuration
-- (payments.ticket_key_wrapping_key; actors/payments/key_wrapping.hpp): `wrapped_by` names that
-- key ("kek_" and 16 hex digits), and `private_key` then holds nonce, ciphertext and tag (72
-- bytes). NULL keeps the raw 32-byte seed of a node configured without a wrapping key; such a row
-- is wrapped the first time a node with a wrapping key reads it.
ALTER TABLE event_ticket_keys
  ADD COLUMN wrapped_by text CHECK (wrapped_by ~ '^kek_[0-9a-f]{16}$'),
  DROP CONSTRAINT event_ticket_keys_private_key_check,
  ADD CONSTRAINT event_ticket_keys_private_key_check CHECK (
    (wrapped_by IS NULL AND length(private_key) = 32) OR (wrapped_by IS NOT NULL AND length(private_key) = 72));
