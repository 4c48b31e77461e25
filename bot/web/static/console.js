// The staff console's few behaviours of its own (a static file: the pages allow no inline
// script). A canned reply picked from a list is added to the reply box, to be edited.
document.addEventListener("change", (event) => {
  const pick = event.target.closest("select.canned");
  if (!pick || !pick.value) return;
  const box = document.getElementById(pick.dataset.into);
  if (box) {
    box.value = box.value ? `${box.value}\n${pick.value}` : pick.value;
    box.focus();
  }
  pick.value = "";
});
