// Optional enhancements; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function setUpFormerRows(form) {
    var rows = Array.prototype.slice.call(form.querySelectorAll("[data-former-row]"));
    var button = form.querySelector("[data-add-former]");
    if (!rows.length || !button) { return; }
    var filled = function (row) {
      return Array.prototype.some.call(row.querySelectorAll("input"), function (input) {
        return input.value.trim() !== "" || input.getAttribute("aria-invalid") === "true";
      });
    };
    var last = 0;
    rows.forEach(function (row, index) { if (filled(row)) { last = index; } });
    rows.forEach(function (row, index) { row.hidden = index > last; });
    var refresh = function () {
      button.hidden = rows.every(function (row) { return !row.hidden; });
    };
    button.addEventListener("click", function () {
      var next = rows.filter(function (row) { return row.hidden; })[0];
      if (!next) { return; }
      next.hidden = false;
      refresh();
      var input = next.querySelector("input");
      if (input) { input.focus(); }
    });
    refresh();
  }

  function setUpSingleSubmit(form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitted") === "true") { event.preventDefault(); return; }
      form.setAttribute("data-submitted", "true");
      form.setAttribute("aria-busy", "true");
    });
  }

  // A link in the error summary moves focus to its field (a plain link would only scroll).
  function setUpErrorLinks(summary) {
    Array.prototype.forEach.call(summary.querySelectorAll("a[href^='#']"), function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) { return; }
        event.preventDefault();
        target.focus();
        target.scrollIntoView({ block: "center" });
      });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
      setUpFormerRows(form);
      setUpSingleSubmit(form);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".error-summary"), setUpErrorLinks);
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
