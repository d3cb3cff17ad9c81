// buy.html: checkout (our server fixes orderId and amount before Toss is involved, so the
// amount cannot be tampered with), then the Toss payment widget as Toss documents it
// (docs/toss.md §8).
"use strict";
(() => {
  const ORDER_NAME = "포인트 충전";
  const form = document.getElementById("checkout-form");
  const amountInput = document.getElementById("amount");
  const checkoutButton = document.getElementById("checkout");
  const section = document.getElementById("payment-section");
  const payButton = document.getElementById("pay");
  const status = document.getElementById("buy-status");
  const errorBox = document.getElementById("buy-error");

  /** Toss's customerKey: random and unguessable (not an e-mail or a member id), one per
   *  member, kept in this browser. */
  function customerKey() {
    const name = `tossCustomerKey:${App.session.memberId()}`;
    let key = localStorage.getItem(name);
    if (!key) {
      key = App.randomId();
      localStorage.setItem(name, key);
    }
    return key;
  }

  let sdkLoading = null;
  /** The SDK script of config.js (Toss's own, or the local sandbox's stand-in), once. */
  function loadTossSdk() {
    if (typeof window.TossPayments === "function") return Promise.resolve();
    sdkLoading ??= new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = App.config.tossSdkUrl;
      script.onload = () => resolve();
      script.onerror = () => {
        sdkLoading = null;
        reject(new App.ApiError(0, "TOSS_SDK_NOT_LOADED", "결제 모듈을 불러오지 못했습니다. 잠시 후 다시 시도해 주세요."));
      };
      document.head.appendChild(script);
    });
    return sdkLoading;
  }

  /** A Toss SDK error ({code, message}) as one of ours, to show like the API's. */
  function tossError(error) {
    if (error instanceof App.ApiError) return error;
    const code = (error && error.code) || "TOSS_SDK_ERROR";
    const message = (error && error.message) || "결제창을 여는 중 문제가 생겼습니다.";
    return new App.ApiError(0, code, message);
  }

  async function showWidget(order) {
    await loadTossSdk();
    const tossPayments = TossPayments(order.clientKey);
    const widgets = tossPayments.widgets({ customerKey: customerKey() });
    await widgets.setAmount({ currency: "KRW", value: order.amount });
    await Promise.all([
      widgets.renderPaymentMethods({ selector: "#payment-method", variantKey: "DEFAULT" }),
      widgets.renderAgreement({ selector: "#agreement", variantKey: "AGREEMENT" }),
    ]);
    return widgets;
  }

  async function checkout() {
    errorBox.innerHTML = "";
    checkoutButton.disabled = true;
    amountInput.disabled = true;
    status.textContent = "주문을 만드는 중…";
    try {
      const body = { amount: Number(amountInput.value), orderName: ORDER_NAME };
      const answer = await App.api("/api/payments/toss/checkout", {
        method: "POST", auth: true, body, idempotencyKey: App.randomId(),
      });
      const order = answer.result;
      status.textContent = "결제 수단을 불러오는 중…";
      section.hidden = false;
      const widgets = await showWidget(order).catch((error) => { throw tossError(error); });
      document.getElementById("order-summary").innerHTML =
        `<strong>${App.escape(order.orderName)}</strong> · ${App.escape(App.formatNumber(order.amount))}원
         <span class="order-id">주문번호 ${App.escape(order.orderId)}</span>`;
      status.textContent = "";
      payButton.disabled = false;
      payButton.onclick = () => App.run(errorBox, () => pay(widgets, order));
    } catch (error) {
      section.hidden = true;
      status.textContent = "";
      checkoutButton.disabled = false;
      amountInput.disabled = false;
      throw error;
    }
  }

  /** Toss takes over (its window, then a redirect to successUrl or failUrl); what comes
   *  back here is an error before the redirect, e.g. the window closed. */
  async function pay(widgets, order) {
    errorBox.innerHTML = "";
    payButton.disabled = true;
    const request = {
      orderId: order.orderId,
      orderName: order.orderName,
      successUrl: order.successUrl,
      failUrl: order.failUrl,
    };
    const name = App.session.name();
    if (name) request.customerName = name;
    try {
      await widgets.requestPayment(request);
    } catch (error) {
      throw tossError(error);
    } finally {
      payButton.disabled = false;
    }
  }

  document.getElementById("change-amount").addEventListener("click", () => location.reload());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    App.run(errorBox, checkout);
  });

  if (App.session.token()) {
    form.hidden = false;
  } else {
    document.getElementById("login-needed").hidden = false;
    document.getElementById("login-needed-link").href = App.loginUrl();
  }
})();
