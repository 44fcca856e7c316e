// Export page: follow each queued or running export job (jobs.js) until it ends, then show its
// download links. No inline script (CSP); the links come from the server's JSON.
(function () {
  "use strict";
  const rows = document.querySelectorAll("tr.export-job");

  const n = x => x.toLocaleString("en-US");

  function link(href, text, testid, cls) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.dataset.testid = testid;
    if (cls) a.className = cls;
    return a;
  }

  function render(row, data) {
    const pairs = data.status === "done" ? " · " + n(data.counts.pairs || 0) + " pairs" : "";
    row.querySelector("[data-role=text]").textContent =
      (data.total ? n(data.done) + " / " + n(data.total) + " judgments · " + data.percent + "%" : "") + pairs;
    const files = row.querySelector("[data-role=files]");
    if (data.download && !files.querySelector("a")) {
      files.replaceChildren(link(data.download, "Download", "download", "button"), document.createTextNode(" "),
        link(data.card, "dataset card", "card"));
    }
  }

  window.prefloopFollowJobs(rows, render);
})();
