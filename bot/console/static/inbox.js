// The inbox's live updates: when the server says the inbox changed, fetch this page again and
// swap the parts marked data-live (the queue, a ticket's conversation). Forms being filled in are
// left alone. Without this script the pages work the same; they are just not refreshed.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var busy = false, again = false;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (part) {
          var other = fresh.getElementById(part.id);
          if (other && other.innerHTML !== part.innerHTML) { part.innerHTML = other.innerHTML; }
        });
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* offline for a moment: the next change tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var first = true;
  var source = new EventSource("/console/inbox/events");
  source.addEventListener("change", function () {
    if (first) { first = false; return; }  // the state the page was rendered in
    refresh();
  });
})();
