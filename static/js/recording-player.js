// A lab shell's recording in asciinema-player, served from static/vendor (npm),
// started at ?t= (a check's moment); the checks run meanwhile are markers and links.
(function () {
  "use strict";
  const box = document.querySelector("[data-recording-player]");
  if (!box) {
    return;
  }
  const startAt = parseFloat(box.dataset.startAt) || 0;
  const markers = JSON.parse(document.getElementById("recording-markers").textContent);
  const player = AsciinemaPlayer.create(box.dataset.cast, box, {
    startAt: startAt,
    preload: true,
    markers: markers,
    fit: "width",
    terminalFontSize: "small",
  });
  document.querySelectorAll("[data-seek]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      player.seek(parseFloat(link.dataset.seek)).then(function () { player.play(); });
    });
  });
})();
