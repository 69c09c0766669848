// Tower dashboard: small scripts over the JSON API (session cookie + X-CSRF-Token). No build step.
"use strict";

// Jobs end in the first three; a stage can also end skipped (an earlier stage failed).
const TERMINAL = new Set(["succeeded", "failed", "cancelled", "skipped"]);
// Browsers allow ~6 HTTP/1.1 connections per host: stream a few jobs live, poll the rest.
const MAX_STREAMS = 4;
const POLL_MS = 3000;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    options.headers["X-CSRF-Token"] = csrfToken();
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const reply = await fetch(path, options);
  let data = null;
  if (reply.status !== 204) {
    try { data = await reply.json(); } catch (err) { data = null; }
  }
  if (reply.status === 401) {
    window.location.assign("/dashboard/login?next=" + encodeURIComponent(location.pathname));
  }
  return { ok: reply.ok, status: reply.status, data };
}

function problem(reply) {
  const data = reply.data || {};
  return data.message || "HTTP " + reply.status;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Bars and timelines carry their geometry (percent) as data-width and data-left: the
// Content-Security-Policy refuses inline style attributes, not styles set by this script.
function placeBars(root) {
  root.querySelectorAll("[data-width]").forEach((node) => {
    node.style.width = node.dataset.width + "%";
    if (node.dataset.left !== undefined) node.style.left = node.dataset.left + "%";
  });
}

function setBar(bar, progress) {
  if (!bar) return;
  const pct = Math.max(0, Math.min(1, progress || 0)) * 100;
  bar.querySelector("span").style.width = pct.toFixed(1) + "%";
  bar.querySelector("em").textContent = pct.toFixed(0) + "%";
  bar.dataset.progress = pct.toFixed(0);
}

function setStatus(scope, status) {
  scope.dataset.status = status;
  const badge = scope.querySelector('[data-role="status"]');
  if (badge) {
    badge.textContent = status;
    badge.className = "badge " + status;
  }
}

// Follow a job's SSE stream. The server ends the stream after the job's last terminal event
// (a retried job goes on past its first one), so the end of the stream is the end of the job.
function followJob(jobId, handlers) {
  let last = null;
  let lastId = "";
  let stopped = false;
  let source = null;
  const open = () => {
    const query = lastId ? "?last_event_id=" + encodeURIComponent(lastId) : "";
    source = new EventSource("/api/anime/generation/" + jobId + "/events" + query);
    source.addEventListener("job", (event) => {
      lastId = event.lastEventId || lastId;
      last = JSON.parse(event.data);
      if (handlers.job) handlers.job(last);
    });
    source.addEventListener("stage", (event) => {
      lastId = event.lastEventId || lastId;
      if (handlers.stage) handlers.stage(JSON.parse(event.data));
    });
    source.addEventListener("error", async () => {
      source.close();
      if (stopped) return;
      // The row is the truth: a stream can close between a retry's commit and its first event.
      const reply = await api("GET", "/api/anime/generation/" + jobId + "/status");
      if (reply.ok && TERMINAL.has(reply.data.status) && last && TERMINAL.has(last.status)) {
        stopped = true;
        if (handlers.end) handlers.end(reply.data);
      } else if (reply.ok && TERMINAL.has(reply.data.status)) {
        stopped = true;
        if (handlers.job) handlers.job(reply.data);
        if (handlers.end) handlers.end(reply.data);
      } else {
        setTimeout(open, 1000);
      }
    });
  };
  open();
  return { stop() { stopped = true; if (source) source.close(); } };
}

function pollJob(jobId, handlers) {
  const tick = async () => {
    const reply = await api("GET", "/api/anime/generation/" + jobId + "/status");
    if (!reply.ok) return;
    if (handlers.job) handlers.job(reply.data);
    if (TERMINAL.has(reply.data.status)) {
      if (handlers.end) handlers.end(reply.data);
    } else {
      setTimeout(tick, POLL_MS);
    }
  };
  setTimeout(tick, POLL_MS);
}

function watchJob(row, jobId, index, extra) {
  const handlers = {
    job(data) {
      setStatus(row, data.status);
      setBar(row.querySelector('[data-role="progress"]'), data.progress);
      if (extra && extra.job) extra.job(data);
    },
    stage(data) {
      const cell = row.querySelector('[data-role="stage"]');
      if (cell && data.status === "running") cell.textContent = data.stage;
      if (extra && extra.stage) extra.stage(data);
    },
    end(data) {
      const cell = row.querySelector('[data-role="stage"]');
      if (cell) {
        cell.replaceChildren(data.failed_stage
          ? el("span", { class: "error" }, "failed at " + data.failed_stage) : "");
      }
      if (extra && extra.end) extra.end(data);
    },
  };
  return index < MAX_STREAMS ? followJob(jobId, handlers) : pollJob(jobId, handlers);
}

function initLogin() {
  const form = document.getElementById("login");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = form.querySelector(".message");
    message.textContent = "";
    const body = { email: form.email.value, password: form.password.value, session: true };
    const reply = await fetch("/auth/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (reply.ok) {
      window.location.assign(form.dataset.next || "/dashboard/");
    } else {
      const data = await reply.json().catch(() => ({}));
      message.textContent = data.message || "Login failed (HTTP " + reply.status + ")";
    }
  });
}

function initJobs() {
  const rows = [...document.querySelectorAll("#jobs tr[data-job-id]")];
  rows.filter((row) => !TERMINAL.has(row.dataset.status))
    .forEach((row, index) => watchJob(row, row.dataset.jobId, index));
}

function initJob() {
  const head = document.querySelector("section.head");
  if (TERMINAL.has(head.dataset.status)) return;
  watchJob(head, head.dataset.jobId, 0, {
    stage(data) {
      const row = document.querySelector('tr[data-stage-id="' + data.stage_id + '"]');
      if (row) setStatus(row, data.status);
    },
    // Outputs and timings of the finished job come with the page itself.
    end() { setTimeout(() => window.location.reload(), 500); },
  });
}

function initActions() {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const scope = button.closest("tr, section");
    const outcome = scope.querySelector(".outcome");
    const jobId = button.dataset.jobId;
    // Retry only: cancelling goes through its confirmation page.
    const body = button.dataset.stageId ? { stage_id: Number(button.dataset.stageId) } : {};
    button.disabled = true;
    outcome.textContent = "retrying…";
    outcome.className = "outcome";
    const reply = await api("POST", "/api/anime/generation/" + jobId + "/retry", body);
    if (!reply.ok) {
      outcome.textContent = "retry refused: " + problem(reply);
      outcome.className = "outcome bad";
      button.disabled = false;
      return;
    }
    const bar = scope.querySelector('[data-role="progress"]');
    if (bar) bar.hidden = false;
    outcome.textContent = "retry queued";
    watchJob(scope, jobId, 0, {
      job(data) {
        if (!TERMINAL.has(data.status)) outcome.textContent = data.status + "…";
      },
      end(data) {
        outcome.textContent = "job " + data.status + (data.error ? ": " + data.error : "");
        outcome.className = "outcome " + (data.status === "succeeded" ? "good" : "bad");
        setStatus(scope, data.status);
        button.disabled = data.status === "succeeded";
      },
    });
  });
}

function gib(bytes) {
  return (bytes / 1024 ** 3).toFixed(1);
}

function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return seconds < 90 ? seconds.toFixed(0) + " s ago" : (seconds / 60).toFixed(0) + " min ago";
}

function lackingModels(node) {
  return Object.entries(node.lacking_models || {})
    .flatMap(([folder, names]) => names.map((name) => folder + "/" + name));
}

function nodeRow(node) {
  const used = node.vram_total ? node.vram_used / node.vram_total : 0;
  const stage = node.current_stage;
  const draining = node.status === "draining";
  const offline = node.status === "offline";
  const lacking = lackingModels(node);
  const row = el("tr", { "data-node": node.name, "data-status": node.status },
    el("td", {}, el("b", {}, node.name), el("br"), el("small", {}, node.hostname),
      ...(lacking.length ? [el("br"), el("small", { class: "lacking", "data-role": "lacking" },
        "lacks: " + lacking.join(", "))] : [])),
    el("td", {}, el("span", { class: "badge " + node.status, "data-role": "status" }, node.status)),
    el("td", {}, node.gpu_name || "-"),
    el("td", {}, el("div", { class: "bar", title: (used * 100).toFixed(0) + "%" },
      el("span", { "data-width": (used * 100).toFixed(1) }),
      el("em", {}, gib(node.vram_used) + " / " + gib(node.vram_total) + " GiB"))),
    el("td", {}, stage
      ? el("a", { href: "/dashboard/jobs/" + stage.job_id },
        stage.stage + " · job #" + stage.job_id
          + (stage.scene_order !== null && stage.scene_order !== undefined
            ? " · scene " + stage.scene_order : ""))
      : "idle"),
    el("td", {}, node.comfyui_queue === null ? "?" : node.comfyui_queue),
    el("td", {}, el("time", { dateTime: node.last_heartbeat || "" }, ago(node.last_heartbeat))),
    el("td", { class: "actions" },
      // An offline node takes nothing anyway: it can only be removed (its worker re-registers
      // it if it comes back).
      offline
        ? el("button", { type: "button", "data-node-action": "remove", class: "danger",
          title: "forget this node" }, "Remove")
        : el("button", { type: "button", "data-node-action": draining ? "undrain" : "drain",
          class: draining ? "" : "danger" }, draining ? "Undrain" : "Drain"),
      ...(lacking.length ? [el("button", { type: "button", "data-node-action": "clear-missing",
        title: "the node has these models now: route them to it again" }, "Clear missing models")]
        : []),
      el("span", { class: "outcome", role: "status" })));
  placeBars(row);
  return row;
}

function initNodes() {
  const body = document.querySelector("#nodes tbody");
  const updated = document.querySelector(".updated");
  let busy = false;
  const refresh = async () => {
    if (!busy) {
      const reply = await api("GET", "/api/fleet/nodes");
      if (reply.ok) {
        body.replaceChildren(...(reply.data.length ? reply.data.map(nodeRow)
          : [el("tr", {}, el("td", { colSpan: 8, class: "empty" }, "No node has registered."))]));
        updated.textContent = "updated " + new Date().toLocaleTimeString();
      }
    }
    setTimeout(refresh, POLL_MS);
  };
  body.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-node-action]");
    if (!button) return;
    const row = button.closest("tr");
    busy = true;
    button.disabled = true;
    const action = button.dataset.nodeAction;
    const path = "/api/fleet/nodes/" + encodeURIComponent(row.dataset.node);
    const reply = action === "remove" ? await api("DELETE", path) : await api("POST", path + "/" + action);
    busy = false;
    if (reply.ok && action === "remove") {
      row.remove();
    } else if (reply.ok) {
      row.replaceWith(nodeRow({ ...reply.data, comfyui_queue: null }));
    } else {
      button.disabled = false;
      row.querySelector(".outcome").textContent = problem(reply);
    }
  });
  refresh();
}

function initQueues() {
  const flower = document.getElementById("flower");
  if (!flower.getAttribute("href")) {
    flower.href = location.protocol + "//" + location.hostname + ":5555/";
  }
  const queues = document.querySelector("#queues tbody");
  const workers = document.querySelector("#workers tbody");
  const refresh = async () => {
    const reply = await api("GET", "/api/fleet/queues");
    if (reply.ok) {
      const data = reply.data;
      queues.replaceChildren(...data.queues.map((q) => el("tr", { "data-queue": q.name },
        el("td", {}, q.name), el("td", { "data-role": "length" }, q.length), el("td", {}, q.running))));
      workers.replaceChildren(...(data.workers.length ? data.workers.map((w) => el("tr", {},
        el("td", {}, w.name), el("td", {}, w.running), el("td", {}, w.reserved)))
        : [el("tr", {}, el("td", { colSpan: 3, class: "empty" }, "No worker answered."))]));
      document.querySelector('#workers [data-role="running"]').textContent = data.running;
      document.querySelector('#workers [data-role="reserved"]').textContent = data.reserved;
      document.querySelector(".updated").textContent = "updated " + new Date().toLocaleTimeString();
    }
    setTimeout(refresh, 5000);
  };
  refresh();
}

// A setting's input as the JSON value of its kind; text the kind cannot read goes as typed,
// so the API's refusal names what is wrong.
function settingValue(row) {
  const input = row.querySelector('[name="value"]');
  const kind = row.dataset.kind;
  const text = input.value;
  if (kind === "bool") return text === "true";
  if (kind === "list") return text.split("\n").map((line) => line.trim()).filter(Boolean);
  if ((kind === "int" || kind === "float") && text.trim() !== "" && !isNaN(Number(text))) {
    return Number(text);
  }
  return text;
}

function initSettings() {
  document.querySelector("#settings tbody").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-setting-action]");
    if (!button) return;
    const row = button.closest("tr");
    const path = "/api/settings/" + encodeURIComponent(row.dataset.setting);
    const reset = button.dataset.settingAction === "reset";
    button.disabled = true;
    const reply = reset ? await api("DELETE", path) : await api("PUT", path, { value: settingValue(row) });
    button.disabled = false;
    const outcome = row.querySelector(".outcome");
    if (reply.ok) {
      window.location.reload();
    } else {
      const fields = (reply.data && reply.data.fields) || {};
      outcome.textContent = fields[row.dataset.setting] || problem(reply);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  placeBars(document);
  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await api("POST", "/auth/logout");
      window.location.assign("/dashboard/login");
    });
  }
  const page = document.body.dataset.page;
  const init = { login: initLogin, jobs: initJobs, job: initJob, nodes: initNodes,
    queues: initQueues, settings: initSettings }[page];
  if (init) init();
  if (page === "job" || page === "failed") initActions();
});
