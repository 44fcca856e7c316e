// Import page: follow each queued or running import job (jobs.js) until it ends, then show what it
// imported, or the line and field that stopped it. No inline script (CSP).
(function () {
  "use strict";
  const n = x => x.toLocaleString("en-US");

  function render(row, data) {
    let text = "";
    if (data.status === "done") text = "imported " + data.summary;
    else if (data.phase === "checking") text = n(data.done) + " lines checked";
    else if (data.phase === "writing") text = n(data.done) + " / " + n(data.total) + " lines written";
    row.querySelector("[data-role=text]").textContent = text;
  }

  window.prefloopFollowJobs(document.querySelectorAll("tr.import-job"), render);
})();
