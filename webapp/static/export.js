// Export page: follow each queued or running export job (its progress JSON) until it ends, then
// show its download links. No inline script (CSP); the links come from the server's JSON.
(function () {
  "use strict";
  const rows = document.querySelectorAll("tr.export-job");

  function link(href, text, testid, cls) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.dataset.testid = testid;
    if (cls) a.className = cls;
    return a;
  }

  function render(row, data) {
    row.dataset.status = data.status;
    const status = row.querySelector("[data-role=status]");
    status.textContent = data.status;
    status.className = "state state-" + data.status;
    const bar = row.querySelector("[data-role=bar]");
    bar.value = data.percent;
    bar.textContent = data.percent + "%";
    const pairs = data.status === "done" ? " · " + (data.counts.pairs || 0) + " pairs" : "";
    row.querySelector("[data-role=text]").textContent =
      (data.total ? data.done + "/" + data.total + " judgments" : "") + pairs;
    const err = row.querySelector("[data-role=error]");
    err.hidden = !data.error;
    err.textContent = data.error || "";
    const files = row.querySelector("[data-role=files]");
    if (data.download && !files.querySelector("a")) {
      files.replaceChildren(link(data.download, "Download", "download", "button"), document.createTextNode(" "),
        link(data.card, "dataset card", "card"));
    }
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

  rows.forEach(row => {
    if (row.dataset.status === "queued" || row.dataset.status === "running") poll(row);
  });
})();
