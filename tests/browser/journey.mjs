// The member journey in a real headless Chromium against the real local stack (started by
// infra/local/browser-test.sh): sign up, a profile's view count rising on reload, points
// bought through the payment widget (the sandbox's SDK v2 stand-in), a payment cancelled
// in the widget, an amount edited in the success URL, a slow Toss ("확인 중" until the
// webhook settles it), and a refund. Every step saves a screenshot under SCREENSHOTS and
// checks the money through the API too; no page may log a console error beyond the one
// failed request a step expects.
//
// Env: BASE_URL (the gateway, which serves web/), TOSS_API_BASE (the sandbox),
// CHROMIUM (default /usr/bin/chromium), SCREENSHOTS (default .local/browser).

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:3000";
const SHOTS = process.env.SCREENSHOTS ?? ".local/browser";
const AMOUNT = 5000;
const STEP_TIMEOUT_MS = 20_000;

mkdirSync(SHOTS, { recursive: true });

// Flags for this machine's closed network: without the background-networking ones
// Chromium keeps trying Google's hosts (the machine notes in the team's toolchain doc).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const context = await browser.newContext({ locale: "ko-KR", viewport: { width: 1000, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT_MS);

/** Console errors and uncaught exceptions, with the step they happened in. */
const problems = [];
/** A failed request the current step expects (Chromium logs it as a console error). */
let expectedFailure = null;
let step = "start";
let shot = 0;

page.on("console", (message) => {
  if (message.type() !== "error") return;
  const text = message.text();
  if (expectedFailure && expectedFailure.test(text)) return;
  problems.push(`[${step}] console error: ${text} (${message.location().url})`);
});
page.on("pageerror", (error) => problems.push(`[${step}] uncaught: ${error.message}`));

async function screenshot(name) {
  shot += 1;
  const file = join(SHOTS, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

function begin(name) {
  step = name;
  expectedFailure = null;
  console.log(`step: ${name}`);
}

function check(condition, what) {
  if (!condition) throw new Error(`[${step}] ${what}`);
}

/** The API's envelope for `path` with the page's token (what the pages themselves use). */
async function api(path) {
  return page.evaluate(async (path) => {
    const token = localStorage.getItem("accessToken");
    const response = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return response.json();
  }, path);
}

async function balance() {
  const me = await api("/api/members/me");
  return me.result.points;
}

const unique = Date.now().toString(36);
const member = {
  name: "김브라우저",
  email: `browser-${unique}@example.com`,
  password: "correct horse battery staple",
  headline: "브라우저로 검증하는 멘토",
  introduction: "헤드리스 크로미움이 가입했습니다.",
  careerYears: "7",
};

async function signUp() {
  begin("sign up");
  await page.goto(`${BASE}/signup.html`);
  await page.fill("#signup-name", member.name);
  await page.fill("#signup-email", member.email);
  await page.fill("#signup-password", member.password);
  await page.fill("#signup-headline", member.headline);
  await page.fill("#signup-introduction", member.introduction);
  await page.fill("#signup-career-years", member.careerYears);
  await page.selectOption("#signup-category", { index: 1 });
  await page.selectOption("#signup-region", { index: 1 });
  await screenshot("signup");
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith("/signup.html")), page.click("#signup-submit")]);
  const token = await page.evaluate(() => localStorage.getItem("accessToken"));
  check(token, "signed up but no access token stored");
  const me = await api("/api/members/me");
  check(me.result.points === 0, `a new member has ${me.result.points} points`);
  return me.result;
}

async function viewCountRises(profileId) {
  begin("profile list and detail");
  await page.goto(`${BASE}/`);
  await page.waitForSelector(`a[href*="profile.html?id=${profileId}"]`);
  await screenshot("profiles");
  await page.goto(`${BASE}/profile.html?id=${profileId}`);
  const first = Number(await page.textContent("#view-count"));
  await page.reload();
  await page.waitForFunction((first) => Number(document.querySelector("#view-count")?.textContent) === first + 1, first);
  await screenshot("profile-detail");
}

/** buy.html up to the sandbox's payment window (the widget rendered, 결제하기 clicked). */
async function openPaymentWindow(name) {
  await page.goto(`${BASE}/buy.html`);
  await page.fill("#amount", String(AMOUNT));
  await page.click("#checkout");
  await page.waitForSelector("#toss-method-CARD");
  await page.waitForSelector("#toss-agreement");
  await screenshot(`${name}-widget`);
  await Promise.all([page.waitForURL(/\/sandbox\/pay\?/), page.click("#pay")]);
  const orderId = new URL(page.url()).searchParams.get("orderId");
  check(orderId, "the payment window names no order");
  return orderId;
}

async function settled(state) {
  await page.waitForSelector(`#result[data-state="${state}"]`);
}

async function buyWithCard() {
  begin("buy points by card");
  const orderId = await openPaymentWindow("buy");
  await page.check("#pay-method-CARD");
  await screenshot("payment-window");
  await Promise.all([page.waitForURL(/\/success\.html\?/), page.click("#pay")]);
  await settled("done");
  await screenshot("paid");
  await page.goto(`${BASE}/points.html`);
  await page.waitForFunction((amount) => document.querySelector("#balance")?.textContent.includes(amount.toLocaleString("ko-KR")), AMOUNT);
  check((await balance()) === AMOUNT, "the balance is not the points bought");
  await screenshot("points");
  return orderId;
}

async function cancelInTheWidget() {
  begin("cancel in the payment window");
  const before = await balance();
  const orderId = await openPaymentWindow("cancel");
  await Promise.all([page.waitForURL(/\/fail\.html\?/), page.click("#cancel")]);
  check((await page.textContent("#fail-code")).includes("PAY_PROCESS_CANCELED"), "the fail page shows no PAY_PROCESS_CANCELED");
  await screenshot("cancelled");
  const status = await api(`/api/payments/toss/${orderId}`);
  check(status.result.status === "READY" && status.result.pointsCharged === 0, `a cancelled payment is ${status.result.status}`);
  check((await balance()) === before, "a cancelled payment changed the balance");
}

async function editedAmount() {
  begin("an amount edited in the success URL");
  const before = await balance();
  const orderId = await openPaymentWindow("edited");
  // The shopper edits the amount in the success URL before the page loads. The window's
  // form post is answered by a 302 to successUrl; a redirected request is not routed, so
  // the 302 itself is rewritten.
  await page.route("**/sandbox/authenticate*", async (route) => {
    const answer = await route.fetch({ maxRedirects: 0 });
    const location = new URL(answer.headers()["location"]);
    location.searchParams.set("amount", "100");
    await route.fulfill({ status: 302, headers: { location: location.toString() } });
  });
  expectedFailure = /status of 400/;
  await Promise.all([page.waitForURL(/amount=100/), page.click("#pay")]);
  await settled("failed");
  check((await page.textContent("#result")).includes("AMOUNT_MISMATCH"), "the error does not name AMOUNT_MISMATCH");
  await screenshot("edited-amount");
  await page.unroute("**/sandbox/authenticate*");
  const status = await api(`/api/payments/toss/${orderId}`);
  check(status.result.pointsCharged === 0, "an edited amount charged points");
  check((await balance()) === before, "an edited amount changed the balance");
}

async function slowToss() {
  begin("a slow Toss: 확인 중, then settled");
  const before = await balance();
  await openPaymentWindow("slow");
  // Toss approves 3 s late and its lookup hides the payment meanwhile: our confirm
  // (Toss timeout 1 s in this run) answers 202; the approval's webhook settles it.
  await page.selectOption("#fault", "late-3000,lookup-404");
  await Promise.all([page.waitForURL(/\/success\.html\?/), page.click("#pay")]);
  await settled("pending");
  check((await page.textContent("#result")).includes("확인 중"), "a 202 does not show 확인 중");
  await screenshot("pending");
  await settled("done");
  await screenshot("pending-settled");
  check((await balance()) === before + AMOUNT, "the slow payment was not charged once");
}

async function refund(orderId) {
  begin("refund");
  const before = await balance();
  await page.goto(`${BASE}/points.html`);
  await page.click(`[data-refund-order="${orderId}"]`);
  await page.waitForFunction(
    (expected) => document.querySelector("#balance")?.textContent.includes(expected.toLocaleString("ko-KR")),
    before - AMOUNT,
  );
  await page.waitForSelector("text=환불");
  await screenshot("refunded");
  check((await balance()) === before - AMOUNT, "the refund did not take exactly the purchase's points");
  const status = await api(`/api/payments/toss/${orderId}`);
  check(status.result.refunds.length === 1, "the order shows no refund");
}

let failed = false;
try {
  const me = await signUp();
  await viewCountRises(me.profile.profileId);
  const paid = await buyWithCard();
  await cancelInTheWidget();
  await editedAmount();
  await slowToss();
  await refund(paid);
} catch (error) {
  failed = true;
  console.error(`FAILED ${error.stack ?? error}`);
  await page.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`  at ${page.url()}; screenshot ${join(SHOTS, "failure.png")}`);
}
await browser.close();
if (problems.length > 0) {
  failed = true;
  console.error(`console errors on the pages:\n  ${problems.join("\n  ")}`);
}
console.log(failed ? "browser journey: FAILED" : "browser journey: every step passed, no console errors");
process.exit(failed ? 1 : 0);
