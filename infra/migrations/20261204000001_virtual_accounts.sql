-- Virtual accounts (가상계좌): confirm issues an account and a secret; the money comes
-- later (docs/toss.md §7b). The secret is what a DEPOSIT_CALLBACK must carry, the
-- account what the member pays into (shown by confirm and the status endpoint), the due
-- date when recovery calls an unpaid account expired.
ALTER TABLE payments
    ADD COLUMN deposit_secret  VARCHAR(50)  NULL AFTER method,
    ADD COLUMN virtual_account VARCHAR(400) NULL AFTER deposit_secret,
    ADD COLUMN deposit_due_at  DATETIME(6)  NULL AFTER virtual_account;

-- A refund of a deposited virtual account is paid to an account the member names (the
-- cancel API's refundReceiveAccount); kept with the refund so a resend carries it too.
ALTER TABLE refunds
    ADD COLUMN refund_account VARCHAR(300) NULL;
