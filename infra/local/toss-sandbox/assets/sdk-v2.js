/*
 * A stand-in for the Toss Payments browser SDK v2, served by the local toss-sandbox at
 * GET /v2/standard, so that a page on the local stack loads
 *     <script src="http://127.0.0.1:17000/v2/standard"></script>
 * where production loads https://js.tosspayments.com/v2/standard, and keeps the rest of its
 * code as Toss documents it. Plain JavaScript, no build step, no dependencies.
 *
 * Toss's behaviour, as docs/toss.md §8 gives it (what a page may rely on):
 *   - The script defines the global TossPayments(clientKey); TossPayments.ANONYMOUS is the
 *     customerKey for guests.
 *   - const widgets = tossPayments.widgets({ customerKey }) for the widget integration, which
 *     needs a widget client key (test_gck_/live_gck_); an API-individual key (test_ck_) goes
 *     with tossPayments.payment() ("Key pairing"). customerKey: letters, digits, - _ = . @,
 *     2 to 300 characters (§8 notes that one Toss message says 255; the core docs say 300).
 *   - await widgets.setAmount({ currency: "KRW", value }) must come before the render and
 *     request calls.
 *   - widgets.renderPaymentMethods({ selector, variantKey: "DEFAULT" }) and
 *     widgets.renderAgreement({ selector, variantKey: "AGREEMENT" }) return Promises.
 *   - await widgets.requestPayment({ orderId, orderName, successUrl, failUrl, customerEmail?,
 *     customerName?, customerMobilePhone? }): orderId [A-Za-z0-9_-]{6,64} (§2.1), orderName at
 *     most 100 characters, successUrl/failUrl absolute (origin included).
 *   - The shopper then ends on successUrl?paymentType=NORMAL&orderId&paymentKey&amount, or on
 *     failUrl?code&message&orderId (PAY_PROCESS_CANCELED when the shopper cancels). Here the
 *     sandbox's payment window (GET /sandbox/pay) and /sandbox/authenticate send them there.
 *   - Passing a widget key to tossPayments.payment() throws, telling you to use an API
 *     individual key (§8 "Key pairing", a third-party observation).
 *
 * The stand-in's own choices (Toss documents none of this; do not build on it elsewhere):
 *   - Errors are Error objects with `code` and `message` (the SDK's shape); a synchronous call
 *     (TossPayments, widgets, payment) throws, a Promise-returning one rejects. The codes:
 *       INVALID_CLIENT_KEY    no client key, or not a widget key for widgets() (the name is
 *                             from Toss's global error list);
 *       INVALID_CUSTOMER_KEY  customerKey breaks the rule above (the name §8 mentions);
 *       INVALID_AMOUNT        setAmount without currency "KRW" and a positive integer value;
 *       AMOUNT_NOT_SET        a render or request call before setAmount;
 *       INVALID_SELECTOR      no element matches the selector (or it is no valid selector);
 *       INVALID_VARIANT_KEY   a variantKey other than the documented DEFAULT / AGREEMENT;
 *       NOT_RENDERED          requestPayment before renderPaymentMethods (no method chosen);
 *       INVALID_ORDER_ID      orderId breaks the rule (the name is from the global list);
 *       INVALID_ORDER_NAME    orderName missing or longer than 100 characters;
 *       INVALID_URL           successUrl or failUrl missing or not an absolute http(s) URL;
 *       NEED_AGREEMENT_WITH_REQUIRED_TERMS  the rendered agreement checkbox is unchecked
 *                             (a page that never renders the agreement is not stopped);
 *       NOT_SUPPORTED_IN_SANDBOX  tossPayments.payment() with an API key: only the widget
 *                             integration is imitated.
 *     Messages are Korean, like Toss's; branch on `code` only.
 *   - TossPayments.ANONYMOUS is the string "@@ANONYMOUS" (compare with the constant).
 *   - The method picker is plain radios (name "toss-method", ids toss-method-CARD,
 *     toss-method-EASY_PAY, toss-method-VIRTUAL_ACCOUNT; CARD checked), the agreement one
 *     checkbox (id "toss-agreement", checked). The render Promises resolve with undefined.
 *   - requestPayment navigates this window (location.assign) to the sandbox's payment window,
 *     /sandbox/pay?clientKey&customerKey&orderId&orderName&amount&method&successUrl&failUrl,
 *     and its Promise never settles (the page is leaving). The Promise style that resolves
 *     without successUrl/failUrl (§8) is not offered: both URLs are required.
 *     customerEmail, customerName and customerMobilePhone are accepted and ignored.
 *   - The sandbox is wherever this script came from (document.currentScript.src, up to
 *     "/v2/standard"), so the page may be on another origin than the sandbox.
 */
(function (window, document) {
  "use strict";

  var ANONYMOUS = "@@ANONYMOUS";
  // The methods /sandbox/authenticate approves (the sandbox's Method::code and label).
  var METHODS = [
    { code: "CARD", label: "카드" },
    { code: "EASY_PAY", label: "간편결제" },
    { code: "VIRTUAL_ACCOUNT", label: "가상계좌" },
  ];
  var WIDGET_CLIENT_KEY = /^(test|live)_gck_./;
  var CUSTOMER_KEY = /^[A-Za-z0-9_=.@-]{2,300}$/;
  var ORDER_ID = /^[A-Za-z0-9_-]{6,64}$/;
  var ABSOLUTE_URL = /^https?:\/\/[^/?#]+/;
  var MAX_ORDER_NAME_CHARS = 100;
  var AGREEMENT_LABEL = "[필수] 결제 서비스 이용 약관 동의";

  var SANDBOX_BASE = sandboxBase();

  /** The origin (and any path prefix) this script was served from. */
  function sandboxBase() {
    // currentScript is null only for module scripts; the documented tag is a classic one.
    var script = document.currentScript || document.querySelector('script[src*="/v2/standard"]');
    if (!script || !script.src) {
      throw new Error("TossPayments stand-in: load it with <script src=\".../v2/standard\">");
    }
    var url = new URL(script.src, document.baseURI);
    return url.origin + url.pathname.replace(/\/v2\/standard\/?$/, "");
  }

  function tossError(code, message) {
    var error = new Error(message);
    error.code = code;
    return error;
  }

  function TossPayments(clientKey) {
    if (typeof clientKey !== "string" || clientKey === "") {
      throw tossError("INVALID_CLIENT_KEY", "클라이언트 키가 필요합니다.");
    }
    return {
      widgets: function (options) {
        return createWidgets(clientKey, options || {});
      },
      payment: function () {
        return refusePaymentWindow(clientKey);
      },
    };
  }
  TossPayments.ANONYMOUS = ANONYMOUS;

  function refusePaymentWindow(clientKey) {
    if (WIDGET_CLIENT_KEY.test(clientKey)) {
      throw tossError(
        "INVALID_CLIENT_KEY",
        "결제위젯 연동 키로는 payment()를 쓸 수 없습니다. API 개별 연동 키(test_ck_)를 쓰세요.",
      );
    }
    throw tossError(
      "NOT_SUPPORTED_IN_SANDBOX",
      "이 sandbox SDK는 결제위젯(tossPayments.widgets)만 제공합니다.",
    );
  }

  function createWidgets(clientKey, options) {
    if (!WIDGET_CLIENT_KEY.test(clientKey)) {
      throw tossError(
        "INVALID_CLIENT_KEY",
        "결제위젯에는 결제위젯 연동 클라이언트 키(test_gck_/live_gck_)가 필요합니다. " +
          "API 개별 연동 키(test_ck_)는 tossPayments.payment()용입니다.",
      );
    }
    var customerKey = options.customerKey;
    var validKey = typeof customerKey === "string" && CUSTOMER_KEY.test(customerKey);
    if (customerKey !== ANONYMOUS && !validKey) {
      throw tossError(
        "INVALID_CUSTOMER_KEY",
        "customerKey는 영문 대소문자, 숫자, '-', '_', '=', '.', '@'로 된 2자 이상 300자 이하 " +
          "문자열이거나 TossPayments.ANONYMOUS여야 합니다.",
      );
    }
    // What the calls so far have set up: the amount, the method radios, the agreement box.
    var state = {
      clientKey: clientKey,
      customerKey: customerKey,
      amount: null,
      methods: null,
      agreement: null,
    };
    return {
      setAmount: function (amount) {
        return setAmount(state, amount);
      },
      renderPaymentMethods: function (options) {
        return renderPaymentMethods(state, options);
      },
      renderAgreement: function (options) {
        return renderAgreement(state, options);
      },
      requestPayment: function (request) {
        return requestPayment(state, request);
      },
    };
  }

  async function setAmount(state, amount) {
    var valid =
      amount && amount.currency === "KRW" && Number.isSafeInteger(amount.value) && amount.value > 0;
    if (!valid) {
      throw tossError("INVALID_AMOUNT", 'setAmount에는 { currency: "KRW", value: 양의 정수 }를 주세요.');
    }
    state.amount = amount.value;
  }

  function requireAmount(state, call) {
    if (state.amount === null) {
      throw tossError("AMOUNT_NOT_SET", call + "() 전에 setAmount()를 호출해야 합니다.");
    }
  }

  /** The element a render call draws into. */
  function target(options, variantKey) {
    options = options || {};
    if (options.variantKey !== undefined && options.variantKey !== variantKey) {
      throw tossError(
        "INVALID_VARIANT_KEY",
        "variantKey는 " + variantKey + "여야 합니다: " + options.variantKey,
      );
    }
    var element = null;
    try {
      element = typeof options.selector === "string" ? document.querySelector(options.selector) : null;
    } catch (syntaxError) {
      element = null;
    }
    if (!element) {
      throw tossError("INVALID_SELECTOR", "selector에 맞는 요소가 없습니다: " + options.selector);
    }
    return element;
  }

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  async function renderPaymentMethods(state, options) {
    requireAmount(state, "renderPaymentMethods");
    var container = target(options, "DEFAULT");
    var radios = [];
    var rows = METHODS.map(function (method) {
      var id = "toss-method-" + method.code;
      var radio = element("input", { type: "radio", name: "toss-method", id: id, value: method.code });
      if (method.code === "CARD") {
        radio.setAttribute("checked", "");
      }
      radios.push(radio);
      var label = element("label", { for: id }, [method.label]);
      return element("div", { class: "toss-method" }, [radio, " ", label]);
    });
    container.replaceChildren(element("fieldset", { class: "toss-payment-methods" }, [
      element("legend", {}, ["결제수단"]),
    ].concat(rows)));
    state.methods = radios;
  }

  async function renderAgreement(state, options) {
    requireAmount(state, "renderAgreement");
    var container = target(options, "AGREEMENT");
    var checkbox = element("input", { type: "checkbox", id: "toss-agreement", checked: "" });
    container.replaceChildren(element("div", { class: "toss-agreement" }, [
      checkbox,
      " ",
      element("label", { for: "toss-agreement" }, [AGREEMENT_LABEL]),
    ]));
    state.agreement = checkbox;
  }

  function selectedMethod(state) {
    var checked = state.methods.filter(function (radio) {
      return radio.checked;
    });
    // Radios cannot be unchecked by the shopper; CARD if a script unchecked them all.
    return checked.length ? checked[0].value : "CARD";
  }

  /** The request's orderId, orderName, successUrl and failUrl, checked. */
  function checkedRequest(request) {
    if (typeof request.orderId !== "string" || !ORDER_ID.test(request.orderId)) {
      throw tossError("INVALID_ORDER_ID", "orderId는 영문 대소문자, 숫자, '-', '_'로 된 6자 이상 64자 이하여야 합니다.");
    }
    var name = request.orderName;
    if (typeof name !== "string" || name === "" || Array.from(name).length > MAX_ORDER_NAME_CHARS) {
      throw tossError("INVALID_ORDER_NAME", "orderName은 1자 이상 100자 이하여야 합니다.");
    }
    ["successUrl", "failUrl"].forEach(function (key) {
      if (typeof request[key] !== "string" || !ABSOLUTE_URL.test(request[key])) {
        throw tossError("INVALID_URL", key + "은 origin을 포함한 http(s) 절대 URL이어야 합니다.");
      }
    });
    return request;
  }

  async function requestPayment(state, request) {
    requireAmount(state, "requestPayment");
    if (!state.methods) {
      throw tossError("NOT_RENDERED", "requestPayment() 전에 renderPaymentMethods()를 호출해야 합니다.");
    }
    var checked = checkedRequest(request || {});
    if (state.agreement && !state.agreement.checked) {
      throw tossError("NEED_AGREEMENT_WITH_REQUIRED_TERMS", "필수 약관에 동의해주세요.");
    }
    var query = new URLSearchParams({
      clientKey: state.clientKey,
      customerKey: state.customerKey,
      orderId: checked.orderId,
      orderName: checked.orderName,
      amount: String(state.amount),
      method: selectedMethod(state),
      successUrl: checked.successUrl,
      failUrl: checked.failUrl,
    });
    window.location.assign(SANDBOX_BASE + "/sandbox/pay?" + query.toString());
    return new Promise(function () {});
  }

  window.TossPayments = TossPayments;
})(window, document);
