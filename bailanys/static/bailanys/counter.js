/* A live character count under a long text field: "120 of 2,000 characters".
 * A file, not an inline script: the Content-Security-Policy allows scripts from this
 * site only.
 *
 * A field opts in with data-counter="<limit>" and the sentences to show, already in
 * the page's language (bailanys.relay.forms.counter_attrs):
 *   data-counter-text  under the limit, e.g. "%(count)s of %(limit)s characters"
 *   data-counter-over  past it (the field has no maxlength: the server refuses it too)
 *   data-counter-full  at it, for a field the browser stops at its maxlength
 * Characters are counted as the server counts them (code points, not UTF-16 units).
 * Without JavaScript there is no count; the server still says what is too long.
 *
 * htmx (hx-boost) may run this file again after swapping the page: the guard keeps one
 * set of listeners, and new content is set up when htmx loads it.
 */
(function () {
  "use strict";
  if (window.bailanysCounter) {
    window.bailanysCounter.setup(document);
    return;
  }

  function number(n) {
    try {
      return n.toLocaleString(document.documentElement.lang || undefined);
    } catch (e) {
      return String(n);
    }
  }

  function say(template, count, limit) {
    return (template || "")
      .replace("%(count)s", number(count))
      .replace("%(limit)s", number(limit));
  }

  function update(field) {
    var shown = field._bailanysCounter;
    if (!shown) {
      return;
    }
    var limit = parseInt(field.getAttribute("data-counter"), 10);
    var count = Array.from(field.value).length;
    var cut = field.hasAttribute("maxlength");
    var over = !cut && count > limit;
    var full = cut && count >= limit;
    var template = field.getAttribute(
      over ? "data-counter-over" : full ? "data-counter-full" : "data-counter-text"
    );
    shown.textContent = say(template, count, limit);
    shown.className = over || full ? "counter error" : "counter";
    // Said aloud only when it matters, not at every key.
    if (over || full) {
      shown.setAttribute("aria-live", "polite");
    } else {
      shown.removeAttribute("aria-live");
    }
    // Invalid while too long; a mark the server set for another reason is left alone.
    if (over) {
      field.setAttribute("aria-invalid", "true");
      field._bailanysMarked = true;
    } else if (field._bailanysMarked) {
      field.removeAttribute("aria-invalid");
      field._bailanysMarked = false;
    }
  }

  function setup(root) {
    var fields = (root || document).querySelectorAll("[data-counter]");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field._bailanysCounter) {
        continue;
      }
      var shown = document.createElement("small");
      shown.id = (field.id || field.name) + "-counter";
      field._bailanysCounter = shown;
      field.insertAdjacentElement("afterend", shown);
      var described = field.getAttribute("aria-describedby");
      field.setAttribute("aria-describedby", (described ? described + " " : "") + shown.id);
      update(field);
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target._bailanysCounter) {
      update(event.target);
    }
  });
  document.addEventListener("htmx:load", function (event) {
    setup(event.target);
  });

  window.bailanysCounter = { setup: setup };
  setup(document);
})();
