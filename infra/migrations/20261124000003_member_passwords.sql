-- Argon2id PHC string of the member's password (members from before logins existed have
-- none and must reset it).
ALTER TABLE members ADD COLUMN password_hash VARCHAR(255) NULL AFTER email;
