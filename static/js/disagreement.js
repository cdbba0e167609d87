// Show the acknowledgment fields only when the client proceeded against advice.
// Hidden, they are also disabled, so nothing the person can't see is sent.
// Without JavaScript they stay visible and the server validates them.
document.querySelectorAll("form[data-decision-form]").forEach((form) => {
  const decision = form.querySelector("[name=decision]");
  const acknowledgment = form.querySelector(".acknowledgment");
  if (!decision || !acknowledgment) return;
  // Fields the server found a problem with are never hidden.
  const hasErrors = acknowledgment.querySelector(".is-invalid") !== null;
  const update = () => {
    const hide = decision.value !== "proceeded" && !hasErrors;
    acknowledgment.hidden = hide;
    acknowledgment.disabled = hide;
  };
  decision.addEventListener("change", update);
  update();
});

