// Moves the progress bar of a matching run or a CSV import while the worker works, then
// reloads the page to show the result. Without JavaScript the page refreshes itself instead.
(function () {
  var box = document.getElementById("run-status");
  if (!box || ["queued", "running"].indexOf(box.dataset.status) < 0) return;
  var bar = document.getElementById("run-progress");
  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var fraction = (data.progress && data.progress.fraction) || 0;
        bar.value = Math.round(fraction * 100);
        bar.textContent = bar.value + "%";
        if (data.status === "finished" || data.status === "failed") window.location.reload();
        else setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
