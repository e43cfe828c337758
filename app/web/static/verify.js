// The public verification page: hash locally, ask Saksi whether the hash was issued.
(function () {
  "use strict";
  var result = document.getElementById("result");
  var progress = document.getElementById("progress");
  var ACTIONS = {
    "export.file_written": "Rekaman diekspor dari NVR",
    "package.built": "Dimasukkan ke paket bukti",
    "handover.issued": "Diserahkan dengan BAST"
  };

  function show(hash, body) {
    result.innerHTML = "";
    var head = document.createElement("p");
    head.className = body.found ? "ok" : "error";
    head.textContent = body.found
      ? "DITEMUKAN: berkas ini diterbitkan oleh kantor ini."
      : "TIDAK DITEMUKAN: tidak ada rekaman dengan sidik ini yang diterbitkan kantor ini.";
    result.appendChild(head);
    var code = document.createElement("code");
    code.className = "hash"; code.textContent = "SHA-256: " + hash;
    result.appendChild(code);
    var list = document.createElement("ul");
    (body.records || []).forEach(function (record) {
      var item = document.createElement("li");
      var when = new Date(record.recorded_at).toLocaleString("id-ID", { timeZone: "Asia/Jakarta" });
      item.textContent = (ACTIONS[record.action] || record.action) + " — " + when + " WIB";
      list.appendChild(item);
    });
    (body.bast_numbers || []).forEach(function (number) {
      var item = document.createElement("li");
      item.textContent = "Nomor BAST: " + number;
      list.appendChild(item);
    });
    result.appendChild(list);
  }

  async function check(hash) {
    var response = await fetch("/api/v1/verify/" + hash.toLowerCase());
    var body = await response.json();
    if (!response.ok) { result.textContent = body.detail || "Gagal memeriksa."; return; }
    show(hash.toLowerCase(), body);
  }

  document.getElementById("file").addEventListener("change", async function (event) {
    var file = event.target.files[0];
    if (!file) { return; }
    result.textContent = "";
    var hash = await window.saksiHashFile(file, function (fraction) {
      progress.textContent = "Menghitung sidik… " + Math.round(fraction * 100) + "%";
    });
    progress.textContent = "Sidik selesai dihitung.";
    document.getElementById("sha256").value = hash;
    await check(hash);
  });

  document.getElementById("by-hash").addEventListener("submit", async function (event) {
    event.preventDefault();
    var value = document.getElementById("sha256").value.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(value)) { result.textContent = "SHA-256 harus 64 karakter heksadesimal."; return; }
    await check(value);
  });
})();
