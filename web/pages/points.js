// points.html: the balance, the history (newest first, 더 보기 for older pages) and
// refunds of purchases with points left.
"use strict";
(() => {
  const PAGE_SIZE = 20;
  const POLL_EVERY_MS = 1000;
  const POLL_LIMIT = 60;
  const SETTLED_REFUND = ["DONE", "REFUSED", "NEEDS_ATTENTION"];
  const KINDS = {
    PURCHASE: "충전",
    REFUND: "환불",
    REFUND_REVERSED: "환불 취소 (포인트 복구)",
    CLAWBACK: "회수 (결제 취소)",
    DEPOSIT_REVERSED: "입금 취소",
  };
  const $ = (id) => document.getElementById(id);
  const rows = $("history-rows");
  const more = $("history-more");
  const refundStatus = $("refund-status");
  const errorBox = $("points-error");

  /** Every entry loaded so far, newest first, and the cursor of the next page. */
  let entries = [];
  let nextCursor = null;

  async function loadBalance() {
    const me = (await App.api("/api/members/me", { auth: true })).result;
    App.session.saveName(me.name);
    $("balance").textContent = App.formatNumber(me.points);
    $("open-lots").textContent = `남은 포인트가 있는 충전 ${App.formatNumber(me.openLots)}건`;
  }

  async function loadHistory({ fromStart }) {
    const query = new URLSearchParams({ size: String(PAGE_SIZE) });
    if (!fromStart && nextCursor) query.set("cursor", nextCursor);
    const page = (await App.api(`/api/members/me/points?${query}`, { auth: true })).result;
    entries = fromStart ? page.items : entries.concat(page.items);
    nextCursor = page.nextCursor;
    renderHistory();
  }

  /** Points left per order, from the entries loaded: an order's later entries (refunds,
   *  clawbacks) are newer than its purchase, so they are loaded whenever it is. The
   *  server decides; this only says where a 환불 button makes sense. */
  function pointsLeftByOrder() {
    const left = new Map();
    for (const entry of entries) left.set(entry.orderId, (left.get(entry.orderId) || 0) + entry.amount);
    return left;
  }

  function rowHtml(entry, refundable) {
    const sign = entry.amount > 0 ? "+" : "";
    const button = refundable > 0
      ? `<button type="button" class="refund-button secondary" data-refund-order="${App.escape(entry.orderId)}">환불</button>
         <span class="hint">최대 ${App.escape(App.formatNumber(refundable))}P</span>` : "";
    return `<tr class="history-row" data-entry-id="${App.escape(entry.entryId)}"
        data-kind="${App.escape(entry.kind)}" data-order-id="${App.escape(entry.orderId)}">
      <td>${App.escape(App.formatTime(entry.at))}</td>
      <td>${App.escape(KINDS[entry.kind] || entry.kind)}<div class="order-id">${App.escape(entry.orderId)}</div></td>
      <td class="amount ${entry.amount < 0 ? "minus" : "plus"}">${sign}${App.escape(App.formatNumber(entry.amount))}</td>
      <td class="amount">${App.escape(App.formatNumber(entry.balanceAfter))}</td>
      <td>${button}</td></tr>`;
  }

  function renderHistory() {
    const left = pointsLeftByOrder();
    const offered = new Set(); // one button per order, on its newest purchase row
    rows.innerHTML = entries.map((entry) => {
      const first = entry.kind === "PURCHASE" && !offered.has(entry.orderId);
      if (first) offered.add(entry.orderId);
      return rowHtml(entry, first ? left.get(entry.orderId) : 0);
    }).join("");
    $("history-empty").hidden = entries.length > 0;
    more.hidden = !nextCursor;
  }

  async function refresh() {
    await Promise.all([loadBalance(), loadHistory({ fromStart: true })]);
  }

  function setStatus(state, html) {
    refundStatus.innerHTML = html;
    refundStatus.dataset.state = state;
  }

  /** The refund request from #refund-options. */
  function refundBody() {
    const body = { reason: $("refund-reason").value.trim() };
    const amount = $("refund-amount").value.trim();
    if (amount) body.amount = Number(amount);
    const account = {
      bank: $("refund-bank").value,
      accountNumber: $("refund-account-number").value.trim(),
      holderName: $("refund-holder-name").value.trim(),
    };
    if (account.bank || account.accountNumber || account.holderName) body.refundAccount = account;
    return body;
  }

  /** After a 202 REFUND_PENDING: the order's refunds until this one settles (or we stop
   *  asking; recovery settles it anyway). */
  async function followRefund(orderId, refundId) {
    let refund = null;
    for (let i = 0; i < POLL_LIMIT; i += 1) {
      await App.sleep(POLL_EVERY_MS);
      let payment;
      try {
        payment = (await App.api(`/api/payments/toss/${encodeURIComponent(orderId)}`, { auth: true })).result;
      } catch (error) {
        if (App.isLoginProblem(error)) throw error;
        continue; // asking again changes nothing
      }
      refund = (payment.refunds || []).find((r) => r.refundId === refundId) || refund;
      if (refund && SETTLED_REFUND.includes(refund.status)) return refund;
    }
    return refund;
  }

  function showRefund(refund) {
    const points = App.escape(App.formatNumber(refund.points));
    if (refund.status === "DONE") {
      return setStatus("done", `<div class="panel"><strong>환불 완료</strong>
        <p>${points} 포인트를 환불했습니다. 돌려받는 금액 ${App.escape(App.formatNumber(refund.refundWon))}원
        (수수료 ${App.escape(App.formatNumber(refund.fee))}원).</p></div>`);
    }
    if (refund.status === "REFUSED") {
      return setStatus("refused", `<div class="error"><strong>환불이 거절되었습니다</strong>
        <p>${App.escape(refund.failureMessage || "")} <code>${App.escape(refund.failureCode || "")}</code>
        포인트는 다시 돌려드렸습니다.</p></div>`);
    }
    if (refund.status === "NEEDS_ATTENTION") {
      return setStatus("failed", `<div class="error"><strong>환불을 확인하고 있습니다</strong>
        <p>담당자가 확인한 뒤 처리합니다. ${points} 포인트는 그동안 보류됩니다.</p></div>`);
    }
    return setStatus("pending", `<div class="panel"><strong>환불 처리 중</strong>
      <p>토스페이먼츠의 응답을 기다리고 있습니다. ${points} 포인트는 보류되며, 처리되면 내역에 반영됩니다.</p></div>`);
  }

  function showRefundError(error) {
    const refund = error.result && error.result.refundId ? error.result : null;
    const toss = refund && refund.failureCode
      ? `<p>토스페이먼츠: ${App.escape(refund.failureMessage || "")} <code>${App.escape(refund.failureCode)}</code></p>` : "";
    if (error.code === "REFUND_ACCOUNT_REQUIRED") {
      $("refund-options").open = true;
      $("refund-bank").focus();
    }
    setStatus("failed", App.errorHtml(error, "환불하지 못했습니다") + toss);
  }

  async function refund(orderId) {
    for (const button of rows.querySelectorAll(".refund-button")) button.disabled = true;
    setStatus("working", '<p class="notice">환불을 요청하는 중…</p>');
    try {
      const answer = await App.api(`/api/payments/toss/${encodeURIComponent(orderId)}/refund`, {
        method: "POST", auth: true, body: refundBody(), idempotencyKey: App.randomId(),
      });
      let result = answer.result;
      if (answer.code === "REFUND_PENDING") {
        showRefund(result);
        result = await followRefund(orderId, result.refundId);
      }
      showRefund(result);
    } catch (error) {
      if (!(error instanceof App.ApiError)) throw error;
      showRefundError(error);
    }
    // Refused or not, the balance and the history changed (points taken, or given back).
    await refresh();
  }

  rows.addEventListener("click", (event) => {
    const button = event.target.closest(".refund-button");
    if (button) App.run(errorBox, () => refund(button.dataset.refundOrder));
  });
  more.addEventListener("click", () => App.run(errorBox, () => loadHistory({ fromStart: false })));

  $("refund-bank").innerHTML = App.optionsHtml(App.BANKS, "선택 안 함");
  if (App.session.token()) {
    $("points-page").hidden = false;
    App.run(errorBox, refresh);
  } else {
    $("login-needed").hidden = false;
    $("login-needed-link").href = App.loginUrl();
  }
})();
