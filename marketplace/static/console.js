// The console's only script, progressive enhancement (every page works without it), as the GOV.UK Design System's
// error summary does: a page that opens with problems (or a conflict) puts the keyboard focus on their summary, and
// a summary link moves the focus to its field, with the field's label in view.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector(".error-summary, .notification--warning");
  if (box) box.focus();
  for (const link of document.querySelectorAll(".error-summary a[href^='#']")) {
    link.addEventListener("click", (event) => {
      const field = document.getElementById(link.hash.slice(1));
      if (!field) return;
      event.preventDefault();
      const label = document.querySelector(`label[for="${field.id}"]`);
      (label || field).scrollIntoView();
      field.focus({ preventScroll: true });
    });
  }
});
