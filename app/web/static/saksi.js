// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";
  var add = document.querySelector("[data-add-item]");
  if (add) {
    add.addEventListener("click", function () {
      var rows = document.querySelectorAll("[data-item]");
      var last = rows[rows.length - 1];
      var index = rows.length;
      var copy = last.cloneNode(true);
      copy.classList.remove("invalid");
      copy.querySelectorAll(".error").forEach(function (e) { e.remove(); });
      copy.querySelectorAll("[id]").forEach(function (el) { el.id = el.id.replace(/items-\d+-/, "items-" + index + "-"); });
      copy.querySelectorAll("label[for]").forEach(function (el) { el.htmlFor = el.htmlFor.replace(/items-\d+-/, "items-" + index + "-"); });
      copy.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/items-\d+-/, "items-" + index + "-");
        if (el.tagName === "SELECT") { el.selectedIndex = 0; } else { el.value = ""; }
        el.removeAttribute("aria-invalid");
      });
      last.after(copy);
      copy.querySelector("select").focus();
    });
  }

  // Bytes as people read them, with the Indonesian decimal comma (labels.file_size's twin).
  function fileSize(size) {
    var units = ["B", "kB", "MB", "GB", "TB"], value = size, unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return unit === 0 ? Math.round(value) + " B" : value.toFixed(1).replace(".", ",") + " " + units[unit];
  }

  // Live export progress: one server-sent-event stream per running export.
  var labels = { queued: "Menunggu", probing: "Memeriksa NVR", searching: "Mencari rekaman",
                 fetching: "Mengunduh", verifying: "Memverifikasi", done: "Selesai",
                 partial: "Sebagian", failed: "Gagal" };
  document.querySelectorAll("tr[data-export]").forEach(function (row) {
    var state = row.getAttribute("data-state");
    if (["done", "partial", "failed"].indexOf(state) !== -1 || !window.EventSource) { return; }
    var source = new EventSource("/api/v1/exports/" + row.getAttribute("data-export") + "/events");
    var text = row.querySelector("[data-field=progress]");
    var last = text ? { bytes: Number(text.getAttribute("data-bytes")), at: Number(text.getAttribute("data-updated")) } : null;
    source.addEventListener("progress", function (event) {
      var data = JSON.parse(event.data);
      row.querySelector("[data-field=state]").textContent = labels[data.state] || data.state;
      row.querySelector("progress").value = data.percent;
      if (!text || data.state === "queued") { return; }
      // Percent, size so far (of what the NVR announced) and the rate since the last event.
      var at = Date.parse(data.updated_at) / 1000;
      var shown = Math.round(data.percent) + "% · " + fileSize(data.bytes_written);
      if (data.expected_bytes) { shown += " dari " + fileSize(data.expected_bytes); }
      if (last && at > last.at && data.bytes_written > last.bytes) {
        shown += " · " + fileSize((data.bytes_written - last.bytes) / (at - last.at)) + "/detik";
      }
      text.textContent = shown;
      last = { bytes: data.bytes_written, at: at };
    });
    source.addEventListener("end", function () { source.close(); window.location.reload(); });
  });
})();
