/* demo.js: the demo page: four panes, one per transport, on one channel, with a publish form, a background job and cut buttons.
 *
 * Connections. A browser opens at most six HTTP/1.1 connections to one host, shared by all its tabs, and every pane
 * holds one (the long-poll too, while it waits). Two choices keep the page within that:
 * - One tab holds the connections for every tab of the page. Tabs elect it with navigator.locks (the lock goes with
 *   the tab, and the next tab in line takes over from the cursors the holder kept announcing); without locks a
 *   heartbeat over BroadcastChannel elects it (relay.js); without BroadcastChannel each tab holds its own. The holder
 *   relays every event, gap, status and figure to the other tabs over BroadcastChannel, and their cut buttons ask it.
 * - A job rides on the feed: the page starts it on the demo channel, so its `progress` and `finish` events reach each
 *   pane over the connection the pane already holds (the client asks for those types with `events`). Subscribing each
 *   pane to a channel of the job's own would hold four more connections, eight in all, and stall everything else.
 * So however many tabs are open the browser holds four connections to the gateway, and two stay free for publishing.
 */
(function (root) {
  'use strict';
  var doc = root.document;
  var channel = doc.body.getAttribute('data-channel');
  var SPECS = [
    { transport: 'sse', title: 'EventSource (SSE)', desc: 'One held text/event-stream response, parsed by the browser\u2019s EventSource.' },
    { transport: 'stream', title: 'Streaming XHR', desc: 'One chunked response of JSON lines, read as it arrives (fetch or XHR).' },
    { transport: 'iframe', title: 'Hidden iframe', desc: 'A never-ending HTML page of <script> calls into this page.' },
    { transport: 'poll', title: 'Long-polling', desc: 'One request per batch, held until an event arrives.' }
  ];
  var EVENTS = ['progress', 'finish'];
  var KEEP = 30, POINTS = 40, SHOWN = 2000, CUT_MS = 2000, STATS_MS = 500;
  var panes = {}, subs = {}, cursors = {}, times = {}, timeOrder = [], pending = {};
  var relay = null, statsTimer = null;

  function now() { return new Date().getTime(); }
  function $(id) { return doc.getElementById(id); }
  function text(el, value) { el.textContent = value; }
  function bytes(n) { return n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : (n / 1048576).toFixed(2) + ' MiB'; }
  function clock(ms) { var d = new Date(ms); return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (n) { return n < 10 ? '0' + n : n; }).join(':'); }
  function parse(s) { try { return JSON.parse(s); } catch (e) { return null; } }

  // The SSE frame has no time field, so an event's time comes from whichever pane saw it with one.
  function noteTime(id, time) {
    if (times.hasOwnProperty(id)) { return; }
    times[id] = time;
    if (timeOrder.push(id) > 500) { delete times[timeOrder.shift()]; }
    var waiting = pending[id] || [];
    delete pending[id];
    for (var i = 0; i < waiting.length; i++) { waiting[i].pane.latency(waiting[i].at - time); }
  }

  function Pane(spec) {
    var self = this;
    this.el = $('pane-template').content.firstElementChild.cloneNode(true);
    this.transport = spec.transport;
    this.el.setAttribute('data-transport', spec.transport);
    text(this.find('.pane-title'), spec.title);
    text(this.find('.pane-desc'), spec.desc);
    this.seen = {}; this.history = []; this.latencies = []; this.state = 'connecting';
    this.find('.cut').addEventListener('click', function () { cut(self.transport); }, false);
    $('panes').appendChild(this.el);
  }
  Pane.prototype.find = function (selector) { return this.el.querySelector(selector); };
  Pane.prototype.status = function (state) {
    this.state = state;
    this.el.setAttribute('data-status', state);
    text(this.find('.status'), state);
    this.find('.status').setAttribute('data-status', state);
    this.find('.cut').disabled = state === 'unsupported';
  };
  Pane.prototype.event = function (ev, at) {
    if (this.seen[ev.id]) { return; }
    this.seen[ev.id] = true;
    if (this.history.push({ ev: ev, at: at }) > KEEP) { this.history.shift(); }
    if (typeof ev.time === 'number') { noteTime(ev.id, ev.time); }
    if (times.hasOwnProperty(ev.id)) { this.latency(at - times[ev.id]); } else { (pending[ev.id] = pending[ev.id] || []).push({ pane: this, at: at }); }
    if (ev.event === 'progress' || ev.event === 'finish') { this.progress(ev); } else { this.show(ev, at); }
  };
  Pane.prototype.show = function (ev, at) {
    var list = this.find('.events'), item = doc.createElement('li'), meta = doc.createElement('span'), body = doc.createElement('pre');
    meta.className = 'ev-meta';
    text(meta, clock(at) + ' \u00b7 ' + ev.event + ' \u00b7 ' + ev.id);
    body.className = 'ev-data';
    text(body, ev.data.length > SHOWN ? ev.data.slice(0, SHOWN) + '\u2026 (' + (ev.data.length - SHOWN) + ' more characters)' : ev.data);
    item.appendChild(meta);
    item.appendChild(body);
    var empty = list.querySelector('.empty');
    if (empty) { list.removeChild(empty); }
    list.insertBefore(item, list.firstChild);
    while (list.children.length > KEEP) { list.removeChild(list.lastChild); }
  };
  Pane.prototype.progress = function (ev) {
    var job = parse(ev.data) || {}, box = this.find('.job'), percent = Math.max(0, Math.min(100, Number(job.percent) || 0));
    var done = ev.event === 'finish';
    box.hidden = false;
    box.setAttribute('data-state', done ? 'done' : 'running');
    text(this.find('.job-message'), 'Job ' + job.job + ': ' + (done ? 'done' : job.message || ''));
    text(this.find('.job-percent'), (done ? 100 : percent) + ' %');
    this.find('.progress').setAttribute('aria-valuenow', String(done ? 100 : percent));
    this.find('.progress-fill').style.width = (done ? 100 : percent) + '%';
  };
  Pane.prototype.gap = function (gap) {
    this.show({ id: 'gap', event: 'gap', data: 'Events were lost before ' + gap.oldest + '; the backlog follows.' }, now());
  };
  Pane.prototype.latency = function (ms) {
    if (this.latencies.push(Math.max(0, ms)) > POINTS) { this.latencies.shift(); }
    var list = this.latencies, top = Math.max.apply(null, list.concat([20])), points = [];
    for (var i = 0; i < list.length; i++) { points.push((i * 120 / (POINTS - 1)).toFixed(1) + ',' + (31 - list[i] * 29 / top).toFixed(1)); }
    this.find('.chart-line').setAttribute('points', points.join(' '));
    text(this.find('.stat-latency'), Math.round(ms) + ' ms');
  };
  Pane.prototype.stats = function (s) {
    text(this.find('.stat-events'), String(s.events));
    text(this.find('.stat-requests'), String(s.requests));
    text(this.find('.stat-reconnects'), String(s.reconnects));
    text(this.find('.stat-bytes'), (s.bytesExact ? '' : '\u2248 ') + bytes(s.bytes));
  };

  function open(transport) {
    var pane = panes[transport];
    try {
      subs[transport] = root.Comet.subscribe(channel, {
        transport: transport, cursor: cursors[transport], events: EVENTS,
        onEvent: function (ev, handle) {
          var at = now();
          cursors[transport] = handle.cursor;
          pane.event(ev, at);
          relay.post({ kind: 'event', pane: transport, ev: ev, at: at });
        },
        onGap: function (gap) { pane.gap(gap); relay.post({ kind: 'gap', pane: transport, gap: gap }); },
        onStatus: function (state) { pane.status(state); relay.post({ kind: 'status', pane: transport, status: state }); }
      });
    } catch (e) {
      pane.status('unsupported');
    }
  }
  function announce() {
    for (var t in panes) {
      if (!panes.hasOwnProperty(t)) { continue; }
      var sub = subs[t], stats = sub ? sub.stats : { events: 0, requests: 0, reconnects: 0, bytes: 0, bytesExact: true };
      if (sub) { cursors[t] = sub.cursor; }
      panes[t].stats(stats);
      relay.post({ kind: 'stats', pane: t, stats: stats, cursor: cursors[t], status: panes[t].state });
    }
  }
  function lead() {
    role('leader');
    for (var i = 0; i < SPECS.length; i++) { open(SPECS[i].transport); }
    announce();
    statsTimer = setInterval(announce, STATS_MS);
  }
  function follow() {
    clearInterval(statsTimer);
    for (var t in subs) { if (subs.hasOwnProperty(t)) { subs[t].close(); } }
    subs = {};
    role('follower');
    relay.post({ kind: 'hello' });
  }
  function snapshot() {
    for (var t in panes) {
      if (panes.hasOwnProperty(t)) { relay.post({ kind: 'snapshot', pane: t, history: panes[t].history, status: panes[t].state }); }
    }
    announce();
  }
  function cut(transport) {
    if (!relay.leader) { relay.post({ kind: 'cut', pane: transport }); } else if (subs[transport]) { subs[transport].cut(CUT_MS); }
  }
  function message(msg) {
    var pane = panes[msg.pane];
    if (relay.leader) {
      if (msg.kind === 'hello') { snapshot(); } else if (msg.kind === 'cut') { cut(msg.pane); }
      return;
    }
    if (!pane) { return; }
    if (msg.kind === 'event') { pane.event(msg.ev, msg.at); } else if (msg.kind === 'gap') { pane.gap(msg.gap); } else if (msg.kind === 'status') { pane.status(msg.status); } else if (msg.kind === 'stats') {
      pane.stats(msg.stats);
      cursors[msg.pane] = msg.cursor;
      pane.status(msg.status);
    } else if (msg.kind === 'snapshot') {
      for (var i = 0; i < msg.history.length; i++) { pane.event(msg.history[i].ev, msg.history[i].at); }
    }
  }
  function role(name) {
    var el = $('role');
    el.setAttribute('data-role', name);
    text(el, name === 'leader'
      ? (relay.mode === 'alone' ? 'This tab holds its own four connections.' : 'This tab holds the four connections for every open tab of this page.')
      : 'Another tab holds the connections; its events are relayed here.');
  }

  function post(url, body, done) {
    var xhr = new root.XMLHttpRequest();
    xhr.open('POST', url, true);
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var answer = parse(xhr.responseText) || {};
      done(xhr.status, answer, answer.error || answer.message || xhr.statusText || 'the gateway did not answer');
    };
    xhr.send(body);
  }
  function note(id, message, failed) {
    var el = $(id);
    el.setAttribute('data-state', failed ? 'error' : 'ok');
    text(el, message);
  }
  function publish(e) {
    e.preventDefault();
    var box = $('message');
    if (!box.value) { return; }
    post('/channels/' + encodeURIComponent(channel), box.value, function (status, answer, error) {
      if (status !== 201) { note('publish-note', 'Not published (' + status + '): ' + error, true); return; }
      note('publish-note', 'Published ' + answer.id + ' to ' + answer.subscribers + ' subscriber' + (answer.subscribers === 1 ? '' : 's') + '.');
      box.value = '';
    });
  }
  function startJob(e) {
    e.preventDefault();
    var query = 'steps=' + encodeURIComponent($('steps').value) + '&pace_ms=' + encodeURIComponent($('pace').value) + '&channel=' + encodeURIComponent(channel);
    post('/demo/jobs?' + query, '', function (status, answer, error) {
      if (status !== 202) { note('job-note', 'Not started (' + status + '): ' + error, true); return; }
      note('job-note', 'Job ' + answer.job + ' started: ' + answer.steps + ' steps, one every ' + answer.pace_ms + ' ms.');
    });
  }

  for (var i = 0; i < SPECS.length; i++) { panes[SPECS[i].transport] = new Pane(SPECS[i]); }
  $('publish').addEventListener('submit', publish, false);
  $('job').addEventListener('submit', startJob, false);
  $('message').addEventListener('keydown', function (e) { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { publish(e); } }, false);
  relay = new root.Relay('cometgate-demo:' + channel, { lead: lead, follow: follow, message: message });
  if (!relay.leader) { role('follower'); relay.post({ kind: 'hello' }); }
}(this));
