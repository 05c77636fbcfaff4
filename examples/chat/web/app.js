// The chat page: logs in (first message, or a cookie sent with the handshake), joins rooms,
// posts, and shows each room's messages and who joined and left. The protocol is described
// at the top of examples/chat_server.cpp.
//
// Automation (tests/chat/browser_test.sh): ?auto=1&room=R&token=T runs without a user:
//   say=TEXT    post TEXT once the page's own "joined" notice for R has come back
//   expect=N    wait for N room events (joined, left, message) in R, then `settle` ms more
//               (default 300) for anything unexpected, then close with 1000
//   cookie=1    log in with the chat_token cookie at the handshake instead of a first message
//   timeout=MS  give up after MS (default 15000)
// It then writes a JSON summary into <pre id="result">: {user, room, auth, auth_reason,
// members, events, errors, close: {code, reason, clean}, end: "expected"|"closed"|"timeout"}.
// chromium --dump-dom prints the DOM at the load event, so until the summary is written the
// page holds that event back with an iframe whose document is open (loading) until then.
'use strict';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

function socketUrl() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}

function setCookie(token) {
  // Only for the WebSocket endpoint, never sent cross-site.
  document.cookie = 'chat_token=' + encodeURIComponent(token) + '; path=/ws; SameSite=Strict';
}

function clearCookie() {
  document.cookie = 'chat_token=; path=/ws; SameSite=Strict; max-age=0';
}

// One connection: calls handlers.onEvent(msg) for each server message, handlers.onClose(ev).
function connect(token, useCookie, handlers) {
  if (useCookie) setCookie(token); else clearCookie();
  const ws = new WebSocket(socketUrl());
  ws.addEventListener('open', () => {
    if (!useCookie) ws.send(JSON.stringify({ type: 'auth', token }));
  });
  ws.addEventListener('message', (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (msg && typeof msg === 'object') handlers.onEvent(msg);
  });
  ws.addEventListener('close', (ev) => handlers.onClose(ev));
  return {
    send: (obj) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); },
    close: (code, reason) => ws.close(code, reason),
  };
}

// ---- Automation ----

function runAuto() {
  const hold = document.createElement('iframe');
  hold.hidden = true;
  document.body.appendChild(hold);
  hold.contentDocument.open(); // the load event waits until this document is closed

  const room = params.get('room') || 'lobby';
  const expect = Number(params.get('expect') || '0');
  const settle = Number(params.get('settle') || '300');
  const say = params.get('say');
  const summary = {
    user: null, room, auth: null, auth_reason: null, members: null,
    events: [], errors: [], close: null, end: null,
  };
  let counted = 0;
  let posted = false;
  let closing = false;
  let finished = false;

  function finish(end) {
    if (finished) return;
    finished = true;
    summary.end = summary.end || end;
    const out = $('result');
    out.hidden = false;
    out.textContent = JSON.stringify(summary);
    document.title = 'DONE';
    hold.contentDocument.close();
  }

  const conn = connect(params.get('token') || '', params.get('cookie') === '1', {
    onEvent(msg) {
      switch (msg.type) {
        case 'auth_success':
          summary.auth = 'success';
          summary.user = msg.user;
          conn.send({ type: 'join', room });
          break;
        case 'auth_failed':
          summary.auth = 'failed';
          summary.auth_reason = msg.reason;
          break;
        case 'members':
          summary.members = msg.users;
          break;
        case 'error':
          summary.errors.push(msg.reason);
          break;
        case 'joined':
        case 'left':
        case 'message': {
          const e = { type: msg.type, room: msg.room, user: msg.user };
          if (msg.type === 'message') e.text = msg.text;
          summary.events.push(e);
          if (msg.type === 'joined' && msg.room === room && msg.user === summary.user && say && !posted) {
            posted = true;
            conn.send({ type: 'message', room, text: say });
          }
          if (msg.room === room && ++counted === expect && !closing) {
            closing = true;
            summary.end = 'expected';
            setTimeout(() => conn.close(1000, 'done'), settle);
          }
          break;
        }
      }
    },
    onClose(ev) {
      summary.close = { code: ev.code, reason: ev.reason, clean: ev.wasClean };
      finish('closed');
    },
  });
  setTimeout(() => finish('timeout'), Number(params.get('timeout') || '15000'));
}

// ---- The interactive page ----

function runInteractive() {
  const rooms = new Map(); // name -> {log: [entries], members: Set, unread}
  let current = null;
  let conn = null;
  let me = null;

  $('token').value = params.get('token') || '';
  if (params.get('room')) $('login-room').value = params.get('room');
  if (params.get('user')) {
    $('login-hint').textContent = 'Logging in as ' + params.get('user') + '.';
    $('login-hint').hidden = false;
  }
  if (params.has('token')) history.replaceState(null, '', location.pathname); // keep it out of history

  function status(text) { $('status').textContent = text; }

  function showLoginError(text) {
    $('login-error').textContent = text;
    $('login-error').hidden = !text;
  }

  function roomState(name) {
    if (!rooms.has(name)) rooms.set(name, { log: [], members: new Map(), unread: 0 });
    return rooms.get(name);
  }

  function addEntry(name, entry) {
    const r = roomState(name);
    r.log.push(entry);
    if (r.log.length > 500) r.log.shift();
    if (name !== current) ++r.unread;
  }

  function render() {
    const list = $('rooms');
    list.replaceChildren();
    for (const [name, r] of rooms) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = name + (r.unread ? ' (' + r.unread + ')' : '');
      if (name === current) b.className = 'current';
      b.addEventListener('click', () => { current = name; r.unread = 0; render(); });
      li.appendChild(b);
      list.appendChild(li);
    }
    const r = current && rooms.get(current);
    $('leave').disabled = !r;
    $('text').disabled = !r;
    const members = $('members');
    members.replaceChildren();
    const log = $('log');
    log.replaceChildren();
    if (!r) return;
    for (const name of [...r.members.keys()].sort()) {
      const li = document.createElement('li');
      li.textContent = name + (name === me ? ' (you)' : '');
      members.appendChild(li);
    }
    for (const e of r.log) {
      const li = document.createElement('li');
      li.className = e.kind;
      if (e.kind === 'message') {
        const who = document.createElement('strong');
        who.textContent = e.user;
        li.append(who, ' ', e.text);
      } else {
        li.textContent = e.text;
      }
      log.appendChild(li);
    }
    log.scrollTop = log.scrollHeight;
  }

  function memberDelta(name, user, delta) {
    const m = roomState(name).members;
    const n = (m.get(user) || 0) + delta;
    if (n > 0) m.set(user, n); else m.delete(user);
  }

  function onEvent(msg) {
    switch (msg.type) {
      case 'auth_success':
        me = msg.user;
        status('connected as ' + me);
        $('login').hidden = true;
        $('chat').hidden = false;
        $('logout').hidden = false;
        conn.send({ type: 'join', room: $('login-room').value });
        break;
      case 'auth_failed':
        showLoginError('Login refused: ' + msg.reason);
        break;
      case 'members': {
        const r = roomState(msg.room);
        r.members = new Map();
        for (const u of msg.users) r.members.set(u, 1);
        break;
      }
      case 'joined':
        // The joiner's own list ("members", just before) already names it.
        if (msg.user === me) current = msg.room; else memberDelta(msg.room, msg.user, 1);
        addEntry(msg.room, { kind: 'notice', text: msg.user + ' joined' });
        break;
      case 'left':
        if (msg.user === me) {
          rooms.delete(msg.room);
          if (current === msg.room) current = rooms.keys().next().value || null;
        } else {
          memberDelta(msg.room, msg.user, -1);
          addEntry(msg.room, { kind: 'notice', text: msg.user + ' left' });
        }
        break;
      case 'message':
        addEntry(msg.room, { kind: 'message', user: msg.user, text: msg.text });
        break;
      case 'error':
        if (current) addEntry(current, { kind: 'error', text: msg.reason }); else status('error: ' + msg.reason);
        break;
    }
    render();
  }

  function onClose(ev) {
    conn = null;
    status('disconnected (' + ev.code + (ev.reason ? ' ' + ev.reason : '') + ')');
    $('chat').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    if (ev.code === 1006 && !me) showLoginError('The server refused the connection (a wrong cookie?).');
    rooms.clear();
    current = null;
    me = null;
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    showLoginError('');
    status('connecting');
    conn = connect($('token').value, $('use-cookie').checked, { onEvent, onClose });
  });
  $('logout').addEventListener('click', () => {
    clearCookie();
    if (conn) conn.close(1000, 'logged out');
  });
  $('join').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('join-room').value;
    if (rooms.has(name)) { current = name; render(); return; }
    conn.send({ type: 'join', room: name });
    $('join-room').value = '';
  });
  $('leave').addEventListener('click', () => { if (current) conn.send({ type: 'leave', room: current }); });
  $('post').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!current) return;
    conn.send({ type: 'message', room: current, text: $('text').value });
    $('text').value = '';
  });
}

if (params.get('auto') === '1') runAuto(); else runInteractive();
