// signup.html: the member and their profile in one request; logged in afterwards.
"use strict";
(() => {
  const form = document.getElementById("signup-form");
  const errorBox = document.getElementById("signup-error");
  const submit = document.getElementById("signup-submit");
  document.getElementById("signup-category").innerHTML = App.optionsHtml(App.CATEGORIES, "선택하세요");
  document.getElementById("signup-region").innerHTML = App.optionsHtml(App.REGIONS, "선택하세요");

  function signupBody() {
    const field = (name) => form.elements[name].value;
    const body = {
      name: field("name").trim(),
      email: field("email").trim(),
      password: field("password"),
      headline: field("headline").trim(),
      category: field("category"),
      careerYears: Number(field("careerYears")),
      region: field("region"),
    };
    const introduction = field("introduction").trim();
    if (introduction) body.introduction = introduction;
    return body;
  }

  async function signUp() {
    errorBox.innerHTML = "";
    submit.disabled = true;
    try {
      const body = signupBody();
      const answer = await App.api("/api/members/signup", { method: "POST", body });
      App.session.save(answer.result, body.name);
      location.href = App.nextPage();
    } finally {
      submit.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    App.run(errorBox, signUp);
  });
})();
