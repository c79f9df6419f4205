// Causerie's page script: keyboard shortcuts and small niceties.
// Every page works without it; each feature here has a plain-HTML fallback.
(function () {
  "use strict";

  const selectedClass = "is-selected";
  // Every POST carries the page's CSRF token (the forms have it as a field).
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = { "X-CSRFToken": csrfMeta ? csrfMeta.content : "" };
  const help = document.getElementById("help");

  function items() {
    return Array.from(document.querySelectorAll(".items > .item"));
  }

  function selectedIndex(list) {
    return list.findIndex((item) => item.classList.contains(selectedClass));
  }

  function select(list, index) {
    if (!list.length) return;
    index = Math.max(0, Math.min(list.length - 1, index));
    list.forEach((item) => item.classList.remove(selectedClass));
    const item = list[index];
    item.classList.add(selectedClass);
    item.scrollIntoView({ block: "nearest" });
    const link = item.querySelector("a.open");
    if (link) link.focus({ preventScroll: true });
  }

  // POST a form with the page's own header so the server answers 204, not a redirect.
  function post(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "causerie", ...csrf },
      credentials: "same-origin",
    }).then((response) => {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response;
    });
  }

  function toggleForm(form, field, labels) {
    const input = form.querySelector(`input[name="${field}"]`);
    return post(form).then(() => {
      const nowOn = input.value === "1";
      input.value = nowOn ? "0" : "1";
      const button = form.querySelector("button");
      if (button) button.textContent = nowOn ? labels[1] : labels[0];
      return nowOn;
    });
  }

  function postFor(entryId, what, value) {
    const data = new FormData();
    data.append(what, value ? "1" : "0");
    return fetch(`/entries/${entryId}/${what === "read" ? "read" : "save"}`, {
      method: "POST",
      body: data,
      headers: { "X-Requested-With": "causerie", ...csrf },
      credentials: "same-origin",
    });
  }

  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) help.querySelector("button").focus();
  }

  // On an entry page: it counts as read once it has been shown.
  const readForm = document.getElementById("read-form");
  if (readForm && readForm.dataset.autoRead === "1") {
    const markShown = () => {
      toggleForm(readForm, "read", ["Mark read", "Mark unread"]).catch(() => {});
    };
    if (document.visibilityState === "visible") markShown();
    else document.addEventListener("visibilitychange", function once() {
      if (document.visibilityState === "visible") {
        document.removeEventListener("visibilitychange", once);
        markShown();
      }
    });
  }

  // Back/forward cache: Chrome restores a page as it was when the user left it,
  // even with Cache-Control: no-store, so after reading a post and going Back the
  // timeline still showed it unread (found by tests/test_browser.py). Reload it
  // so read/saved state comes from the server.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) location.reload();
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-close-help]") || event.target === help) toggleHelp(false);
    // A reply link opens the user's app (or a new tab); this tab then goes to the
    // reply page, which asks "Did you write to them?". Without this script the
    // menu links to that page.
    const reply = event.target.closest("a[data-reply-page]");
    if (reply && !event.defaultPrevented && event.button === 0) {
      const next = reply.dataset.replyPage;
      window.setTimeout(() => location.assign(next), 400);
    }
  });

  // Comments being fetched in the background: ask for the section again until they are in.
  function watchComments(section, tries) {
    const url = section.dataset.pending;
    if (!url || tries <= 0) return;
    window.setTimeout(() => {
      fetch(url, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          const holder = document.createElement("div");
          holder.innerHTML = html; // our own server's markup; comment HTML in it is sanitized
          const fresh = holder.querySelector("#comments");
          if (!fresh) return;
          section.replaceWith(fresh);
          markSeen(fresh);
          watchComments(fresh, tries - 1);
        })
        .catch(() => {});
    }, 1500);
  }

  // A watched thread's new comments count as seen once they have been shown.
  function markSeen(section) {
    const url = section.dataset.seen;
    if (!url || document.visibilityState !== "visible") return;
    fetch(url, { method: "POST", headers: { "X-Requested-With": "causerie", ...csrf }, credentials: "same-origin" });
  }

  const comments = document.getElementById("comments");
  if (comments) {
    markSeen(comments);
    watchComments(comments, 8);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Escape") {
      if (help && !help.hidden) toggleHelp(false);
      else if (typing) target.blur();
      return;
    }
    if (typing) return;

    const list = items();
    const index = selectedIndex(list);
    const entry = document.querySelector("article.entry");
    switch (event.key) {
      case "j":
        if (list.length) select(list, index + 1);
        else if (entry) { const next = document.getElementById("older"); if (next) next.click(); }
        break;
      case "k":
        if (list.length) select(list, index < 0 ? 0 : index - 1);
        else if (entry) { const prev = document.getElementById("newer"); if (prev) prev.click(); }
        break;
      case "o":
      case "Enter":
        if (list.length && index >= 0) list[index].querySelector("a.open").click();
        else if (entry && event.key === "o") { const original = document.getElementById("open-original"); if (original) original.click(); }
        else return;
        break;
      case "m":
        if (entry && readForm) toggleForm(readForm, "read", ["Mark read", "Mark unread"]);
        else if (index >= 0) {
          const item = list[index];
          const nowRead = !item.classList.contains("is-read");
          postFor(item.dataset.entryId, "read", nowRead).then((r) => { if (r.ok) item.classList.toggle("is-read", nowRead); });
        }
        break;
      case "s": {
        const saveForm = document.getElementById("save-form");
        if (entry && saveForm) toggleForm(saveForm, "saved", ["Save for later", "Unsave"]);
        else if (index >= 0) {
          const item = list[index];
          const badge = item.querySelector(".badge.saved-badge");
          postFor(item.dataset.entryId, "saved", !badge).then((r) => {
            if (!r.ok) return;
            if (badge) badge.remove();
            else {
              const span = document.createElement("span");
              span.className = "badge saved-badge";
              span.textContent = "saved";
              item.querySelector(".meta").append(" ", span);
            }
          });
        }
        break;
      }
      case "/": {
        const search = document.getElementById("search-q") || document.getElementById("q");
        if (search) search.focus();
        break;
      }
      case "?":
        toggleHelp();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
})();
