// The review inbox from the keyboard, and decisions saved in place: j/k move, y keep, x revoke,
// type the reason, Enter saves and moves to the next item, ? shows the keys. Every action also
// works without this script (each row's buttons post their own form).
"use strict";
(function () {
  const table = document.getElementById("inbox");
  if (!table) return;
  const csrf = table.dataset.csrf;
  const rows = Array.from(table.querySelectorAll("tbody tr[data-item]"));
  const help = document.getElementById("keys-help");
  const progress = document.getElementById("my-progress");
  const bar = document.getElementById("my-progress-bar");
  const pageDone = document.getElementById("page-done");
  let current = -1;

  for (const el of document.querySelectorAll(".keys-hint, .select-page")) el.hidden = false;

  function focusRow(i) {
    if (i < 0 || i >= rows.length) return;
    if (current >= 0) rows[current].classList.remove("current");
    current = i;
    rows[i].classList.add("current");
    rows[i].focus({ preventScroll: true });
    rows[i].scrollIntoView({ block: "nearest" });
  }

  function nextOpen(from) {
    for (let i = from + 1; i < rows.length; i++) if (!rows[i].classList.contains("done")) return i;
    for (let i = 0; i < from; i++) if (!rows[i].classList.contains("done")) return i;
    return -1;
  }

  function reason(row) {
    return row.querySelector("td.decide input[name=justification]");
  }

  function choose(row, decision) {
    row.dataset.decision = decision;
    row.classList.remove("deciding-keep", "deciding-revoke");
    row.classList.add("deciding-" + decision);
    const input = reason(row);
    if (input) input.focus();
  }

  function bump(id, by) {
    const el = document.getElementById(id);
    if (el) el.textContent = String(Math.max(0, Number(el.textContent) + by));
  }

  function updateProgress() {
    bump("tab-pending", -1);
    bump("tab-decided", 1);
    if (!progress) return;
    const pending = Math.max(0, Number(progress.dataset.pending) - 1);
    const decided = Number(progress.dataset.decided) + 1;
    progress.dataset.pending = String(pending);
    progress.dataset.decided = String(decided);
    const total = pending + decided;
    const pct = total === 0 ? 100 : Math.floor((decided * 100) / total);
    const strong = progress.querySelectorAll("strong");
    if (strong.length === 2) {
      strong[0].textContent = String(decided);
      strong[1].textContent = String(pending);
    }
    if (bar) {
      bar.value = pct;
      bar.setAttribute("aria-label", pct + "% decided");
    }
  }

  async function save(row, decision) {
    // One request per row at a time: a second Enter or click waits for the first.
    if (row.dataset.busy === "1" || row.classList.contains("done")) return;
    const status = row.querySelector(".row-status");
    const input = reason(row);
    // "accept": the row's suggestion, with its own reason; refused if it changed meanwhile.
    const accepting = decision === "accept";
    const cell = row.querySelector("td.suggestion");
    const suggested = (cell && cell.dataset.suggested) || "";
    const body = new URLSearchParams(
      accepting
        ? { csrf: csrf, expect: suggested }
        : { csrf: csrf, decision: decision, justification: input ? input.value : "" },
    );
    row.dataset.busy = "1";
    const url =
      "/api/v1/reviews/" + row.dataset.item + (accepting ? "/accept-suggestion" : "/decision");
    status.classList.remove("error");
    status.textContent = "saving…";
    let answer;
    try {
      answer = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: body,
        credentials: "same-origin",
      });
    } catch (e) {
      row.dataset.busy = "";
      status.classList.add("error");
      status.textContent = "not saved: the server did not answer";
      return;
    }
    row.dataset.busy = "";
    if (!answer.ok) {
      let why = "not saved (" + answer.status + ")";
      try {
        const j = await answer.json();
        if (j && j.message) why = "not saved: " + j.message;
      } catch (e) {
        /* a body that is not JSON: the status says enough */
      }
      status.classList.add("error");
      status.textContent = why;
      if (input) input.focus();
      return;
    }
    // What the server recorded, not what the page expected.
    let recorded = decision;
    try {
      const j = await answer.json();
      if (j && j.decision) recorded = j.decision;
    } catch (e) {
      /* recorded as asked */
    }
    row.classList.add("done");
    row.classList.remove("deciding-keep", "deciding-revoke");
    // Decided: out of any bulk selection, so a later bulk decision cannot replace it unseen.
    const box = row.querySelector("input[type=checkbox][name=item]");
    if (box) {
      box.checked = false;
      box.disabled = true;
    }
    const words = { keep: "kept", revoke: "revoked", rotate: "rotation due", reduce_scope: "scope to reduce", set_expiry: "expiry set" };
    status.textContent = (words[recorded] || recorded) + " ✓";
    updateProgress();
    const next = nextOpen(rows.indexOf(row));
    if (next >= 0) {
      focusRow(next);
    } else if (pageDone) {
      row.classList.remove("current");
      current = -1;
      pageDone.hidden = false;
      const more = document.getElementById("load-next");
      if (more) more.focus();
    }
  }

  // The row's own buttons save in place too.
  for (const row of rows) {
    for (const button of row.querySelectorAll("td.decide button[name=decision], td.decide button[name=accept]")) {
      button.addEventListener("click", (ev) => {
        ev.preventDefault();
        focusRow(rows.indexOf(row));
        save(row, button.name === "accept" ? "accept" : button.value);
      });
    }
    const input = reason(row);
    if (input) {
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") {
          ev.preventDefault();
          if (row.dataset.decision) {
            save(row, row.dataset.decision);
          } else {
            // Never a silent keep: the decision is chosen first.
            const status = row.querySelector(".row-status");
            status.classList.add("error");
            status.textContent = "choose first: y keeps, x revokes (Esc, then the key)";
          }
        } else if (ev.key === "Escape") {
          ev.preventDefault();
          focusRow(rows.indexOf(row));
        }
      });
    }
    row.addEventListener("click", (ev) => {
      if (ev.target === row || ev.target.tagName === "TD") focusRow(rows.indexOf(row));
    });
  }

  const selectPage = document.getElementById("select-page");
  if (selectPage) {
    selectPage.addEventListener("change", () => {
      for (const row of rows) {
        const box = row.querySelector("input[type=checkbox][name=item]");
        if (box && !row.classList.contains("done")) box.checked = selectPage.checked;
      }
    });
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    // Keys act on the current row only while no control has the focus: Enter on a focused
    // button or link is that control's, Space on a checkbox is the checkbox's.
    if (ev.key === "n" && pageDone && !pageDone.hidden) {
      const more = document.getElementById("load-next");
      if (more) window.location.assign(more.href);
      return;
    }
    const control = ev.target.closest && ev.target.closest("input, textarea, select, button, a, dialog");
    if (control) return;
    if (help && help.open) return;
    const row = current >= 0 ? rows[current] : null;
    switch (ev.key) {
      case "j":
      case "ArrowDown":
        ev.preventDefault();
        focusRow(current < 0 ? 0 : Math.min(current + 1, rows.length - 1));
        break;
      case "k":
      case "ArrowUp":
        ev.preventDefault();
        focusRow(Math.max(current - 1, 0));
        break;
      case "y":
      case "x":
        if (row && !row.classList.contains("done")) {
          ev.preventDefault();
          choose(row, ev.key === "y" ? "keep" : "revoke");
        }
        break;
      case "a":
        if (row && !row.classList.contains("done") && row.querySelector("button[name=accept]")) {
          ev.preventDefault();
          save(row, "accept");
        }
        break;
      case "Enter":
        if (row && !row.classList.contains("done") && row.dataset.decision) {
          ev.preventDefault();
          save(row, row.dataset.decision);
        }
        break;
      case " ":
        if (row) {
          ev.preventDefault();
          const box = row.querySelector("input[type=checkbox][name=item]");
          if (box) box.checked = !box.checked;
        }
        break;
      case "o":
        if (row) {
          const link = row.querySelector("a[href^='/reviews/']");
          if (link) window.location.assign(link.href);
        }
        break;
      case "?":
        if (help && help.showModal) {
          ev.preventDefault();
          help.showModal();
        }
        break;
      default:
        break;
    }
  });

  // Back from a decision without the script (or a fresh visit): start at the anchored row.
  const anchored = window.location.hash.match(/^#row-(\d+)$/);
  const start = anchored ? rows.findIndex((r) => r.dataset.item === anchored[1]) : 0;
  focusRow(start >= 0 ? start : 0);
})();
