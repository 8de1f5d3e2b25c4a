// The live dashboard: swap in each figures fragment the server pushes (Server-Sent Events).
// Without this script the page still shows the figures of the moment it was opened.
"use strict";
(function () {
  const target = document.getElementById("figures");
  if (!target || !window.EventSource) return;
  const source = new EventSource(target.dataset.events);
  source.addEventListener("figures", function (event) {
    const parsed = new DOMParser().parseFromString(event.data, "text/html");
    const open = Array.from(target.querySelectorAll("details[open]"), (d) => d.parentElement.querySelector("h2")?.textContent);
    target.replaceChildren(...parsed.body.childNodes);
    target.querySelectorAll("details").forEach(function (d) {
      if (open.includes(d.parentElement.querySelector("h2")?.textContent)) d.open = true;
    });
    target.dataset.updates = String(Number(target.dataset.updates || "0") + 1);
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
