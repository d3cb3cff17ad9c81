// profile.html?id=N: one profile; loading it counts a view, so #view-count includes it.
"use strict";
(() => {
  const slot = document.getElementById("profile-slot");
  const errorBox = document.getElementById("profile-error");

  function profileHtml(p) {
    const category = App.CATEGORIES[p.category] || p.category;
    const region = App.REGIONS[p.region] || p.region;
    const note = p.countsLive ? "" : `<p id="counts-note" class="notice">
      조회수 집계가 잠시 늦어지고 있습니다. 이번 조회는 기록되었고 곧 반영됩니다.</p>`;
    return `<article id="profile" class="panel" data-profile-id="${App.escape(p.profileId)}">
      <h1 id="profile-name">${App.escape(p.name)}</h1>
      <p id="profile-headline" class="big">${App.escape(p.headline)}</p>
      <dl class="facts">
        <dt>분야</dt><dd id="profile-category">${App.escape(category)}</dd>
        <dt>지역</dt><dd id="profile-region">${App.escape(region)}</dd>
        <dt>경력</dt><dd><span id="profile-career-years">${App.escape(p.careerYears)}</span>년</dd>
        <dt>가입</dt><dd id="profile-created-at">${App.escape(App.formatTime(p.createdAt))}</dd>
        <dt>조회수</dt><dd><span id="view-count">${App.escape(p.viewCount)}</span>회</dd>
      </dl>
      ${note}
      <h2>소개</h2>
      <p id="profile-introduction" class="introduction">${App.escape(p.introduction) || '<span class="muted">소개가 없습니다.</span>'}</p>
    </article>`;
  }

  async function show() {
    const id = new URLSearchParams(location.search).get("id") || "";
    if (!/^[1-9][0-9]*$/.test(id)) {
      slot.innerHTML = "";
      throw new App.ApiError(400, "INVALID_PROFILE_ID", "주소에 올바른 프로필 번호가 없습니다 (profile.html?id=숫자).");
    }
    try {
      const profile = (await App.api(`/api/profiles/${id}`)).result;
      document.title = `${profile.name} - 전문가 프로필`;
      slot.innerHTML = profileHtml(profile);
    } catch (error) {
      slot.innerHTML = "";
      throw error;
    }
  }

  App.run(errorBox, show);
})();
