// facecam's People and Review pages: forms sent with fetch (CSRF header from app.js), answers shown
// in the page, the retraining's progress polled. Plain JavaScript, no build step.
"use strict";

const manage = {
  /** Show ``lines`` (a string or a list) in the page's message box; ``bad`` marks an error. */
  say(lines, bad = false) {
    const box = document.getElementById("message");
    if (!box) return;
    box.textContent = "";
    for (const line of [].concat(lines)) {
      const p = document.createElement("div");
      p.textContent = line;
      box.appendChild(p);
    }
    box.classList.toggle("error", bad);
    box.hidden = false;
  },

  /** POST ``data`` (FormData) to ``url``; the JSON answer, or null after saying the error. */
  async send(url, data) {
    try {
      return await facecam.post(url, data);
    } catch (error) {
      manage.say(error.message, true);
      return null;
    }
  },

  /** Poll the retraining until it ends; then reload, so that the list says who the model knows. */
  async follow(reloadWhenDone = true) {
    const shown = document.getElementById("retrain-state");
    if (!shown) return;
    for (;;) {
      const response = await fetch("/people/retrain", {credentials: "same-origin"});
      const job = await response.json().catch(() => ({state: "none"}));
      shown.dataset.state = job.state;
      if (job.state === "running") {
        shown.textContent = `${job.kind}: ${job.step}, ${job.seconds} s` +
          (job.computed ? `, features of ${job.computed} faces computed` : "");
      } else if (job.state !== "none") {
        shown.textContent = `${job.kind} ${job.state}: ${job.message}`;
      }
      if (job.state !== "running") {
        if (reloadWhenDone && job.state === "done") location.reload();
        return job;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  },

  /** The gate's answer for an upload: what was kept, and each refused photo with its reason. */
  showImport(out) {
    const box = document.getElementById("add-result");
    box.textContent = "";
    const head = document.createElement("p");
    head.textContent = out.error ? out.error : `kept ${out.saved.length} of ${out.total} photos of ${out.name}`;
    head.className = out.error ? "error" : "";
    box.appendChild(head);
    const list = document.createElement("ul");
    list.id = "rejected";
    for (const [file, reason] of out.rejected || []) {
      const item = document.createElement("li");
      item.textContent = `${file}: ${reason}`;
      list.appendChild(item);
    }
    for (const hint of out.hints || []) {
      const item = document.createElement("li");
      item.className = "muted";
      item.textContent = hint;
      list.appendChild(item);
    }
    box.appendChild(list);
  },
};

async function addPhotos(form) {
  const response = await fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                                             headers: {"X-CSRF-Token": facecam.csrf()}});
  const out = await response.json().catch(() => ({error: `${response.status} ${response.statusText}`}));
  manage.showImport(out);
  if (!response.ok) return;
  if (out.job && out.job.state === "running") manage.follow();
  else setTimeout(() => location.reload(), 1500);
}

/** The selected faces of a cluster card, and the card's version. */
function cardOf(form) {
  const card = form.closest(".cluster");
  const faces = [...card.querySelectorAll(".face.selected")].map((f) => f.dataset.face);
  return {card, id: card.dataset.cluster, version: card.dataset.version, faces};
}

async function reviewAction(form, data) {
  if (form.closest(".cluster") && !form.classList.contains("correct-face")) {
    const {id, version, faces} = cardOf(form);
    if (form.classList.contains("merge-cluster")) {
      const option = form.querySelector("select").selectedOptions[0];
      data.set("a", id); data.set("version_a", version); data.set("version_b", option.dataset.version);
    } else {
      data.set("cluster", id); data.set("version", version);
    }
    if (form.classList.contains("name-cluster")) {
      if (!faces.length) { manage.say("select at least one face", true); return; }
      data.set("faces", faces.join(","));
    }
  }
  const out = await manage.send(form.action, data);
  if (!out) return;
  manage.say(out.lines || "done");
  setTimeout(() => location.reload(), 1200);
}

document.addEventListener("click", (event) => {
  const pick = event.target.closest(".cluster .pick");
  if (!pick) return;
  const face = pick.closest(".face");
  const selected = face.classList.toggle("selected");
  pick.setAttribute("aria-pressed", String(selected));
  pick.title = selected ? "in the selection: click to leave it out" : "left out: click to put it back";
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const page = document.body.dataset.page;
  if (page !== "people" && page !== "review") return;
  event.preventDefault();
  if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
  const button = event.submitter;
  const data = new FormData(form, button);  // before the button is disabled: a disabled one is left out
  if (button) button.disabled = true;
  try {
    if (form.id === "add-person") await addPhotos(form);
    else if (page === "review") await reviewAction(form, data);
    else {
      const out = await manage.send(form.action, data);
      if (out) { manage.say(out.lines || "done"); if (out.job && out.job.state === "running") manage.follow(); else setTimeout(() => location.reload(), 1200); }
    }
  } finally {
    if (button) button.disabled = false;
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const retrain = document.getElementById("retrain");
  if (retrain) {
    retrain.addEventListener("click", async () => {
      const job = await manage.send("/people/retrain", new FormData());
      if (job) manage.follow();
    });
  }
  const shown = document.getElementById("retrain-state");
  if (shown && shown.dataset.state === "running") manage.follow();
  const regroup = document.getElementById("regroup");
  if (regroup) {
    regroup.addEventListener("click", async () => {
      regroup.disabled = true;
      const out = await manage.send("/review/regroup", new FormData());
      regroup.disabled = false;
      if (out) location.reload();
    });
  }
});
