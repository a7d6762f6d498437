// The counter display: the last scan's result, pushed by tillscan over
// server-sent events (no polling). The status (queue depth, API reachable)
// is read once at start and again after each event that can change it.
"use strict";

const $ = (id) => document.getElementById(id);
let lastJob = "";
let lastEventId = ""; // where a new stream resumes after the daemon ended one

function show(state, title, detail, stamps) {
  document.body.dataset.state = state;
  $("title").textContent = title;
  $("detail").textContent = detail || "";
  const box = $("stamps");
  box.replaceChildren();
  box.hidden = !stamps;
  if (stamps) {
    for (let i = 0; i < stamps.total; i++) {
      const s = document.createElement("span");
      s.className = i < stamps.have ? "stamp on" : "stamp";
      box.appendChild(s);
    }
    box.setAttribute("aria-label", stamps.have + " of " + stamps.total + " stamps");
  }
}

// stampsOf reads "stamp 7/10" (pos.BalanceText) into {have, total}.
function stampsOf(balance) {
  const m = /^stamp (\d+)\/(\d+)$/.exec(balance || "");
  if (!m) return null;
  const have = Number(m[1]), total = Number(m[2]);
  return total > 0 && total <= 50 ? { have: Math.min(have, total), total } : null;
}

// headline is the big line of an applied event: the message after "card: ",
// without the balance part after the dash.
function headline(ev) {
  let text = ev.message || "";
  if (ev.card && text.startsWith(ev.card + ": ")) text = text.slice(ev.card.length + 2);
  const dash = text.indexOf(" — ");
  return dash > 0 ? text.slice(0, dash) : text;
}

function onEvent(ev) {
  switch (ev.kind) {
    case "saved":
      lastJob = ev.job || "";
      show("saved", "Saved", ev.card);
      break;
    case "applied":
      if (ev.job && lastJob && ev.job !== lastJob) break; // an older scan finishing late
      show("applied", headline(ev), ev.balance, stampsOf(ev.balance));
      $("offline").hidden = true;
      break;
    case "refused":
      if (ev.job && lastJob && ev.job !== lastJob && ev.card) break;
      show("refused", "Not applied", reason(ev));
      break;
    case "undone":
      show("saved", "Undone", reason(ev));
      break;
    case "not_saved":
      show("not_saved", "NOT saved — please scan again", ev.card);
      break;
    case "waiting":
      $("offline").hidden = false;
      break;
    case "mode":
      $("next").textContent = ev.message;
      return;
  }
  refreshStatus();
  // The job's record is written just after its event: read the queue once
  // more when it has settled (one read per event, not a poll).
  setTimeout(refreshStatus, 500);
}

// reason is the message without the card number in front.
function reason(ev) {
  let text = ev.message || "";
  if (ev.card && text.startsWith(ev.card + ": ")) text = text.slice(ev.card.length + 2);
  return text.replace(/^NOT applied — /, "");
}

async function refreshStatus() {
  try {
    const r = await fetch("/api/v1/status", { cache: "no-store" });
    if (!r.ok) return;
    const st = await r.json();
    const d = st.queue.depth || {};
    const waiting = (d.pending || 0) + (d.sending || 0) + (d.ambiguous || 0);
    $("queue").textContent = waiting === 0 ? "All scans sent" : waiting + (waiting === 1 ? " scan" : " scans") + " waiting to be sent";
    $("offline").hidden = st.api.reachable || st.api.last_error === undefined;
    if (st.api.paused) {
      $("offline").hidden = false;
      $("offline").textContent = "Sending paused — scans are saved; the shop owner has been told";
    }
  } catch (e) {
    // The stream's own error handler shows the connection problem.
  }
}

function connect() {
  const es = new EventSource("/api/v1/events" + (lastEventId ? "?last_event_id=" + encodeURIComponent(lastEventId) : ""));
  es.onopen = () => {
    document.body.dataset.connected = "1";
    $("stream").hidden = true;
    refreshStatus();
  };
  es.onmessage = (m) => {
    if (m.lastEventId) lastEventId = m.lastEventId;
    try { onEvent(JSON.parse(m.data)); } catch (e) { /* not an event: ignore */ }
  };
  // The daemon ended the stream (this display fell behind): a new stream
  // resumes after the last event shown, so nothing is lost. (After a lost
  // connection EventSource reconnects by itself, sending Last-Event-ID.)
  es.addEventListener("end", () => { es.close(); setTimeout(connect, 1000); });
  es.onerror = () => {
    document.body.dataset.connected = "0";
    $("stream").hidden = false; // EventSource reconnects by itself
  };
}

connect();
