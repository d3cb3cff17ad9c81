// fail.html: what Toss said, from the URL; no API call (there is nothing to confirm).
"use strict";
(() => {
  const EXPLANATIONS = {
    PAY_PROCESS_CANCELED: "결제를 취소하셨습니다.",
    PAY_PROCESS_ABORTED: "결제가 중단되었습니다.",
    REJECT_CARD_COMPANY: "카드사에서 결제를 거절했습니다.",
  };
  const query = new URLSearchParams(location.search);
  const code = query.get("code") || "UNKNOWN";
  const message = query.get("message") || "결제가 진행되지 않았습니다.";
  const orderId = query.get("orderId") || "";
  const explanation = EXPLANATIONS[code] || "결제가 진행되지 않았습니다.";
  document.getElementById("fail-slot").innerHTML = `<div id="fail" class="panel error" role="alert">
    <p id="fail-explanation"><strong>${App.escape(explanation)}</strong>
      포인트는 충전되지 않았고 결제된 금액도 없습니다.</p>
    <dl class="facts">
      <dt>코드</dt><dd><code id="fail-code">${App.escape(code)}</code></dd>
      <dt>메시지</dt><dd id="fail-message">${App.escape(message)}</dd>
      <dt>주문번호</dt><dd id="fail-order-id">${App.escape(orderId)}</dd>
    </dl></div>`;
})();
