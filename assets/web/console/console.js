// The operator console at /console: the cluster's nodes and rooms refreshed every
// second, and the admin actions of the rooms API (create, close, kick) with the
// operator's admin token. What the tables show and the requests the actions send are
// model.js's (tested with `node --test`); this module wires them to the page.

import {
  NODE_COLUMNS,
  REFRESH_MS,
  ROOM_COLUMNS,
  ROSTER_COLUMNS,
  TOKEN_KEY,
  closeRequest,
  createRequest,
  detailRequest,
  errorText,
  gamesOf,
  hasRoster,
  kickRequest,
  listNodesRequest,
  listRoomsRequest,
  nodeCells,
  roomCells,
  rosterCells,
  sortRooms,
} from './model.js';

const $ = (id) => document.getElementById(id);

const page = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  /** The room whose roster is open, or null. */
  roster: null,
  timer: null,
};

/** An API answer other than 2xx, or none at all (status 0). */
class ApiError extends Error {
  constructor(status, body) {
    super(errorText(status, body));
    this.status = status;
    this.body = body;
  }
}

/** Sends a model.js request; resolves with its JSON body (null when empty). */
async function send(req) {
  let res;
  try {
    res = await fetch(req.path, { method: req.method, headers: req.headers, body: req.body, cache: 'no-store' });
  } catch {
    throw new ApiError(0, null);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function showError(message) {
  $('action-result').hidden = true;
  $('action-error').textContent = message;
  $('action-error').hidden = false;
}

function showResult(message) {
  $('action-error').hidden = true;
  $('action-result').textContent = message;
  $('action-result').hidden = false;
}

function header(table, columns, actions) {
  const tr = table.tHead.rows[0];
  tr.replaceChildren(...[...columns, ...(actions ? [''] : [])].map((c) => Object.assign(document.createElement('th'), { textContent: c })));
}

/**
 * Brings `tbody`'s rows to `items`, one row per key, updating cells in place (rows and
 * their buttons are not rebuilt every second, so a click never lands on a replaced one).
 * `actions(item)` lists the row's buttons as `[label, action, danger]`.
 */
function syncRows(tbody, items, key, cells, actions) {
  const old = new Map([...tbody.rows].map((r) => [r.dataset.key, r]));
  let prev = null;
  for (const item of items) {
    const k = key(item);
    const values = cells(item);
    let tr = old.get(k);
    old.delete(k);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.key = k;
      for (let i = 0; i < values.length; i++) tr.append(document.createElement('td'));
      if (actions) {
        const td = document.createElement('td');
        td.className = 'actions';
        for (const [label, action, danger] of actions(item)) {
          const b = Object.assign(document.createElement('button'), { type: 'button', textContent: label });
          b.dataset.action = action;
          if (danger) b.className = 'danger';
          td.append(b);
        }
        tr.append(td);
      }
    }
    values.forEach((v, i) => {
      if (tr.cells[i].textContent !== v) tr.cells[i].textContent = v;
    });
    const at = prev ? prev.nextSibling : tbody.firstChild;
    if (at !== tr) tbody.insertBefore(tr, at);
    prev = tr;
  }
  for (const tr of old.values()) tr.remove();
}

function renderNodes(nodes) {
  syncRows($('nodes').tBodies[0], nodes, (n) => n.id, nodeCells);
  const select = $('create-node');
  const chosen = select.value;
  const ids = nodes.map((n) => n.id);
  const shown = [...select.options].slice(1).map((o) => o.value);
  if (ids.join('\n') !== shown.join('\n')) {
    select.replaceChildren(select.options[0], ...ids.map((id) => Object.assign(document.createElement('option'), { value: id, textContent: id })));
    select.value = ids.includes(chosen) ? chosen : '';
  }
}

function renderRooms(rooms) {
  syncRows($('rooms').tBodies[0], sortRooms(rooms), (r) => r.id, roomCells, () => [
    ['Roster', 'roster', false],
    ['Close', 'close', true],
  ]);
  const games = gamesOf(rooms);
  const list = $('games');
  if ([...list.options].map((o) => o.value).join('\n') !== games.join('\n')) {
    list.replaceChildren(...games.map((g) => Object.assign(document.createElement('option'), { value: g })));
  }
}

async function refreshRoster() {
  const id = page.roster;
  if (id === null) return;
  const note = $('roster-note');
  try {
    const detail = await send(detailRequest(id, page.token));
    if (page.roster !== id) return;
    if (!hasRoster(detail)) {
      note.textContent = 'The roster (player ids) is shown to the admin only: enter the admin token.';
      syncRows($('roster-rows'), [], (e) => e.player_id, rosterCells);
      return;
    }
    note.textContent = detail.roster.length
      ? `${detail.players} connected, ${detail.held} held for a resume, ${detail.reserved} seats reserved · node ${detail.node}`
      : 'Nobody in this room.';
    syncRows($('roster-rows'), detail.roster, (e) => e.player_id, rosterCells, () => [['Kick', 'kick', true]]);
  } catch (e) {
    if (page.roster !== id) return;
    note.textContent = e.status === 404 ? `Room ${id} is gone.` : `Roster: ${e.message}`;
    syncRows($('roster-rows'), [], (e) => e.player_id, rosterCells);
  }
}

/** One refresh of everything shown; the next one is scheduled when this one is done. */
async function refresh() {
  const status = $('refresh-status');
  try {
    const [nodes, rooms] = await Promise.all([send(listNodesRequest(page.token)), send(listRoomsRequest(page.token))]);
    renderNodes(nodes ?? []);
    renderRooms(rooms ?? []);
    await refreshRoster();
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    status.textContent = `refresh failed: ${e.message}`;
  } finally {
    // One timer at most, also when an action's refresh overlapped this one.
    clearTimeout(page.timer);
    page.timer = setTimeout(refresh, REFRESH_MS);
  }
}

function showToken() {
  $('token').value = page.token;
  $('token-state').textContent = page.token
    ? 'token set (kept in this tab only)'
    : 'no token: admin actions work only on a loopback server without --admin-token';
}

function openRoster(id) {
  page.roster = id;
  $('roster-title').textContent = `Roster of room ${id}`;
  $('roster-note').textContent = 'Loading…';
  syncRows($('roster-rows'), [], (e) => e.player_id, rosterCells);
  $('roster').hidden = false;
  refreshRoster();
}

/** Runs an admin action: its result or its error shown, then everything refreshed. */
async function act(what, req, done) {
  try {
    const body = await send(req);
    showResult(done(body));
  } catch (e) {
    showError(`${what}: ${e.message}`);
  }
  await refresh();
}

function wire() {
  header($('nodes'), NODE_COLUMNS, false);
  header($('rooms'), ROOM_COLUMNS, true);
  header($('roster-table'), ROSTER_COLUMNS, true);
  showToken();

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    page.token = $('token').value.trim();
    if (page.token) sessionStorage.setItem(TOKEN_KEY, page.token);
    else sessionStorage.removeItem(TOKEN_KEY);
    showToken();
    refresh();
  });
  $('token-forget').addEventListener('click', () => {
    page.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    showToken();
    refresh();
  });

  $('create-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    let req;
    try {
      req = createRequest(
        { id: $('create-id').value, game: $('create-game').value, maxPlayers: $('create-max').value, node: $('create-node').value },
        page.token,
      );
    } catch (e) {
      showError(`Create: ${e.message}`);
      return;
    }
    act('Create', req, (room) => {
      $('create-id').value = '';
      return `Created room ${room.id} (${room.game}, ${room.max_players} seats) on node ${room.node}.`;
    });
  });

  $('rooms').tBodies[0].addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-action]');
    if (!button) return;
    const id = button.closest('tr').dataset.key;
    if (button.dataset.action === 'roster') {
      openRoster(id);
    } else if (button.dataset.action === 'close') {
      if (!window.confirm(`Close room ${id}? Its players are sent back to the lobby (close code 4016).`)) return;
      act('Close', closeRequest(id, page.token), () => {
        if (page.roster === id) {
          page.roster = null;
          $('roster').hidden = true;
        }
        return `Closed room ${id}.`;
      });
    }
  });

  $('roster-rows').addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-action="kick"]');
    if (!button || page.roster === null) return;
    const room = page.roster;
    const row = button.closest('tr');
    const player = row.dataset.key;
    const name = row.cells[1].textContent;
    if (!window.confirm(`Kick ${name} (${player}) from room ${room}? The seat is freed at once; the client is told not to reconnect (close code 4017).`)) return;
    act('Kick', kickRequest(room, player, page.token), () => `Kicked ${name} (${player}) from room ${room}.`);
  });

  $('roster-close').addEventListener('click', () => {
    page.roster = null;
    $('roster').hidden = true;
  });

  refresh();
}

wire();
