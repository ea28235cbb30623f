// Optional: "Copy" buttons next to commands and new secrets. Without JavaScript the text stays in a
// read-only field, ready to select; the buttons are hidden until this script shows them.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.dataset.copy);
  if (!field || !navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    }, function () { field.select(); });
  });
});
document.querySelectorAll(".command-text").forEach(function (field) {
  field.addEventListener("focus", function () { field.select(); });
});
