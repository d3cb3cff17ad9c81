// login.html: a token for 15 minutes; the nav shows the member's name from /me.
"use strict";
(() => {
  const form = document.getElementById("login-form");
  const errorBox = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");

  async function logIn() {
    errorBox.innerHTML = "";
    submit.disabled = true;
    try {
      const body = { email: form.elements.email.value.trim(), password: form.elements.password.value };
      const answer = await App.api("/api/members/login", { method: "POST", body });
      App.session.save(answer.result);
      // The name is only for the nav bar: without it the nav shows the member number.
      const me = await App.api("/api/members/me", { auth: true }).catch(() => null);
      if (me) App.session.saveName(me.result.name);
      location.href = App.nextPage();
    } finally {
      submit.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    App.run(errorBox, logIn);
  });
})();
