// Gantry UI: sends the page's forms to the JSON API and streams playground answers.
// Forms carry data-action; the key (when one is needed) travels in the gantry_key cookie.
"use strict";

function show(form, text, ok) {
  const line = form.querySelector(".status-line");
  if (!line) return;
  line.textContent = text;
  line.className = "status-line " + (ok ? "ok" : "error");
}

async function callApi(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : (text || response.statusText);
    throw new Error(message);
  }
  return data;
}

function fields(form) {
  const out = {};
  for (const [key, value] of new FormData(form).entries()) out[key] = value;
  return out;
}

const actions = {
  // Feedback on a trace: a number, yes/no, or a category, with an optional comment.
  async feedback(form) {
    const f = fields(form);
    let value = f.value.trim();
    if (value === "true" || value === "false") value = value === "true";
    else if (value !== "" && !isNaN(Number(value))) value = Number(value);
    const body = { name: f.name, value };
    if (f.comment) body.comment = f.comment;
    await callApi("POST", form.dataset.url, body);
    return "Feedback saved.";
  },
  async "review-add"(form) {
    const f = fields(form);
    await callApi("POST", "/api/review/queues/" + encodeURIComponent(f.queue) + "/items", { trace_ids: [form.dataset.trace] });
    return "Added to review queue " + f.queue + ".";
  },
  async "dataset-add"(form) {
    const f = fields(form);
    const out = await callApi("POST", "/api/datasets/" + encodeURIComponent(f.dataset) + "/append-traces", { trace_ids: [form.dataset.trace] });
    return "Added to dataset " + f.dataset + " as version " + out.version.version + ".";
  },
  async label(form) {
    const f = fields(form);
    const url = "/api/prompts/" + encodeURIComponent(form.dataset.prompt) + "/labels/" + encodeURIComponent(f.label);
    const out = await callApi("PUT", url, { version: Number(f.version) });
    window.location.reload();
    return out.moved ? "Moved " + f.label + " to version " + out.version + "." : f.label + " already points there.";
  },
  async review(form) {
    const answers = {};
    for (const input of form.querySelectorAll("[data-criterion]")) {
      const name = input.dataset.criterion;
      if (input.type === "radio" && !input.checked) continue;
      let value = input.value;
      if (input.dataset.scale === "numeric") value = Number(value);
      if (input.dataset.scale === "boolean") value = value === "true";
      answers[name] = value;
    }
    const f = fields(form);
    const body = { reviewer: f.reviewer, scores: answers };
    if (f.comment) body.comment = f.comment;
    if (f.correction) body.correction = f.correction;
    await callApi("POST", form.dataset.url, body);
    localStorage.setItem("gantry.reviewer", f.reviewer);
    window.location.reload();
    return "Review submitted.";
  },
  async playground(form) {
    const f = fields(form);
    const variables = {};
    for (const input of form.querySelectorAll("[data-variable]")) variables[input.dataset.variable] = input.value;
    const output = document.getElementById("playground-output");
    output.textContent = "";
    const body = {
      model: "prompt:" + form.dataset.prompt + "@" + f.version,
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
      gantry: { variables },
    };
    if (f.model) body.gantry.model = f.model;
    if (f.max_tokens) body.max_tokens = Number(f.max_tokens);
    if (f.temperature !== "") body.temperature = Number(f.temperature);
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin",
    });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new Error(data && data.error ? data.error.message : response.statusText);
    }
    const trace = response.headers.get("x-gantry-trace-id");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", usage = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          for (const choice of chunk.choices || []) {
            if (choice.delta && choice.delta.content) output.textContent += choice.delta.content;
          }
        }
      }
    }
    output.dataset.done = "true";
    const link = trace ? " Trace " + trace.slice(0, 8) + "." : "";
    return "Done" + (usage ? ": " + usage.prompt_tokens + " prompt + " + usage.completion_tokens + " completion tokens." : ".") + link;
  },
};

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const action = actions[form.dataset.action];
  if (!action) return;
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  show(form, "Working…", true);
  try {
    show(form, await action(form), true);
  } catch (err) {
    show(form, err.message, false);
  } finally {
    if (button) button.disabled = false;
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const reviewer = localStorage.getItem("gantry.reviewer");
  for (const input of document.querySelectorAll("input[name=reviewer]")) {
    if (!input.value && reviewer) input.value = reviewer;
  }
});
