// success.html: Toss sent the member back after authenticating the payment; only our
// confirm charges points, with the amount the server stored at checkout (an amount edited
// in this URL is refused: 400 AMOUNT_MISMATCH, nothing charged).
"use strict";
(() => {
  const POLL_EVERY_MS = 1000;
  // After this, polling goes on, and the page says the outcome will show in the history.
  const PATIENCE_MS = 2 * 60 * 1000;
  const STILL_OPEN = ["READY", "IN_PROGRESS", "UNKNOWN"];
  const result = document.getElementById("result");

  function show(state, html) {
    result.innerHTML = html; // content first: a reader of data-state finds it filled
    result.dataset.state = state;
  }

  function orderLine(orderId) {
    return `<p class="muted">주문번호 <span id="result-order-id">${App.escape(orderId)}</span></p>`;
  }

  function showDone(payment) {
    show("done", `<p class="big">충전 완료</p>
      <p><span id="charged-points">${App.escape(App.formatNumber(payment.pointsCharged))}</span> 포인트가 충전되었습니다.</p>
      ${orderLine(payment.orderId)}`);
  }

  function showPending(orderId, late) {
    const wait = late
      ? "확인이 늦어지고 있습니다. 이 페이지를 닫아도 결제 결과는 포인트 내역에 반영됩니다."
      : "결제 결과를 확인 중입니다. 잠시만 기다려 주세요.";
    show("pending", `<p class="big">확인 중</p><p>${App.escape(wait)}</p>${orderLine(orderId)}`);
  }

  function showDeposit(payment) {
    const account = payment.virtualAccount || {};
    const bank = App.BANKS[account.bankCode] || "은행";
    show("awaiting-deposit", `<p class="big">입금 대기</p>
      <p>아래 가상계좌로 입금하시면 포인트가 충전됩니다. 아직 충전된 포인트는 없습니다.</p>
      <dl class="facts">
        <dt>은행</dt><dd id="va-bank">${App.escape(bank)} (${App.escape(account.bankCode)})</dd>
        <dt>계좌번호</dt><dd id="va-account-number">${App.escape(account.accountNumber)}</dd>
        <dt>예금주</dt><dd id="va-holder">${App.escape(account.customerName)}</dd>
        <dt>입금 금액</dt><dd>${App.escape(App.formatNumber(payment.amount))}원</dd>
        <dt>입금 기한</dt><dd id="va-due-date">${App.escape(App.formatTime(account.dueDate))}</dd>
      </dl>${orderLine(payment.orderId)}`);
  }

  const FINAL_FAILURES = {
    FAILED: "결제가 승인되지 않았습니다. 포인트는 충전되지 않았고 결제된 금액도 없습니다.",
    EXPIRED: "결제 기한이 지났습니다. 포인트는 충전되지 않았습니다.",
    NEEDS_ATTENTION: "결제 확인에 문제가 있어 담당자가 확인합니다. 포인트는 아직 충전되지 않았습니다.",
  };

  /** A refusal of the API (or a payment that settled as not paid) with its code. */
  function showFailed(error, orderId) {
    const payment = error.result && typeof error.result === "object" ? error.result : null;
    const toss = payment && payment.failureCode
      ? `<p>토스페이먼츠: ${App.escape(payment.failureMessage || "")} <code>${App.escape(payment.failureCode)}</code></p>` : "";
    const nothing = error.code === "AMOUNT_MISMATCH"
      ? "<p>결제 금액이 주문과 달라 결제를 진행하지 않았습니다. 결제된 금액은 없습니다.</p>" : "";
    show("failed", App.errorHtml(error, "결제를 완료하지 못했습니다") + nothing + toss + orderLine(orderId || ""));
  }

  function showSettled(payment) {
    if (payment.status === "DONE") return showDone(payment);
    if (payment.status === "WAITING_FOR_DEPOSIT") return showDeposit(payment);
    const message = FINAL_FAILURES[payment.status] || `결제 상태: ${payment.status}`;
    showFailed(new App.ApiError(200, `PAYMENT_${payment.status}`, message, payment), payment.orderId);
  }

  /** After a 202: the payment's status every second until it leaves the open states. */
  async function pollUntilSettled(orderId) {
    const started = Date.now();
    for (;;) {
      await App.sleep(POLL_EVERY_MS);
      let payment;
      try {
        payment = (await App.api(`/api/payments/toss/${encodeURIComponent(orderId)}`, { auth: true })).result;
      } catch (error) {
        if (App.isLoginProblem(error) || (error.status >= 400 && error.status < 500)) throw error;
        continue; // the network or a 5xx: the payment is unchanged by asking again
      }
      if (!STILL_OPEN.includes(payment.status)) return showSettled(payment);
      showPending(orderId, Date.now() - started > PATIENCE_MS);
    }
  }

  /** The confirm's Idempotency-Key: the same for a reload of this very URL (the API then
   *  replays its stored answer), another for different values. */
  async function idempotencyKey(paymentKey, orderId, amount) {
    const text = `${paymentKey}|${orderId}|${amount}`;
    if (!crypto.subtle) return `confirm-${text}`.replace(/[^!-~]/g, "_").slice(0, 255);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    return `confirm-${hex}`;
  }

  async function confirm() {
    const query = new URLSearchParams(location.search);
    const paymentKey = query.get("paymentKey") || "";
    const orderId = query.get("orderId") || "";
    const amountText = query.get("amount") || "";
    if (!paymentKey || !orderId || !amountText) {
      throw new App.ApiError(400, "MISSING_PAYMENT_INFO", "주소에 결제 정보(paymentKey, orderId, amount)가 없습니다. 결제는 진행되지 않았습니다.");
    }
    // Sent as in the URL; the server compares it with the order (a non-number: 400).
    const amount = /^[0-9]{1,15}$/.test(amountText) ? Number(amountText) : amountText;
    const answer = await App.api("/api/payments/toss/confirm", {
      method: "POST",
      auth: true,
      body: { paymentKey, orderId, amount },
      idempotencyKey: await idempotencyKey(paymentKey, orderId, amount),
    });
    if (answer.code === "PAYMENT_AWAITING_DEPOSIT") return showDeposit(answer.result);
    if (answer.code === "PAYMENT_PENDING") {
      showPending(orderId, false);
      return pollUntilSettled(orderId);
    }
    return showSettled(answer.result);
  }

  const orderId = new URLSearchParams(location.search).get("orderId");
  confirm().catch((error) => {
    if (error instanceof App.ApiError) return showFailed(error, orderId);
    console.warn(error); // a bug of ours, for the developer
    const message = "결제 결과를 표시하지 못했습니다. 포인트 내역에서 확인해 주세요.";
    return showFailed(new App.ApiError(0, "CLIENT_ERROR", message), orderId);
  });
})();
