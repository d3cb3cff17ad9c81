// Runs assets/sdk-v2.js (path in argv[2]) in a fresh Node context with just enough of a DOM
// for it, and checks the widget flow and its errors. Started by tests/sdk_script.rs; exits
// non-zero on the first failed check. The site's Chromium test covers the real DOM.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const vm = require("node:vm");

const SCRIPT = fs.readFileSync(process.argv[2], "utf8");
const WIDGET_KEY = "test_gck_docs_Ovk5rk1EwkEbP0W43n07xlzm";
const API_KEY = "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq";

class FakeNode {
  constructor(tag, text) {
    this.tagName = tag;
    this.text = text;
    this.attributes = {};
    this.children = [];
    this.checked = false;
  }
  // Reflects the attributes the script sets the way a real DOM exposes them as properties.
  setAttribute(name, value) {
    this.attributes[name] = String(value);
    if (name === "checked") this.checked = true;
    if (name === "id" || name === "value" || name === "name") this[name] = String(value);
  }
  appendChild(child) {
    this.children.push(child);
    return child;
  }
  replaceChildren(...children) {
    this.children = children;
  }
  get textContent() {
    return this.text ?? this.children.map((c) => c.textContent).join("");
  }
  *walk() {
    yield this;
    for (const child of this.children) yield* child.walk();
  }
  byId(id) {
    return [...this.walk()].find((node) => node.id === id);
  }
}

/** A window whose document has the given script tag and one element per selector. */
function fakeWindow(scriptSrc) {
  const containers = { "#payment-method": new FakeNode("div"), "#agreement": new FakeNode("div") };
  const assigned = [];
  const document = {
    currentScript: { src: scriptSrc },
    baseURI: "http://127.0.0.1:3000/checkout",
    createElement: (tag) => new FakeNode(tag),
    createTextNode: (text) => new FakeNode("#text", text),
    querySelector(selector) {
      if (selector === "##") throw new SyntaxError("not a selector");
      return containers[selector] || null;
    },
  };
  const window = { document, location: { assign: (url) => assigned.push(url) }, URL, URLSearchParams };
  window.window = window;
  vm.createContext(window);
  vm.runInContext(SCRIPT, window, { filename: "sdk-v2.js" });
  return { window, containers, assigned };
}

/** Checks that `attempt` throws or rejects with `code` and a Korean message. */
async function failsWith(attempt, code) {
  await assert.rejects(
    async () => attempt(),
    (error) => {
      assert.equal(error.code, code, error.message);
      assert.match(error.message, /[가-힣]/);
      return true;
    },
  );
}

const REQUEST = {
  orderId: "order-0123456789",
  orderName: "티셔츠 외 1건",
  successUrl: "http://127.0.0.1:3000/payments/success",
  failUrl: "http://127.0.0.1:3000/payments/fail",
  customerEmail: "shopper@example.com",
};

async function keysAndCustomerKeys() {
  const { window } = fakeWindow("http://127.0.0.1:17000/v2/standard");
  const TossPayments = window.TossPayments;
  assert.equal(typeof TossPayments, "function");
  assert.equal(typeof TossPayments.ANONYMOUS, "string");
  await failsWith(() => TossPayments(""), "INVALID_CLIENT_KEY");
  await failsWith(() => TossPayments(API_KEY).widgets({ customerKey: "customer-1" }), "INVALID_CLIENT_KEY");
  await failsWith(() => TossPayments(WIDGET_KEY).payment({ customerKey: "customer-1" }), "INVALID_CLIENT_KEY");
  await failsWith(() => TossPayments(API_KEY).payment({}), "NOT_SUPPORTED_IN_SANDBOX");
  for (const bad of [undefined, "a", "has space", "x".repeat(301), 42]) {
    await failsWith(() => TossPayments(WIDGET_KEY).widgets({ customerKey: bad }), "INVALID_CUSTOMER_KEY");
  }
  TossPayments(WIDGET_KEY).widgets({ customerKey: TossPayments.ANONYMOUS });
  TossPayments(WIDGET_KEY).widgets({ customerKey: "u_1=.@-" + "x".repeat(293) });
}

async function setAmountComesFirst() {
  const { window } = fakeWindow("http://127.0.0.1:17000/v2/standard");
  const widgets = window.TossPayments(WIDGET_KEY).widgets({ customerKey: "customer-1" });
  await failsWith(() => widgets.renderPaymentMethods({ selector: "#payment-method" }), "AMOUNT_NOT_SET");
  await failsWith(() => widgets.renderAgreement({ selector: "#agreement" }), "AMOUNT_NOT_SET");
  await failsWith(() => widgets.requestPayment(REQUEST), "AMOUNT_NOT_SET");
  for (const bad of [undefined, { currency: "USD", value: 100 }, { currency: "KRW", value: 0 },
    { currency: "KRW", value: 1.5 }, { currency: "KRW", value: "15000" }]) {
    await failsWith(() => widgets.setAmount(bad), "INVALID_AMOUNT");
  }
  await widgets.setAmount({ currency: "KRW", value: 15000 });
  await failsWith(() => widgets.requestPayment(REQUEST), "NOT_RENDERED");
  await failsWith(() => widgets.renderPaymentMethods({ selector: "#missing" }), "INVALID_SELECTOR");
  await failsWith(() => widgets.renderPaymentMethods({ selector: "##" }), "INVALID_SELECTOR");
  await failsWith(() => widgets.renderPaymentMethods({ selector: "#payment-method", variantKey: "X" }),
    "INVALID_VARIANT_KEY");
}

async function rendersTheDocumentedIds() {
  const { window, containers } = fakeWindow("http://127.0.0.1:17000/v2/standard");
  const widgets = window.TossPayments(WIDGET_KEY).widgets({ customerKey: "customer-1" });
  await widgets.setAmount({ currency: "KRW", value: 15000 });
  assert.equal(await widgets.renderPaymentMethods({ selector: "#payment-method", variantKey: "DEFAULT" }), undefined);
  await widgets.renderAgreement({ selector: "#agreement", variantKey: "AGREEMENT" });
  const methods = containers["#payment-method"];
  for (const [code, label] of [["CARD", "카드"], ["EASY_PAY", "간편결제"], ["VIRTUAL_ACCOUNT", "가상계좌"]]) {
    const radio = methods.byId("toss-method-" + code);
    assert.equal(radio.attributes.type, "radio");
    assert.equal(radio.name, "toss-method");
    assert.equal(radio.value, code);
    assert.equal(radio.checked, code === "CARD");
    assert.ok(methods.textContent.includes(label), label);
  }
  const agreement = containers["#agreement"].byId("toss-agreement");
  assert.equal(agreement.attributes.type, "checkbox");
  assert.equal(agreement.checked, true);
  assert.ok(containers["#agreement"].textContent.includes("[필수]"));
}

async function requestsThePaymentWindow() {
  const { window, containers, assigned } = fakeWindow("http://127.0.0.1:17000/v2/standard?v=1");
  const widgets = window.TossPayments(WIDGET_KEY).widgets({ customerKey: window.TossPayments.ANONYMOUS });
  await widgets.setAmount({ currency: "KRW", value: 15000 });
  await widgets.renderPaymentMethods({ selector: "#payment-method", variantKey: "DEFAULT" });
  await widgets.renderAgreement({ selector: "#agreement", variantKey: "AGREEMENT" });
  for (const [change, code] of [
    [{ orderId: "short" }, "INVALID_ORDER_ID"],
    [{ orderId: "order/0123456" }, "INVALID_ORDER_ID"],
    [{ orderName: "" }, "INVALID_ORDER_NAME"],
    [{ orderName: "가".repeat(101) }, "INVALID_ORDER_NAME"],
    [{ successUrl: "/payments/success" }, "INVALID_URL"],
    [{ failUrl: undefined }, "INVALID_URL"],
  ]) {
    await failsWith(() => widgets.requestPayment({ ...REQUEST, ...change }), code);
  }
  const agreement = containers["#agreement"].byId("toss-agreement");
  agreement.checked = false;
  await failsWith(() => widgets.requestPayment(REQUEST), "NEED_AGREEMENT_WITH_REQUIRED_TERMS");
  agreement.checked = true;
  assert.equal(assigned.length, 0, "no navigation after an error");

  const methods = containers["#payment-method"];
  methods.byId("toss-method-CARD").checked = false;
  methods.byId("toss-method-EASY_PAY").checked = true;
  const pending = widgets.requestPayment({ ...REQUEST, orderName: "가".repeat(100) });
  const settled = await Promise.race([pending.then(() => "settled", () => "settled"),
    new Promise((resolve) => setTimeout(() => resolve("pending"), 50))]);
  assert.equal(settled, "pending", "the page is leaving: the Promise stays pending");
  assert.equal(assigned.length, 1);
  const url = new URL(assigned[0]);
  assert.equal(url.origin + url.pathname, "http://127.0.0.1:17000/sandbox/pay");
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    clientKey: WIDGET_KEY,
    customerKey: window.TossPayments.ANONYMOUS,
    orderId: REQUEST.orderId,
    orderName: "가".repeat(100),
    amount: "15000",
    method: "EASY_PAY",
    successUrl: REQUEST.successUrl,
    failUrl: REQUEST.failUrl,
  });
}

async function followsAPathPrefix() {
  const { window, assigned } = fakeWindow("http://sandbox.test:8080/toss/v2/standard");
  const widgets = window.TossPayments(WIDGET_KEY).widgets({ customerKey: "customer-1" });
  await widgets.setAmount({ currency: "KRW", value: 100 });
  await widgets.renderPaymentMethods({ selector: "#payment-method" });
  widgets.requestPayment(REQUEST);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(assigned[0].startsWith("http://sandbox.test:8080/toss/sandbox/pay?"), assigned[0]);
}

// Failure unless every check finishes: a check awaiting a Promise that never settles would
// otherwise let Node exit with 0 once nothing is left to run.
process.exitCode = 1;
(async () => {
  for (const check of [keysAndCustomerKeys, setAmountComesFirst, rendersTheDocumentedIds,
    requestsThePaymentWindow, followsAPathPrefix]) {
    await check();
    console.log("ok", check.name);
  }
  process.exitCode = 0;
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
