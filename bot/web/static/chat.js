// The web chat page: posts what the citizen types or presses, long-polls the replies.
// The session is an HttpOnly cookie the server issues (POST /api/chat/session); a session the
// server does not know is answered 401, and the page asks for a new one.
"use strict";
const T = JSON.parse(document.getElementById("strings").textContent);
const LANG = document.documentElement.lang;
const MINE = "my-messages";  // what I typed, kept in this tab only, to redraw it after a reload
const RENEWED = "session-renewed";  // when this tab last asked for a session (no reload loops)
const JSON_HEADERS = {"Content-Type": "application/json"};
const log = document.getElementById("log");
const statusLine = document.getElementById("status");
let after = 0;
let started = false;  // whether this chat has begun: nothing is stored on the server before
let intro = null;  // the greeting with its Start button, drawn here until the chat begins
const seen = new Set();
const drawn = new Map();  // message id -> its bubble

function uid() {
  return (crypto.randomUUID ? crypto.randomUUID() : Date.now() + "-" + Math.random()).slice(0, 64);
}

function sleep(ms) {
  return new Promise(res => setTimeout(res, ms));
}

function bubble(cls) {
  const div = document.createElement("div");
  div.className = "msg " + cls;
  log.appendChild(div);
  return div;
}

function showMine(text) {
  bubble("me").textContent = text;
  log.scrollTop = log.scrollHeight;
}

function remember(text) {
  const mine = JSON.parse(sessionStorage.getItem(MINE) || "[]");
  mine.push([after, text]);
  sessionStorage.setItem(MINE, JSON.stringify(mine.slice(-100)));
}

function redraw(messages) {  // my messages go before the first reply that came after them
  const mine = JSON.parse(sessionStorage.getItem(MINE) || "[]");
  let i = 0;
  for (const m of messages) {
    while (i < mine.length && mine[i][0] < m.id) showMine(mine[i++][1]);
    showBot(m); after = Math.max(after, m.id);
  }
  while (i < mine.length) showMine(mine[i++][1]);
}

function showIntro() {  // drawn here, not sent by the bot: opening the page stores nothing
  intro = bubble("bot");
  intro.appendChild(document.createTextNode(T.intro));
  const box = document.createElement("div");
  box.className = "buttons";
  const btn = document.createElement("button");
  btn.type = "button"; btn.id = "start"; btn.textContent = T.start;
  btn.addEventListener("click", () => post({text: "/start"}));
  box.appendChild(btn);
  intro.appendChild(box);
}

function say(text, body) {
  showMine(text); remember(text); return post(body);
}

function forget() {  // the account was erased: nothing it said stays on this page or tab
  sessionStorage.removeItem(MINE);
  log.replaceChildren();
  drawn.clear();
  document.getElementById("text").value = "";
}

function showBot(m) {
  if (seen.has(m.id)) return;
  seen.add(m.id);
  if (m.forget) forget();
  // A message that replaces an earlier one (a broadcast's progress) is redrawn in its place.
  const earlier = m.replaces ? drawn.get(m.replaces) : undefined;
  const div = earlier || bubble("bot");
  div.replaceChildren();
  drawn.set(m.id, div);
  if (m.image) {
    const img = document.createElement("img");
    img.src = m.image; img.alt = "";
    div.appendChild(img);
  }
  div.appendChild(document.createTextNode(m.text));
  if (m.request_phone) {
    const hint = document.createElement("div");
    hint.className = "hint"; hint.textContent = T.phone_hint;
    div.appendChild(hint);
  }
  if (m.buttons && m.buttons.length) {
    const box = document.createElement("div");
    box.className = "buttons";
    for (const row of m.buttons) for (const b of row) {
      const btn = document.createElement("button");
      btn.type = "button"; btn.textContent = b.label;
      btn.addEventListener("click", () => say(b.label, {payload: b.payload}));
      box.appendChild(btn);
    }
    div.appendChild(box);
  }
  if (!earlier) log.scrollTop = log.scrollHeight;
}

async function renew() {  // a session issued by the server; false (and why, shown) if none
  if (Date.now() - Number(sessionStorage.getItem(RENEWED) || 0) < 30000) {
    statusLine.textContent = T.cookies;  // asked moments ago, and the cookie did not stay
    return false;
  }
  sessionStorage.setItem(RENEWED, String(Date.now()));
  const r = await fetch("/api/chat/session", {method: "POST", headers: JSON_HEADERS, body: "{}"});
  if (!r.ok) {
    statusLine.textContent = r.status === 429 ? T.busy : T.error;
    return false;
  }
  sessionStorage.removeItem(MINE);  // a new session starts a new conversation
  return true;
}

async function call(path, init) {  // a request in this browser's session
  const r = await fetch(path, init);
  if (r.status !== 401 || !(await renew())) return r;
  if (started) {  // the conversation on screen belonged to the old session
    location.reload();
    return new Promise(() => {});
  }
  const again = await fetch(path, init);
  if (again.status === 401) statusLine.textContent = T.cookies;
  return again;
}

async function post(body) {
  body.id = uid();
  body.language = LANG;
  started = true;
  if (intro) { intro.remove(); intro = null; }
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const r = await call("/api/chat/messages",
                           {method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body)});
      if (r.ok) { statusLine.textContent = ""; return; }
      if (r.status === 401) return;  // the status line says why
      if (r.status === 429) statusLine.textContent = T.too_many;
      else if (r.status < 500) { statusLine.textContent = T.error; return; }
      else statusLine.textContent = T.offline;
    } catch (e) {  // retried below with the same id, so nothing is handled twice
      statusLine.textContent = T.offline;
    }
    await sleep(1000 * (attempt + 1));
  }
}

async function poll() {
  for (;;) {
    try {
      const r = await call("/api/chat/messages?after=" + after + "&wait=25");
      if (r.status === 401) return;  // the status line says why
      if (!r.ok) throw new Error(r.status);
      const data = await r.json();
      for (const m of data.messages) { showBot(m); after = Math.max(after, m.id); }
      statusLine.textContent = "";
    } catch (e) {
      statusLine.textContent = T.offline;
      await sleep(2000);
    }
  }
}

document.getElementById("composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("text");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  say(text, {text});
});

document.getElementById("switch").addEventListener("click", async (ev) => {
  ev.preventDefault();  // tell the bot too (once the chat has begun), then reload in that language
  if (started) await post({payload: "lang:" + ev.target.lang});
  location.href = ev.target.href;
});

(async () => {
  for (;;) {
    try {
      const r = await call("/api/chat/messages?after=0");
      if (r.status === 401 || r.status === 429) return;  // the status line says why
      if (!r.ok) throw new Error(r.status);
      const data = await r.json();
      redraw(data.messages);
      if (data.messages.length) started = true; else showIntro();
      statusLine.textContent = "";
      break;
    } catch (e) {
      statusLine.textContent = T.offline;
      await sleep(2000);
    }
  }
  poll();
})();
