// Import page: follow each queued or running import job (its progress JSON) until it ends, then
// show what it imported, or the line and field that stopped it. No inline script (CSP).
(function () {
  "use strict";
  const n = x => x.toLocaleString("en-US");

  function render(row, data) {
    row.dataset.status = data.status;
    const status = row.querySelector("[data-role=status]");
    status.textContent = data.status;
    status.className = "state state-" + data.status;
    const bar = row.querySelector("[data-role=bar]");
    bar.value = data.percent;
    bar.textContent = data.percent + "%";
    let text = "";
    if (data.status === "done") text = "imported " + data.summary;
    else if (data.phase === "checking") text = n(data.done) + " lines checked";
    else if (data.phase === "writing") text = n(data.done) + " / " + n(data.total) + " lines written";
    row.querySelector("[data-role=text]").textContent = text;
    const err = row.querySelector("[data-role=error]");
    err.hidden = !data.error;
    err.textContent = data.error || "";
  }

  async function poll(row) {
    try {
      const response = await fetch(row.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        render(row, data);
        if (!data.active) return;  // done or failed: one final render, then stop
      }
    } catch (e) { /* transient network error: try again */ }
    setTimeout(() => poll(row), 1000);
  }

  document.querySelectorAll("tr.import-job").forEach(row => {
    if (row.dataset.status === "queued" || row.dataset.status === "running") poll(row);
  });
})();
