// Uploads the image tarball with XHR so the page can show upload progress.
(function () {
  "use strict";
  function bind(form) {
    const bar = document.getElementById("upload-progress");
    const percent = document.getElementById("upload-percent");
    form.addEventListener("submit", function (event) {
      const file = form.querySelector("input[type=file]").files[0];
      const max = Number(form.dataset.maxBytes);
      if (file && max && file.size > max) {
        event.preventDefault();
        percent.textContent = `The file is larger than the ${(max / 1048576).toFixed(0)} MiB limit.`;
        percent.className = "error";
        return;
      }
      event.preventDefault();
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || location.href);
      // Uploads are checked for CSRF on this header, before the server reads the body.
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      bar.hidden = false;
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        bar.value = Math.round((100 * e.loaded) / e.total);
        percent.textContent = `${bar.value}% uploaded`;
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 200 && xhr.responseURL && !xhr.responseURL.endsWith("/images/new/")) {
          location.assign(xhr.responseURL);
          return;
        }
        // Validation errors: show the returned form in place of this one.
        const fresh = new DOMParser().parseFromString(xhr.responseText, "text/html");
        const section = fresh.getElementById("import");
        if (section) {
          document.getElementById("import").replaceWith(section);
          bind(document.getElementById("import-form"));
          return;
        }
        percent.textContent = `The upload was refused (HTTP ${xhr.status}): reload the page and try again.`;
        percent.className = "error";
      });
      xhr.addEventListener("error", function () {
        percent.textContent = "The upload failed: the connection was closed.";
        percent.className = "error";
      });
      xhr.send(new FormData(form));
    });
  }
  const form = document.getElementById("import-form");
  if (form) bind(form);
})();
