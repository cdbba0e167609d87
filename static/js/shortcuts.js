// Keyboard shortcuts, for everyone signed in: "/" focuses the search box, "n" opens
// "Log disagreement", "?" lists the shortcuts. The targets are the nav's elements
// with data-shortcut, so a shortcut exists only where its link or box does.
// Never while typing in a field, never with Ctrl, Alt or Meta (those are the
// browser's and the screen reader's), never while a dialog is open.
(function () {
  "use strict";

  var dialog = document.getElementById("shortcuts");

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(
      target.isContentEditable ||
      target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])")
    );
  }

  function visible(element) {
    return element.offsetParent !== null || element.getClientRects().length > 0;
  }

  var actions = {
    "/": function () {
      var box = document.querySelector("[data-shortcut='/']");
      if (!box) return false;
      if (visible(box)) {
        box.focus();
        box.select();
      } else {
        // The nav is folded away (narrow screens): the search page has its own box.
        window.location.assign(box.form.action);
      }
      return true;
    },
    n: function () {
      var link = document.querySelector("a[data-shortcut='n']");
      if (!link) return false;
      window.location.assign(link.href);
      return true;
    },
    "?": function () {
      if (!dialog || typeof dialog.showModal !== "function") return false;
      dialog.showModal();
      return true;
    },
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.repeat) return;
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    var action = Object.prototype.hasOwnProperty.call(actions, event.key) && actions[event.key];
    if (action && action()) event.preventDefault();
  });

  // The search page's own box takes the focus when arriving without a query.
  var pageBox = document.getElementById("search-q");
  if (pageBox && !pageBox.value) pageBox.focus();
})();
