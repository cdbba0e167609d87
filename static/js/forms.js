// GOV.UK's error summary: focus it when the page opens, so a screen reader
// reads the problems first; each link focuses its field (not only scrolls to
// it), with the field's label in view.
const summary = document.querySelector("[data-error-summary]");
if (summary) {
  summary.focus();
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const target = link && document.getElementById(link.hash.slice(1));
    if (!target) return;
    event.preventDefault();
    const field = target.matches("input, select, textarea, button")
      ? target
      : target.querySelector("input:checked, input, select, textarea") || target;
    const label = document.querySelector(`label[for="${field.id}"]`) || target.closest("fieldset");
    (label || field).scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
}
