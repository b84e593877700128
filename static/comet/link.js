/* comet.js part 2 of 6, link: one held request for a list of channels, kept up by reconnecting from the cursor, backing
 * off on errors and falling back to the next transport when one cannot open. ES5. */
(function (root) {
  'use strict';
  var _ = root.Comet._;
  var LATE_OPEN = 20000;

  // A Link tells its sink what arrives: event(ev), gap(channel, oldest), end(channel, id), opened(cursor) and
  // status(state, info). Its state is one of idle (no channel to follow), connecting, open, waiting (to reconnect),
  // suspended (the page is in the back-forward cache) and closed (for good).
  function Link(o, sink) {
    var self = this, name;
    this.options = {};
    for (name in _.DEFAULTS) { if (_.DEFAULTS.hasOwnProperty(name)) { this.options[name] = o[name] === undefined ? _.DEFAULTS[name] : o[name]; } }
    this.token = o.token;
    this.sink = sink;
    this.candidates = _.candidates(o);
    this.transport = this.candidates[0];
    this.channels = [];
    this.cursor = '';
    // The event types wanted besides none: EventSource dispatches only the names it listens for.
    this.events = ['message'];
    this.stats = { requests: 0, reconnects: 0, reopens: 0, changes: 0, bytes: 0, events: 0, bytesExact: true };
    this.state = 'idle';
    this._gen = 0; this._started = false; this._everOpened = false; this._failures = 0;
    this._timer = null; this._guard = null; this._dog = null; this._conn = null;
    this._onHide = function () { if (self._live()) { self._stop('suspended'); } };
    this._onShow = function (e) { if (e.persisted && self.state === 'suspended') { self._connect(); } };
    _.on(root, 'pagehide', this._onHide);
    _.on(root, 'pageshow', this._onShow);
  }
  var P = Link.prototype;

  // The transports to try, best first: the one asked for, or every rung of the ladder this browser has (in the form
  // that reaches a gateway on another origin, when `base` is one).
  _.candidates = function (o) {
    var foreign = _.foreign(o.base), auto = !o.transport || o.transport === 'auto';
    var found = [], wanted = auto ? (foreign ? _.FOREIGN_ORDER : _.ORDER) : [o.transport];
    for (var i = 0; i < wanted.length; i++) { if (root.Comet.supports(wanted[i], foreign && auto)) { found.push(wanted[i]); } }
    if (!found.length) { throw new Error('comet: transport not available here: ' + (o.transport || 'auto')); }
    return found;
  };
  _.Link = Link;

  // Follows `channels` from `cursor` (undefined keeps the current one): a live request is replaced at once, a
  // reconnect that waits keeps waiting (it will ask for the new list), and an empty list leaves nothing held.
  P.retarget = function (channels, cursor) {
    if (this.state === 'closed') { return; }
    if (cursor !== undefined) { this.cursor = cursor; }
    this.channels = channels.slice();
    if (!channels.length) { this._stop('idle'); this._status('idle'); return; }
    // A WebSocket changes what it follows with messages on the socket it has.
    if (this.state === 'open' && this._conn && this._conn.follow) { this.stats.changes++; this._conn.follow(this.channels, this.cursor); return; }
    if (this._live()) { this.stats.reopens++; this._stop('idle'); this._connect(true); } else if (this.state === 'idle') { this._connect(true); }
  };
  P.listen = function (types) {
    for (var i = 0; i < types.length; i++) {
      if (_.indexOf(this.events, types[i]) >= 0) { continue; }
      this.events.push(types[i]);
      if (this._conn && this._conn.listen) { this._conn.listen(types[i]); }
    }
  };
  P.close = function () {
    if (this.state === 'closed') { return; }
    this._stop('closed');
    _.off(root, 'pagehide', this._onHide);
    _.off(root, 'pageshow', this._onShow);
    this._status('closed');
  };
  P.cut = function (pauseMs) {
    if (!this._live()) { return; }
    this._stop('idle');
    this._wait(pauseMs || 0, 'cut');
  };
  P.tokenNow = function () { return typeof this.token === 'function' ? this.token() : this.token; };
  P.url = function (kind, extra, channels) {
    var q = [], name, list = [], wanted = channels || this.channels;
    var token = this.tokenNow();
    if (this.cursor && !channels) { q.push('cursor=' + encodeURIComponent(this.cursor)); }
    if (token) { q.push('token=' + encodeURIComponent(token)); }
    for (name in extra) { if (extra.hasOwnProperty(name) && extra[name]) { q.push(name + '=' + encodeURIComponent(extra[name])); } }
    for (var i = 0; i < wanted.length; i++) { list.push(encodeURIComponent(wanted[i])); }
    return this.options.base + '/' + kind + '/' + list.join(',') + (q.length ? '?' + q.join('&') : '');
  };

  P._status = function (state, info) {
    _.call(this.sink.status, state, _.copy(info || {}, { transport: this.transport }));
  };
  P._live = function () { return this.state === 'connecting' || this.state === 'open'; };
  P._current = function (gen) { return gen === this._gen && this._live(); };
  P._connect = function (reopen) {
    if (this.state === 'closed' || !this.channels.length) { return; }
    var self = this, gen = ++this._gen;
    if (this._started && !reopen) { this.stats.reconnects++; }
    this._started = true;
    this.state = 'connecting';
    this._status('connecting');
    this._conn = _.TRANSPORTS[this.transport](this, gen);
    // A transport that hears of its open only at the first heartbeat (the posting iframe) gets until after the
    // gateway's default heartbeat (15 s) on a quiet channel.
    var wait = this._conn.heardLate ? Math.max(this.options.openTimeout, LATE_OPEN) : this.options.openTimeout;
    if (!this._everOpened && this.candidates.length > 1) {
      this._guard = setTimeout(function () { if (gen === self._gen && self.state === 'connecting') { self._fallback(); } }, wait);
    }
  };
  P._stop = function (state) {
    clearTimeout(this._timer); clearTimeout(this._guard); clearTimeout(this._dog);
    this.state = state;
    if (this._conn) { this._conn.stop(); this._conn = null; }
  };
  P._wait = function (delay, reason) {
    var self = this;
    this.state = 'waiting';
    this._status('waiting', { delay: delay, reason: reason });
    this._timer = setTimeout(function () { self.state = 'idle'; self._connect(); }, delay);
  };
  P._fallback = function () {
    var from = this.candidates.shift();
    this._stop('idle');
    this._failures = 0;
    this.transport = this.candidates[0];
    this._status('fallback', { from: from });
    this._connect();
  };
  P._open = function (gen, cursor) {
    if (!this._current(gen)) { return; }
    if (cursor !== undefined && !this.cursor) { this.cursor = cursor || 'earliest'; }
    if (this.state === 'open') { return; }
    this.state = 'open'; this._everOpened = true; this._failures = 0;
    clearTimeout(this._guard);
    this._status('open');
    _.call(this.sink.opened, this.cursor);
  };
  P._alive = function (gen) {
    var self = this;
    if (!this._current(gen)) { return; }
    clearTimeout(this._dog);
    this._dog = setTimeout(function () { self._ended(gen, false); }, this.options.watchdog);
  };
  P._bytes = function (gen, n, exact) {
    if (this._current(gen)) { this.stats.bytes += n; if (exact === false) { this.stats.bytesExact = false; } }
  };
  // The gateway sends each connection's events in id order, so an id at or before the cursor was had already.
  P._deliver = function (gen, ev) {
    if (!this._current(gen)) { return; }
    this._open(gen);
    if (ev.id) {
      if (this.cursor && _.compare(ev.id, this.cursor) !== 1 && _.compare(ev.id, this.cursor) !== null) { return; }
      this.cursor = ev.id;
    }
    if (_.indexOf(this.events, ev.event || 'message') >= 0) { this.stats.events++; }
    this.sink.event(ev);
  };
  P._gap = function (gen, channel, oldest) {
    if (this._current(gen)) { this._open(gen); this.sink.gap(channel || this.channels[0], oldest); }
  };
  // The gateway dropped `channel` from this request: it leaves the list with no new request, and a list left empty
  // leaves nothing held (the gateway ends the response, and it is not reconnected).
  P._end = function (gen, channel, id) {
    if (!this._current(gen)) { return; }
    channel = channel || this.channels[0];
    if (id) { this.cursor = id; }
    var at = _.indexOf(this.channels, channel);
    if (at >= 0) { this.channels.splice(at, 1); }
    if (!this.channels.length) { this._stop('idle'); }
    this.sink.end(channel, id || null);
    if (this.state === 'idle' && !this.channels.length) { this._status('idle'); }
  };
  P._adopt = function (gen, cursor) {
    if (this._current(gen) && cursor) { this.cursor = cursor; }
  };
  // A connection ended by itself: clean (the server's reconnect or timeout frame) comes straight back, anything else backs off.
  P._ended = function (gen, clean, cursor) {
    if (!this._current(gen)) { return; }
    if (cursor) { this.cursor = cursor; }
    var opened = this.state === 'open';
    this._stop('idle');
    if (!opened) { this._failures++; }
    if (!this._everOpened && this._failures >= 2 && this.candidates.length > 1) { this._fallback(); return; }
    var o = this.options, delay = Math.min(o.maxDelay, o.minDelay * Math.pow(2, this._failures));
    this._wait(clean ? 0 : Math.round(delay * (0.5 + Math.random() / 2)), clean ? 'server' : 'error');
  };
}(this));
