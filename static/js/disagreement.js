// Show the acknowledgment fields only when the client proceeded against advice.
// Without JavaScript they stay visible and the server validates them.
document.querySelectorAll("form[data-decision-form]").forEach((form) => {
  const decision = form.querySelector("[name=decision]");
  const acknowledgment = form.querySelector(".acknowledgment");
  if (!decision || !acknowledgment) return;
  const update = () => {
    acknowledgment.hidden = decision.value !== "proceeded";
  };
  decision.addEventListener("change", update);
  update();
});
