"use strict";
// "Import lab" takes the teacher to the lab file's input.
(function () {
  const button = document.querySelector("[data-import-lab]");
  if (!button) return;
  button.addEventListener("click", () => {
    const input = document.getElementById("lab-file");
    input.scrollIntoView({ block: "center" });
    input.focus();
  });
})();
