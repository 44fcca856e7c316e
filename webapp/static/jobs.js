// What the export and import pages share: follow each queued or running job row (its
// data-progress-url's JSON) every second until it ends; each answer sets the row's status, bar and
// error, then the page's `render` the rest. No inline script (CSP).
window.prefloopFollowJobs = function (rows, render) {
  "use strict";

  function show(row, data) {
    row.dataset.status = data.status;
    const status = row.querySelector("[data-role=status]");
    status.textContent = data.status;
    status.className = "state state-" + data.status;
    const bar = row.querySelector("[data-role=bar]");
    bar.value = data.percent;
    bar.textContent = data.percent + "%";
    const err = row.querySelector("[data-role=error]");
    err.hidden = !data.error;
    err.textContent = data.error || "";
    render(row, data);
  }

  async function poll(row) {
    try {
      const response = await fetch(row.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        show(row, data);
        if (!data.active) return;  // done or failed: one final render, then stop
      }
    } catch (e) { /* transient network error: try again */ }
    setTimeout(() => poll(row), 1000);
  }

  rows.forEach(row => {
    if (row.dataset.status === "queued" || row.dataset.status === "running") poll(row);
  });
};
