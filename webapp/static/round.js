// Live round page: poll the progress endpoint, update state/progress, draw metric curves as SVG.
(function () {
  "use strict";
  const charts = document.getElementById("charts");
  if (!charts) return;
  const url = charts.dataset.progressUrl;
  const SVG = "http://www.w3.org/2000/svg";
  // The curves worth a plot, per stage; anything else numeric is still in the metrics block.
  const WANTED = {
    sft: ["loss", "mean_token_accuracy"],
    reward: ["loss", "accuracy", "margin"],
    policy: ["score", "kl", "entropy", "policy_loss", "value_loss", "clipfrac", "response_length"],
  };

  function el(name, attrs) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function drawChart(title, points) {
    const w = 280, h = 140, pad = 28;
    const box = document.createElement("figure");
    box.className = "chart";
    const caption = document.createElement("figcaption");
    const last = points[points.length - 1][1];
    caption.textContent = title + " (last " + (Math.abs(last) < 1e-3 && last !== 0 ? last.toExponential(2) : last.toFixed(3)) + ")";
    const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": title });
    const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
    let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y1 += 1; y0 -= 1; }
    const sx = x => pad + (x - x0) / (x1 - x0) * (w - pad - 6);
    const sy = y => h - pad + 6 - (y - y0) / (y1 - y0) * (h - pad - 6);
    svg.appendChild(el("line", { x1: pad, y1: h - pad + 6, x2: w - 6, y2: h - pad + 6, class: "axis" }));
    svg.appendChild(el("line", { x1: pad, y1: 6, x2: pad, y2: h - pad + 6, class: "axis" }));
    const label = (x, y, text, anchor) => {
      const t = el("text", { x, y, "text-anchor": anchor, class: "tick" });
      t.textContent = text;
      svg.appendChild(t);
    };
    label(pad - 3, 12, y1.toPrecision(3), "end");
    label(pad - 3, h - pad + 6, y0.toPrecision(3), "end");
    label(w - 6, h - 8, "step " + x1, "end");
    const d = points.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ");
    svg.appendChild(el("path", { d, class: "curve" }));
    box.appendChild(svg);
    box.appendChild(caption);
    return box;
  }

  function render(data) {
    const state = document.getElementById("round-state");
    state.textContent = data.state;
    state.className = "state state-" + data.state;
    let reached = true;
    document.querySelectorAll("#stages li").forEach(li => {
      const current = li.dataset.stage === data.progress.stage && data.active;
      li.classList.toggle("current", current);
      if (current) reached = false;
      li.classList.toggle("done", reached && !current && data.state !== "queued" && !(data.active && data.progress.stage === "queued"));
    });
    if (!data.active) document.querySelectorAll("#stages li").forEach(li => li.classList.toggle("done", data.state === "done"));
    const bar = document.getElementById("round-progress");
    const text = document.getElementById("round-progress-text");
    const p = data.progress || {};
    bar.max = p.total || 1;
    bar.value = p.total ? p.done : (data.active ? 0 : 1);
    const retried = data.active && data.attempt > 1 && !(p.message || "").includes("attempt") ? ` · attempt ${data.attempt}` : "";
    text.textContent = (p.stage || "") + (p.total ? ` ${p.done}/${p.total}` : "") + (p.message ? " · " + p.message : "") + retried;
    const policyOut = document.getElementById("policy-out");
    if (data.policy_out !== null && policyOut.textContent.trim() !== "v" + data.policy_out) policyOut.textContent = "v" + data.policy_out;
    const err = document.getElementById("round-error");
    err.hidden = !data.error;
    err.textContent = data.error || "";
    document.getElementById("round-metrics").textContent = JSON.stringify(data.metrics, null, 2);
    charts.replaceChildren();
    for (const [stage, curves] of Object.entries(data.curves || {})) {
      const wanted = WANTED[stage] || Object.keys(curves);
      for (const name of wanted) {
        if (curves[name] && curves[name].length) charts.appendChild(drawChart(stage + " · " + name, curves[name]));
      }
    }
  }

  // The "Did it learn?" block is rendered by the server (model output escaped there); fetch it
  // again whenever a metrics section arrives or the state changes. Same key as learning.metrics_key.
  // True once the block on the page matches `data` (fetched again if it did not).
  async function refreshSummary(data) {
    const summary = document.getElementById("round-summary");
    if (!summary) return true;
    const key = Object.keys(data.metrics || {}).sort().join(",") + "|" + data.state;
    if (key === summary.dataset.key) return true;
    try {
      const response = await fetch(summary.dataset.url, { headers: { Accept: "text/html" } });
      if (!response.ok) return false;
      const template = document.createElement("template");
      template.innerHTML = (await response.text()).trim();
      const fresh = template.content.getElementById("round-summary");
      if (!fresh) return false;
      summary.replaceWith(fresh);
      return fresh.dataset.key === key;
    } catch (e) { return false; }
  }

  // The page's buttons (cancel, retry) depend on the state it was rendered in: a round that stops
  // while the page watches it reloads once, so the retry button appears.
  const loadedState = document.getElementById("round-state").textContent.trim();

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        if ((data.state === "failed" || data.state === "cancelled") && loadedState !== data.state) {
          window.location.reload();
          return;
        }
        render(data);
        const summaryCurrent = await refreshSummary(data);
        if (!data.active && summaryCurrent) return;  // finished: one final render, then stop polling
      }
    } catch (e) { /* transient network error: try again */ }
    setTimeout(poll, 2000);
  }
  poll();
})();
