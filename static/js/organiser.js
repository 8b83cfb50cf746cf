// Organiser page: select all sessions, and confirm before deleting one.
import { $ } from "./dom.js";

const all = $("#select-all");
if (all) {
  const boxes = () => Array.from(document.querySelectorAll("input[name=session]"));
  all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
}

// Downloading with nothing ticked would only bring back an error from the server: say it here.
const exportForm = $("#export-form");
if (exportForm) {
  exportForm.addEventListener("submit", (e) => {
    const none = !exportForm.querySelector("input[name=session]:checked");
    $("#export-error").hidden = !none;
    if (none) e.preventDefault();
  });
  exportForm.addEventListener("change", () => { $("#export-error").hidden = true; });
}

const dialog = $("#confirm-dialog");
for (const form of document.querySelectorAll("form.delete-form")) {
  form.addEventListener("submit", (e) => {
    if (form.dataset.confirmed === "1" || !dialog) return;
    e.preventDefault();
    $("#confirm-text").textContent = `Session ${form.dataset.code} and all its answers will be deleted for good.`;
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "ok") {
        form.dataset.confirmed = "1";
        form.requestSubmit();
      }
    }, { once: true });
  });
}
