// The sandbox page: asks the server for the rendered parts about once a second and swaps in what changed; turns
// clicks and keystrokes into POST /ui/act. Plain JavaScript, no build step.
(function () {
  "use strict";
  const app = document.querySelector(".sb-app");
  const params = new URLSearchParams(location.search);
  const state = {
    user: params.get("user") || app.dataset.user,
    channel: params.get("channel") || app.dataset.channel,
    thread: params.get("thread") || "",
  };
  const shortcuts = JSON.parse(app.dataset.shortcuts);
  const regions = ["sidebar", "header", "banner", "messages", "thread", "modal"];
  const shown = {};
  let busy = 0;

  function el(id) { return document.getElementById("sb-" + id); }

  function remember() {
    const query = new URLSearchParams({ user: state.user, channel: state.channel });
    if (state.thread) query.set("thread", state.thread);
    history.replaceState(null, "", "?" + query.toString());
    document.getElementById("sb-user").value = state.user;
  }

  // Slack keeps what a person typed in a modal when the app updates it with the same block ids.
  function typedValues(form) {
    const values = {};
    if (!form) return values;
    form.querySelectorAll(".bk-input[data-block-id]").forEach(function (block) {
      values[block.dataset.blockId] = inputValue(block);
    });
    return values;
  }

  function restoreValues(form, values) {
    form.querySelectorAll(".bk-input[data-block-id]").forEach(function (block) {
      if (Object.prototype.hasOwnProperty.call(values, block.dataset.blockId)) {
        setInputValue(block, values[block.dataset.blockId]);
      }
    });
  }

  function inputValue(block) {
    const control = block.querySelector("[data-input]");
    if (!control) return null;
    const kind = control.dataset.input;
    if (kind === "external_select") {
      return control.dataset.selected ? JSON.parse(control.dataset.selected) : null;
    }
    if (kind === "file_input") {
      return JSON.parse(control.dataset.files || "[]");
    }
    if (kind === "radio_buttons") {
      const checked = block.querySelector("input[type=radio]:checked");
      return checked ? checked.value : null;
    }
    if (kind === "checkboxes") {
      return Array.from(block.querySelectorAll("input[type=checkbox]:checked")).map(function (c) { return c.value; });
    }
    if (control.multiple) {
      return Array.from(control.selectedOptions).map(function (o) { return o.value; });
    }
    return control.value === "" ? null : control.value;
  }

  function setInputValue(block, value) {
    const control = block.querySelector("[data-input]");
    if (!control) return;
    const kind = control.dataset.input;
    if (kind === "external_select") {
      pick(control, value);
    } else if (kind === "file_input") {
      control.dataset.files = JSON.stringify(value || []);
    } else if (kind === "radio_buttons" || kind === "checkboxes") {
      const wanted = [].concat(value || []);
      block.querySelectorAll("input[type=radio], input[type=checkbox]").forEach(function (c) {
        c.checked = wanted.indexOf(c.value) >= 0;
      });
    } else if (control.multiple) {
      const wanted = value || [];
      Array.from(control.options).forEach(function (o) { o.selected = wanted.indexOf(o.value) >= 0; });
    } else {
      control.value = value === null ? "" : value;
    }
  }

  // An external select: what is typed goes to the app as block_suggestion (through the server, which signs it as
  // Slack does); its answer is listed under the box, and the option picked is what view.state reports.
  let suggesting = 0;

  function optionsOf(control) { return document.getElementById(control.getAttribute("aria-controls")); }

  function showOptions(control, options, note) {
    const list = optionsOf(control);
    list.innerHTML = "";
    options.forEach(function (option, n) {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = list.id + "-" + n;
      item.className = "bk-external-option";
      item.textContent = option.text ? option.text.text : option.value;
      item.dataset.option = JSON.stringify(option);
      list.appendChild(item);
    });
    if (note) {
      const item = document.createElement("li");
      item.className = "bk-external-note";
      item.textContent = note;
      list.appendChild(item);
    }
    list.hidden = !list.children.length;
    control.setAttribute("aria-expanded", list.hidden ? "false" : "true");
    control.removeAttribute("aria-activedescendant");
  }

  function pick(control, option) {
    if (option) control.dataset.selected = JSON.stringify(option); else delete control.dataset.selected;
    control.value = option ? (option.text ? option.text.text : option.value) : "";
    showOptions(control, []);
  }

  function suggest(control) {
    const query = control.value;
    const wanted = Number(control.dataset.minQueryLength || 0);
    if (query.length < wanted) {
      showOptions(control, [], query ? "Type at least " + wanted + " characters" : "");
      return;
    }
    const modal = control.closest(".sb-modal");
    const asked = ++suggesting;
    fetch("/ui/act", { method: "POST", headers: { "Content-Type": "application/json" },
                       body: JSON.stringify({ kind: "suggest", user: state.user, channel: state.channel,
                                              view_id: modal.dataset.viewId, block_id: control.dataset.blockId,
                                              query: query, values: typedValues(modal) }) })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (asked !== suggesting || document.activeElement !== control) return;  // typed on, or left: stale
        const options = answer.options || [];
        showOptions(control, options, options.length ? "" : "No results");
      })
      .catch(function () { showOptions(control, [], "No results"); });
  }

  // A file picked in a file input is uploaded to Slack at once, as Slack does; the form then carries its file object.
  function upload(control) {
    const file = control.files && control.files[0];
    control.dataset.files = "[]";
    if (!file) return;
    const reader = new FileReader();
    reader.onload = function () {
      const content = String(reader.result).split(",", 2)[1] || "";
      fetch("/ui/act", { method: "POST", headers: { "Content-Type": "application/json" },
                         body: JSON.stringify({ kind: "upload", user: state.user, channel: state.channel,
                                                name: file.name, content: content }) })
        .then(function (r) { return r.json(); })
        .then(function (answer) { if (answer.file) control.dataset.files = JSON.stringify([answer.file]); });
    };
    reader.readAsDataURL(file);
  }

  function moveActive(control, step) {
    const items = Array.from(optionsOf(control).querySelectorAll(".bk-external-option"));
    if (!items.length) return;
    const current = items.findIndex(function (i) { return i.classList.contains("bk-active"); });
    const next = items[(current + step + items.length) % items.length];
    items.forEach(function (i) { i.classList.remove("bk-active"); i.setAttribute("aria-selected", "false"); });
    next.classList.add("bk-active");
    next.setAttribute("aria-selected", "true");
    next.scrollIntoView({ block: "nearest" });
    control.setAttribute("aria-activedescendant", next.id);
  }

  let typing = null;
  document.addEventListener("input", function (event) {
    const control = event.target;
    if (!control.classList || !control.classList.contains("bk-external")) return;
    clearTimeout(typing);
    typing = setTimeout(function () { suggest(control); }, 200);
  });

  // mousedown, not click: the box must not lose focus (and close the list) before the pick lands.
  document.addEventListener("mousedown", function (event) {
    const item = event.target.closest && event.target.closest(".bk-external-option");
    if (!item) return;
    event.preventDefault();
    const control = document.querySelector('[aria-controls="' + item.parentElement.id + '"]');
    pick(control, JSON.parse(item.dataset.option));
  });

  // Leaving the box without picking keeps the option picked before, as Slack's select does.
  document.addEventListener("focusout", function (event) {
    const control = event.target;
    if (!control.classList || !control.classList.contains("bk-external")) return;
    clearTimeout(typing);
    suggesting += 1;
    pick(control, control.dataset.selected ? JSON.parse(control.dataset.selected) : null);
  });

  function swap(name, html) {
    if (shown[name] === html) return;
    const region = el(name);
    if (name === "modal") {
      const before = region.querySelector(".sb-modal");
      const typed = typedValues(before);
      const sameView = before && html.indexOf('data-view-id="' + before.dataset.viewId + '"') >= 0;
      region.innerHTML = html;
      const after = region.querySelector(".sb-modal");
      if (after && sameView) restoreValues(after, typed);
    } else if (name === "messages") {
      const atBottom = region.scrollHeight - region.scrollTop - region.clientHeight < 80;
      region.innerHTML = html;
      if (atBottom || shown[name] === undefined) region.scrollTop = region.scrollHeight;
    } else {
      region.innerHTML = html;
    }
    if (name === "thread") app.classList.toggle("sb-with-thread", html !== "");
    shown[name] = html;
  }

  function refresh() {
    const query = new URLSearchParams({ user: state.user, channel: state.channel, thread: state.thread });
    return fetch("/ui/state?" + query.toString(), { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (parts) { regions.forEach(function (name) { swap(name, parts[name] || ""); }); })
      .catch(function () { /* the server restarts: try again at the next tick */ });
  }

  function act(body) {
    busy += 1;
    app.classList.add("sb-busy");
    body.user = state.user;
    if (!body.channel) body.channel = state.channel;
    return fetch("/ui/act", { method: "POST", headers: { "Content-Type": "application/json" },
                              body: JSON.stringify(body) })
      .then(function () { return refresh(); })
      .finally(function () {
        busy -= 1;
        if (!busy) app.classList.remove("sb-busy");
        // The app works after its ack (posts, modals): look again shortly.
        setTimeout(refresh, 300);
        setTimeout(refresh, 1000);
      });
  }

  function navigate(channel) {
    state.channel = channel;
    state.thread = "";
    Object.keys(shown).forEach(function (k) { delete shown[k]; });
    app.classList.remove("sb-show-sidebar");
    remember();
    if (channel === "home") act({ kind: "home" }); else refresh();
  }

  function hidePopup() { el("popup").hidden = true; }

  function confirmed(control) {
    if (!control.dataset.confirm) return true;
    const confirm = JSON.parse(control.dataset.confirm);
    const text = function (t) { return t ? (t.text || "") : ""; };
    return window.confirm(text(confirm.title) + "\n\n" + text(confirm.text));
  }

  // One action of an interactive element, from wherever it is: a message, a modal, the App Home.
  function elementAction(control, extra) {
    const body = Object.assign({ action_id: control.dataset.actionId }, extra);
    const modal = control.closest(".sb-modal");
    const home = control.closest(".sb-home");
    if (modal || home) {
      body.kind = "view-click";
      body.view_id = (modal || home).dataset.viewId;
      body.values = typedValues(modal);
    } else {
      const message = control.closest(".msg");
      body.kind = "click";
      body.ts = message.dataset.ts;
      body.channel = message.dataset.channel;
    }
    return act(body);
  }

  document.addEventListener("click", function (event) {
    const target = event.target.closest("button, a");
    if (!target) { hidePopup(); return; }
    if (target.dataset.nav) { navigate(target.dataset.nav); return; }
    const action = target.dataset.action;
    if (action === "button") {
      if (!confirmed(target)) return;
      if (target.dataset.url) window.open(target.dataset.url, "_blank", "noopener");
      elementAction(target, { value: target.dataset.value });
      return;
    }
    if (action === "open-thread") {
      state.thread = target.dataset.ts;
      remember();
      refresh();
      return;
    }
    if (action === "message-menu") {
      const popup = el("popup");
      const rect = target.getBoundingClientRect();
      popup.innerHTML = '<button type="button" data-reply="1">Reply in thread</button>' +
        shortcuts.map(function (s) {
          return '<button type="button" data-shortcut="' + s.callback_id + '">' + s.name + "</button>";
        }).join("");
      popup.dataset.ts = target.dataset.ts;
      popup.style.top = (rect.bottom + window.scrollY) + "px";
      popup.style.left = Math.max(8, rect.right - 240) + "px";
      popup.hidden = false;
      event.stopPropagation();
      return;
    }
    if (target.dataset.reply) {
      hidePopup();
      state.thread = el("popup").dataset.ts;
      remember();
      refresh();
      return;
    }
    if (target.dataset.shortcut) {
      hidePopup();
      act({ kind: "shortcut", ts: el("popup").dataset.ts, callback_id: target.dataset.shortcut });
      return;
    }
    const kind = target.dataset.act;
    if (kind === "close-view") {
      act({ kind: "close-view", view_id: target.closest(".sb-modal").dataset.viewId });
    } else if (kind === "close-thread") {
      state.thread = "";
      remember();
      refresh();
    } else if (kind === "dismiss") {
      act({ kind: "dismiss" });
    } else if (kind === "toggle-sidebar") {
      app.classList.toggle("sb-show-sidebar");
    }
    hidePopup();
  });

  document.addEventListener("change", function (event) {
    const control = event.target;
    if (control.id === "sb-user") {
      state.user = control.value;
      Object.keys(shown).forEach(function (k) { delete shown[k]; });
      remember();
      if (state.channel === "home") act({ kind: "home" }); else refresh();
      return;
    }
    if (control.dataset.input === "file_input") {
      upload(control);
      return;
    }
    const action = control.dataset.action;
    if (action === "overflow" || action === "static_select" || action === "datepicker") {
      // A confirm dialog on a menu asks after the pick, as in Slack; declining puts the menu back.
      if (control.value && !confirmed(control)) {
        control.value = "";
        return;
      }
      if (control.value) elementAction(control, { selected: control.value });
    }
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    event.preventDefault();
    if (form.classList.contains("sb-modal")) {
      act({ kind: "submit", view_id: form.dataset.viewId, values: typedValues(form) });
      return;
    }
    if (form.id === "sb-scheduler") {
      act({ kind: "scheduler", at: form.elements.at.value + ":00" });
      return;
    }
    if (form.classList.contains("sb-composer")) {
      const box = form.elements.text;
      const text = box.value.trim();
      if (!text) return;
      box.value = "";
      if (text.charAt(0) === "/" && !form.dataset.thread) act({ kind: "command", text: text });
      else act({ kind: "say", text: text, thread: form.dataset.thread || "" });
    }
  });

  // Enter sends, Shift+Enter starts a new line, as in Slack.
  document.addEventListener("keydown", function (event) {
    const box = event.target;
    if (box.classList && box.classList.contains("bk-external")) {
      // Arrows move through the options, Enter picks one (it never submits the form), Escape closes the list.
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        moveActive(box, event.key === "ArrowDown" ? 1 : -1);
      } else if (event.key === "Enter") {
        event.preventDefault();
        const active = optionsOf(box).querySelector(".bk-active");
        if (active) pick(box, JSON.parse(active.dataset.option));
      } else if (event.key === "Escape") {
        event.preventDefault();
        showOptions(box, []);
      }
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && box.tagName === "TEXTAREA" && box.closest(".sb-composer")) {
      event.preventDefault();
      box.closest("form").requestSubmit();
    }
    if (event.key === "Escape") hidePopup();
  });

  remember();
  if (state.channel === "home") act({ kind: "home" }); else refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, 1000);
})();
