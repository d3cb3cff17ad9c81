// Shared by every page (loaded after config.js, before the page's own script):
// configuration, the API helper that reads the envelope, the session (access token in
// localStorage), the nav bar, Korean error display and `App.escape`, through which every
// text from the API goes before it is put in the DOM.
//
// Stable ids on every page (browser tests use them): #nav (the bar), #nav-login,
// #nav-signup (logged out), #nav-user, #nav-logout (logged in).
"use strict";

window.App = (() => {
  const config = Object.assign(
    { apiBase: "", tossSdkUrl: "https://js.tosspayments.com/v2/standard" },
    window.APP_CONFIG || {},
  );

  const CATEGORIES = {
    DEVELOPMENT: "개발", DESIGN: "디자인", MARKETING: "마케팅", BUSINESS: "비즈니스",
    LEGAL: "법률", FINANCE: "금융", EDUCATION: "교육", HEALTH: "건강", CAREER: "커리어",
    OTHER: "기타",
  };
  const REGIONS = {
    SEOUL: "서울", BUSAN: "부산", DAEGU: "대구", INCHEON: "인천", GWANGJU: "광주",
    DAEJEON: "대전", ULSAN: "울산", SEJONG: "세종", GYEONGGI: "경기", GANGWON: "강원",
    CHUNGBUK: "충북", CHUNGNAM: "충남", JEONBUK: "전북", JEONNAM: "전남",
    GYEONGBUK: "경북", GYEONGNAM: "경남", JEJU: "제주", ONLINE: "온라인",
  };
  // Toss's bank codes (virtual accounts); an unknown code is shown as it is.
  const BANKS = {
    "02": "KDB산업", "03": "IBK기업", "06": "KB국민", "07": "수협", "11": "NH농협",
    "20": "우리", "23": "SC제일", "27": "씨티", "31": "iM뱅크(대구)", "32": "부산",
    "34": "광주", "35": "제주", "37": "전북", "39": "경남", "45": "새마을금고",
    "48": "신협", "71": "우체국", "81": "하나", "88": "신한", "89": "케이뱅크",
    "90": "카카오뱅크", "92": "토스뱅크",
  };

  /** Text made safe to put in HTML (element content and quoted attribute values). */
  function escape(value) {
    const replacements = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
    return String(value ?? "").replace(/[&<>"']/g, (c) => replacements[c]);
  }

  function formatNumber(n) {
    return Number(n).toLocaleString("ko-KR");
  }

  /** An RFC 3339 time as Korean date and time, in Korea's time zone. */
  function formatTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso ?? "");
    return date.toLocaleString("ko-KR", { timeZone: "Asia/Seoul" });
  }

  /** Random and unguessable (Toss's customerKey, Idempotency-Keys). */
  function randomId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** A failed call: the API's `code` and Korean `message`, or one of ours when the
   *  answer was no envelope (network, API Gateway's own 401/403/429 bodies). */
  class ApiError extends Error {
    constructor(status, code, message, result = null) {
      super(message);
      this.status = status;
      this.code = code;
      this.result = result;
    }
  }

  const session = {
    token() {
      const token = localStorage.getItem("accessToken");
      const expiresAt = Number(localStorage.getItem("tokenExpiresAt") || 0);
      if (token && expiresAt && Date.now() >= expiresAt) {
        session.clear();
        return null;
      }
      return token;
    },
    memberId: () => localStorage.getItem("memberId"),
    name: () => localStorage.getItem("memberName"),
    /** `answer` is signup's or login's result. */
    save(answer, name) {
      localStorage.setItem("accessToken", answer.accessToken);
      localStorage.setItem("memberId", String(answer.memberId));
      localStorage.setItem("tokenExpiresAt", String(Date.now() + answer.expiresIn * 1000));
      if (name) localStorage.setItem("memberName", name);
      else localStorage.removeItem("memberName");
    },
    saveName: (name) => localStorage.setItem("memberName", name),
    clear() {
      for (const key of ["accessToken", "memberId", "tokenExpiresAt", "memberName"]) {
        localStorage.removeItem(key);
      }
    },
  };

  /** Calls the API; resolves with `{status, code, message, result, headers}` on 2xx
   *  (202 included: callers branch on `code`), rejects with an ApiError otherwise. */
  async function api(path, { method = "GET", body, auth = false, idempotencyKey } = {}) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    if (auth) {
      const token = session.token();
      if (!token) throw new ApiError(401, "LOGIN_REQUIRED", "로그인이 필요합니다.");
      headers.authorization = `Bearer ${token}`;
    }
    let response;
    try {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      response = await fetch(config.apiBase + path, { method, headers, body: payload });
    } catch {
      throw new ApiError(0, "NETWORK_ERROR", "서버에 연결하지 못했습니다. 잠시 후 다시 시도해 주세요.");
    }
    const envelope = await response.json().catch(() => null);
    if (envelope && typeof envelope.code === "string") {
      const { code, message, result } = envelope;
      if (response.ok) return { status: response.status, code, message, result, headers: response.headers };
      throw new ApiError(response.status, code, message, result);
    }
    throw gatewayError(response.status);
  }

  /** API Gateway's own answers carry `{"message"}` only. */
  function gatewayError(status) {
    if (status === 401) return new ApiError(401, "UNAUTHORIZED", "로그인이 필요합니다.");
    if (status === 403) {
      session.clear(); // the authorizer refused the token: expired or not ours
      return new ApiError(403, "FORBIDDEN", "로그인이 만료되었습니다. 다시 로그인해 주세요.");
    }
    if (status === 429) {
      return new ApiError(429, "TOO_MANY_REQUESTS", "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.");
    }
    return new ApiError(status, `HTTP_${status}`, `서버가 예상하지 못한 응답을 보냈습니다 (HTTP ${status}).`);
  }

  function isLoginProblem(error) {
    return ["LOGIN_REQUIRED", "UNAUTHORIZED", "FORBIDDEN"].includes(error.code);
  }

  /** `login.html?next=<this page>`, so logging in comes back here. */
  function loginUrl() {
    const here = location.pathname.split("/").pop() || "index.html";
    return `login.html?next=${encodeURIComponent(here + location.search)}`;
  }

  /** The error as Korean HTML: the API's message and code (and a login link if that is
   *  what is missing). */
  function errorHtml(error, title = "요청을 처리하지 못했습니다") {
    const code = error instanceof ApiError ? error.code : "CLIENT_ERROR";
    const message = error instanceof ApiError ? error.message : "화면을 그리는 중 문제가 생겼습니다.";
    const login = error instanceof ApiError && isLoginProblem(error)
      ? ` <a class="login-link" href="${escape(loginUrl())}">로그인하기</a>` : "";
    return `<div class="error" role="alert"><strong>${escape(title)}</strong>
      <p><span class="error-message">${escape(message)}</span>
      <code class="error-code">${escape(code)}</code>${login}</p></div>`;
  }

  function showError(target, error, title) {
    if (!(error instanceof ApiError)) console.warn(error); // a bug of ours, for the developer
    target.innerHTML = errorHtml(error, title);
  }

  /** Runs a page's async work; whatever it throws is shown in `target`, never left as an
   *  unhandled rejection. */
  function run(target, work) {
    Promise.resolve().then(work).catch((error) => showError(target, error));
  }

  /** `<option>`s for a label map, after an optional placeholder. */
  function optionsHtml(labels, placeholder) {
    const first = placeholder === undefined ? "" : `<option value="">${escape(placeholder)}</option>`;
    return first + Object.entries(labels)
      .map(([value, label]) => `<option value="${escape(value)}">${escape(label)}</option>`)
      .join("");
  }

  const NAV_LINKS = [
    ["index.html", "전문가 찾기"],
    ["buy.html", "포인트 충전"],
    ["points.html", "내 포인트"],
  ];

  function renderNav() {
    const nav = document.getElementById("nav");
    if (!nav) return;
    const here = location.pathname.split("/").pop() || "index.html";
    const links = NAV_LINKS.map(([href, label]) => {
      const current = href === here ? ' aria-current="page"' : "";
      return `<a href="${href}"${current}>${escape(label)}</a>`;
    }).join("");
    const who = session.name() || (session.memberId() ? `회원 #${session.memberId()}` : "");
    const account = session.token()
      ? `<span id="nav-user" class="nav-user">${escape(who)} 님</span>
         <a href="index.html" id="nav-logout">로그아웃</a>`
      : `<a href="${escape(loginUrl())}" id="nav-login">로그인</a>
         <a href="signup.html" id="nav-signup">회원가입</a>`;
    nav.innerHTML = `<a class="brand" href="index.html">전문가 매칭</a>
      <span class="nav-links">${links}</span><span class="nav-account">${account}</span>`;
    const logout = document.getElementById("nav-logout");
    if (logout) {
      logout.addEventListener("click", (event) => {
        event.preventDefault();
        session.clear();
        location.href = "index.html";
      });
    }
  }

  /** Where to go after logging in: `next` if it is one of our pages, else the list. */
  function nextPage() {
    const next = new URLSearchParams(location.search).get("next") || "";
    return /^[a-z-]+\.html(\?[^#]*)?$/.test(next) ? next : "index.html";
  }

  renderNav();

  return {
    config, CATEGORIES, REGIONS, BANKS, ApiError, session, api, escape, formatNumber,
    formatTime, randomId, sleep, errorHtml, showError, run, optionsHtml, renderNav,
    loginUrl, nextPage, isLoginProblem,
  };
})();
