/* The console's call timer. A file, not an inline script: the Content-Security-Policy
 * allows scripts from this site only.
 *
 * Tapping the phone number (tel:) or "Start timer" starts it; the "Minutes on the phone"
 * input is filled with the minutes so far, rounded up, until the volunteer types in it
 * (their figure wins). The timer survives a reload of the same claim (sessionStorage).
 * Without JavaScript the input is a plain number field.
 *
 * htmx (hx-boost) may run this file again after swapping the page: the guard below keeps
 * one set of listeners, and every tick looks the elements up afresh.
 */
(function () {
  "use strict";
  if (window.bailanysCallTimer) {
    window.bailanysCallTimer.tick();
    return;
  }

  var KEY = "bailanys-call-timer";
  // {claim: "12", runningSince: ms or null, before: ms counted before the last start}
  var memory = null;

  function load() {
    try {
      var raw = window.sessionStorage.getItem(KEY);
      if (raw) {
        memory = JSON.parse(raw);
      }
    } catch (e) {
      /* storage may be off (private mode): the in-memory copy still works */
    }
    return memory;
  }

  function save(state) {
    memory = state;
    try {
      window.sessionStorage.setItem(KEY, JSON.stringify(state));
    } catch (e) {
      /* see load() */
    }
  }

  function parts() {
    var box = document.querySelector("[data-call-timer]");
    if (!box) {
      return null;
    }
    return {
      claim: box.getAttribute("data-call-timer"),
      input: box.querySelector("[data-call-minutes]"),
      controls: box.querySelector("[data-call-timer-controls]"),
      toggle: box.querySelector("[data-call-timer-toggle]"),
      display: box.querySelector("[data-call-timer-display]"),
    };
  }

  function stateFor(claim) {
    var state = load();
    if (!state || state.claim !== claim) {
      return { claim: claim, runningSince: null, before: 0 };
    }
    return state;
  }

  function elapsed(state) {
    var running = state.runningSince ? Date.now() - state.runningSince : 0;
    return Math.max(0, state.before + running);
  }

  function clock(ms) {
    var seconds = Math.floor(ms / 1000);
    var rest = seconds % 60;
    return Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function tick() {
    var p = parts();
    if (!p || !p.input) {
      return;
    }
    if (p.controls) {
      p.controls.hidden = false;
    }
    var state = stateFor(p.claim);
    var ms = elapsed(state);
    if (p.display) {
      p.display.textContent = clock(ms);
    }
    if (p.toggle) {
      var label = state.runningSince ? "data-stop-label" : "data-start-label";
      p.toggle.textContent = p.toggle.getAttribute(label);
      p.toggle.setAttribute("aria-pressed", state.runningSince ? "true" : "false");
    }
    if (ms > 0 && p.input.getAttribute("data-typed") !== "1") {
      p.input.value = String(Math.min(600, Math.ceil(ms / 60000)));
    }
  }

  function start(claim) {
    var state = stateFor(claim);
    if (!state.runningSince) {
      state.runningSince = Date.now();
      save(state);
    }
  }

  function stop(claim) {
    var state = stateFor(claim);
    if (state.runningSince) {
      state.before = elapsed(state);
      state.runningSince = null;
      save(state);
    }
  }

  document.addEventListener("click", function (event) {
    var p = parts();
    if (!p || !event.target.closest) {
      return;
    }
    if (event.target.closest("[data-call-timer-start]")) {
      start(p.claim); // the phone app opens as usual
      tick();
    } else if (event.target.closest("[data-call-timer-toggle]")) {
      event.preventDefault();
      if (stateFor(p.claim).runningSince) {
        stop(p.claim);
      } else {
        start(p.claim);
      }
      tick();
    }
  });

  // The volunteer's own figure wins over the timer from the first key they press.
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-call-minutes]")) {
      event.target.setAttribute("data-typed", "1");
    }
  });

  // Capture phase: fill the last figure in before htmx (or the browser) reads the form.
  document.addEventListener(
    "submit",
    function (event) {
      var p = parts();
      if (p && event.target.contains(p.input)) {
        tick();
        stop(p.claim);
      }
    },
    true
  );

  window.bailanysCallTimer = { tick: tick };
  tick();
  window.setInterval(tick, 1000);
})();
