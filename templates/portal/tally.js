(function () {
  // Counts the statements answered as the person goes. The page works without it: the
  // count the portal wrote stays, and the form is sent as usual.
  var form = document.getElementById("survey");
  var count = document.getElementById("answered");
  if (!form || !count) { return; }
  function tally() {
    var answered = {};
    form.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
      answered[input.name] = true;
    });
    count.textContent = String(Object.keys(answered).length);
  }
  form.addEventListener("change", tally);
  tally();
})();
