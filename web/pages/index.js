// index.html: the profile list. The query (filters, sort, cursor) lives in the page's URL,
// so a reload or the back button shows the same page.
"use strict";
(() => {
  const PAGE_SIZE = 20;
  const FILTERS = ["category", "region", "keyword", "minCareerYears", "sort"];
  const form = document.getElementById("profile-filters");
  const list = document.getElementById("profile-list");
  const status = document.getElementById("list-status");
  const errorBox = document.getElementById("list-error");
  const first = document.getElementById("page-first");
  const next = document.getElementById("page-next");

  document.getElementById("filter-category").innerHTML = App.optionsHtml(App.CATEGORIES, "전체");
  document.getElementById("filter-region").innerHTML = App.optionsHtml(App.REGIONS, "전체");

  /** The API query of this page's URL: known filters, non-empty, plus the cursor. */
  function queryOfUrl() {
    const url = new URLSearchParams(location.search);
    const query = new URLSearchParams();
    for (const name of [...FILTERS, "cursor"]) {
      const value = (url.get(name) || "").trim();
      if (value) query.set(name, value);
    }
    return query;
  }

  function fillForm(query) {
    for (const name of FILTERS) form.elements[name].value = query.get(name) || "";
  }

  function go(query) {
    const search = query.toString();
    history.pushState(null, "", search ? `?${search}` : location.pathname);
    App.run(errorBox, show);
  }

  function itemHtml(profile) {
    const category = App.CATEGORIES[profile.category] || profile.category;
    const region = App.REGIONS[profile.region] || profile.region;
    return `<li class="profile-item panel" data-profile-id="${App.escape(profile.profileId)}">
      <a class="profile-link" href="profile.html?id=${encodeURIComponent(profile.profileId)}">
        <span class="profile-name">${App.escape(profile.name)}</span>
        <span class="profile-headline">${App.escape(profile.headline)}</span>
        <span class="profile-meta">${App.escape(category)} · ${App.escape(region)} ·
          경력 ${App.escape(profile.careerYears)}년 · 조회 ${App.escape(App.formatNumber(profile.viewCount))}회</span>
      </a></li>`;
  }

  async function show() {
    const query = queryOfUrl();
    fillForm(query);
    errorBox.innerHTML = "";
    status.textContent = "불러오는 중…";
    next.hidden = true;
    first.hidden = !query.has("cursor");
    query.set("size", String(PAGE_SIZE));
    let page;
    try {
      page = (await App.api(`/api/profiles?${query}`)).result;
    } catch (error) {
      status.textContent = "";
      list.innerHTML = "";
      throw error;
    }
    list.innerHTML = page.items.map(itemHtml).join("");
    status.textContent = page.items.length === 0
      ? "조건에 맞는 전문가가 없습니다."
      : page.countsLive ? "" : "조회수 집계가 잠시 늦어지고 있습니다. 표시된 조회수는 조금 적을 수 있습니다.";
    next.hidden = !page.nextCursor;
    next.dataset.cursor = page.nextCursor || "";
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const name of FILTERS) {
      const value = String(form.elements[name].value || "").trim();
      if (value) query.set(name, value);
    }
    go(query);
  });
  next.addEventListener("click", () => {
    const query = queryOfUrl();
    query.set("cursor", next.dataset.cursor);
    go(query);
  });
  first.addEventListener("click", () => {
    const query = queryOfUrl();
    query.delete("cursor");
    go(query);
  });
  window.addEventListener("popstate", () => App.run(errorBox, show));

  App.run(errorBox, show);
})();
