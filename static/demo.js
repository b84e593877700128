/* demo.js: the demo page: five panes, one per transport, each holding ONE connection for the demo channel and the
 * channel of every job it follows, with a publish form, background jobs, cut buttons and a live comparison.
 *
 * Connections. A browser opens at most six HTTP/1.1 connections to one host, shared by all its tabs. Each pane's
 * connection is `shared: true` (comet.js): one tab holds it for every tab of the page and the others get its events
 * over BroadcastChannel, so however many tabs are open the browser holds five connections, one per transport. A job
 * runs on a channel of its own (`job-<n>`): the gateway announces it on the demo channel (a `job` event), every pane
 * adds that channel to the connection it already holds, from the announcement's id (so no progress is missed), and
 * when the job ends its channel leaves the connection with no request of its own.
 */
(function (root) {
  'use strict';
  var doc = root.document;
  var channel = doc.body.getAttribute('data-channel');
  var SPECS = [
    { transport: 'ws', title: 'WebSocket', desc: 'One socket of JSON text frames; following a new channel is a message on it, not a new request.' },
    { transport: 'sse', title: 'EventSource (SSE)', desc: 'One held text/event-stream response, parsed by the browser\u2019s EventSource.' },
    { transport: 'stream', title: 'Streaming XHR', desc: 'One chunked response of JSON lines, read as it arrives (fetch or XHR).' },
    { transport: 'iframe', title: 'Hidden iframe', desc: 'A never-ending HTML page of <script> calls into this page.' },
    { transport: 'poll', title: 'Long-polling', desc: 'One request per batch, held until an event arrives.' }
  ];
  var JOB_EVENTS = ['progress', 'finish'];
  var KEEP = 30, POINTS = 40, SHOWN = 2000, CUT_MS = 2000, STATS_MS = 500, SAMPLES = 5000;
  var panes = {}, times = {}, timeOrder = [], pending = {};

  function now() { return new Date().getTime(); }
  function $(id) { return doc.getElementById(id); }
  function text(el, value) { el.textContent = value; }
  function bytes(n) { return n < 1024 ? Math.round(n) + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : (n / 1048576).toFixed(2) + ' MiB'; }
  function clock(ms) { var d = new Date(ms); return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (n) { return n < 10 ? '0' + n : n; }).join(':'); }
  function parse(s) { try { return JSON.parse(s); } catch (e) { return null; } }
  function percentile(sorted, p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : null; }

  // A single-channel SSE frame has no time field, so an event's time comes from whichever pane saw it with one.
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
    this.seen = {}; this.latencies = []; this.samples = []; this.jobs = {}; this.state = 'connecting';
    this.find('.cut').addEventListener('click', function () { if (self.conn) { self.conn.cut(CUT_MS); } }, false);
    $('panes').appendChild(this.el);
    this.row = $('compare-template').content.firstElementChild.cloneNode(true);
    this.row.setAttribute('data-transport', spec.transport);
    text(this.row.querySelector('.cmp-name'), spec.title);
    $('compare-rows').appendChild(this.row);
    try {
      this.conn = root.Comet.connect({
        transport: spec.transport, shared: true,
        onStatus: function (state) { self.status(state); },
        onRole: function () { role(); }
      });
    } catch (e) {
      this.status('unsupported');
      return;
    }
    this.conn.subscribe(channel, { events: ['job'].concat(JOB_EVENTS), onEvent: function (ev) { self.event(ev); }, onGap: function (gap) { self.gap(gap); } });
  }
  Pane.prototype.find = function (selector) { return this.el.querySelector(selector); };
  Pane.prototype.status = function (state) {
    if (state === 'idle' || state === 'fallback') { return; }
    this.state = state;
    this.el.setAttribute('data-status', state);
    text(this.find('.status'), state);
    this.find('.status').setAttribute('data-status', state);
    this.find('.cut').disabled = state === 'unsupported';
  };
  Pane.prototype.event = function (ev) {
    var at = now();
    if (this.seen[ev.id]) { return; }
    this.seen[ev.id] = true;
    if (typeof ev.time === 'number') { noteTime(ev.id, ev.time); }
    if (times.hasOwnProperty(ev.id)) { this.latency(at - times[ev.id]); } else { (pending[ev.id] = pending[ev.id] || []).push({ pane: this, at: at }); }
    if (ev.event === 'job') { this.follow(parse(ev.data) || {}, ev.id); } else if (ev.event === 'progress' || ev.event === 'finish') { this.progress(ev); } else { this.show(ev, at); }
  };
  // A job announced on the demo channel: its own channel joins this pane's connection from the announcement on.
  Pane.prototype.follow = function (job, from) {
    var self = this;
    if (!job.channel || this.jobs[job.job]) { return; }
    this.box(job.job, 'Job ' + job.job + ': starting');
    this.conn.subscribe(job.channel, {
      events: JOB_EVENTS, cursor: from,
      onEvent: function (ev) { self.event(ev); },
      onEnd: function () { self.ended(job.job); }
    });
  };
  Pane.prototype.box = function (id, message) {
    var box = this.jobs[id];
    if (box) { return box; }
    box = this.jobs[id] = $('job-template').content.firstElementChild.cloneNode(true);
    box.setAttribute('data-job', id);
    text(box.querySelector('.job-message'), message);
    this.find('.jobs').appendChild(box);
    return box;
  };
  Pane.prototype.progress = function (ev) {
    var job = parse(ev.data) || {}, box = this.box(job.job), done = ev.event === 'finish';
    var percent = done ? 100 : Math.max(0, Math.min(100, Number(job.percent) || 0));
    box.setAttribute('data-state', done ? 'done' : 'running');
    text(box.querySelector('.job-message'), 'Job ' + job.job + ': ' + (done ? 'done' : job.message || ''));
    text(box.querySelector('.job-percent'), percent + ' %');
    box.querySelector('.progress').setAttribute('aria-valuenow', String(percent));
    box.querySelector('.progress-fill').style.width = percent + '%';
  };
  Pane.prototype.ended = function (id) {
    var box = this.box(id);
    box.setAttribute('data-ended', 'true');
    text(box.querySelector('.job-message'), 'Job ' + id + ': done, its channel ended');
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
  Pane.prototype.gap = function (gap) {
    this.show({ id: 'gap', event: 'gap', data: 'Events were lost before ' + gap.oldest + '; the backlog follows.' }, now());
  };
  Pane.prototype.latency = function (ms) {
    ms = Math.max(0, ms);
    if (this.latencies.push(ms) > POINTS) { this.latencies.shift(); }
    if (this.samples.push(ms) > SAMPLES) { this.samples.shift(); }
    var list = this.latencies, top = Math.max.apply(null, list.concat([20])), points = [];
    for (var i = 0; i < list.length; i++) { points.push((i * 120 / (POINTS - 1)).toFixed(1) + ',' + (31 - list[i] * 29 / top).toFixed(1)); }
    this.find('.chart-line').setAttribute('points', points.join(' '));
    text(this.find('.stat-latency'), Math.round(ms) + ' ms');
  };
  // The pane's figures, and its row of the comparison: per event, bytes on the wire and requests; latency p50/p95.
  Pane.prototype.figures = function () {
    if (!this.conn) { return; }
    var s = this.conn.stats, per = function (n) { return s.events ? n / s.events : null; };
    var sorted = this.samples.slice().sort(function (a, b) { return a - b; }), p50 = percentile(sorted, 0.5), p95 = percentile(sorted, 0.95);
    text(this.find('.stat-events'), String(s.events));
    text(this.find('.stat-requests'), String(s.requests));
    text(this.find('.stat-reconnects'), String(s.reconnects));
    text(this.find('.stat-bytes'), (s.bytesExact ? '' : '\u2248 ') + bytes(s.bytes));
    text(this.find('.stat-held'), this.conn.role === 'follower' ? 'in another tab' : String(this.conn.held()));
    text(this.find('.stat-channels'), this.conn.channels().join(', ') || '\u2013');
    text(this.row.querySelector('.cmp-bytes'), per(s.bytes) === null ? '\u2013' : (s.bytesExact ? '' : '\u2248 ') + bytes(per(s.bytes)));
    text(this.row.querySelector('.cmp-requests'), per(s.requests) === null ? '\u2013' : per(s.requests).toFixed(2));
    text(this.row.querySelector('.cmp-p50'), p50 === null ? '\u2013' : Math.round(p50) + ' ms');
    text(this.row.querySelector('.cmp-p95'), p95 === null ? '\u2013' : Math.round(p95) + ' ms');
    this.row.querySelector('.cmp-bar').style.width = p95 === null ? '0' : Math.min(100, p95 / 5) + '%';
  };

  function role() {
    var el = $('role'), roles = {}, count = 0;
    for (var t in panes) { if (panes.hasOwnProperty(t) && panes[t].conn) { roles[panes[t].conn.role] = (roles[panes[t].conn.role] || 0) + 1; count++; } }
    var name = roles.alone ? 'alone' : roles.leader === count ? 'leader' : roles.follower === count ? 'follower' : 'mixed';
    el.setAttribute('data-role', name === 'alone' ? 'leader' : name);
    text(el, name === 'alone' ? 'This tab holds its own five connections.'
      : name === 'leader' ? 'This tab holds the five connections for every open tab of this page.'
        : name === 'follower' ? 'Another tab holds the connections; its events are relayed here.'
          : 'This tab holds ' + (roles.leader || 0) + ' of the connections; another tab holds the rest.');
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
    var query = 'steps=' + encodeURIComponent($('steps').value) + '&pace_ms=' + encodeURIComponent($('pace').value) + '&announce=' + encodeURIComponent(channel);
    post('/demo/jobs?' + query, '', function (status, answer, error) {
      if (status !== 202) { note('job-note', 'Not started (' + status + '): ' + error, true); return; }
      note('job-note', 'Job ' + answer.job + ' started on ' + answer.channel + ': ' + answer.steps + ' steps, one every ' + answer.pace_ms + ' ms.');
    });
  }

  for (var i = 0; i < SPECS.length; i++) { panes[SPECS[i].transport] = new Pane(SPECS[i]); }
  $('publish').addEventListener('submit', publish, false);
  $('job').addEventListener('submit', startJob, false);
  $('message').addEventListener('keydown', function (e) { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { publish(e); } }, false);
  role();
  setInterval(function () { for (var t in panes) { if (panes.hasOwnProperty(t)) { panes[t].figures(); } } }, STATS_MS);
}(this));
