/* comet.js part 6 of 6, shared: `Comet.connect({shared: true})` gives every tab of an origin one connection. One tab
 * holds it; the others send it their subscriptions and get what arrives over a BroadcastChannel. ES5. */
(function (root) {
  'use strict';
  var Comet = root.Comet, _ = Comet._;
  var BEAT = 1000, SILENCE = 3000, GATHER = 150, STATS_MS = 500;

  // Calls lead() when this tab must hold the connection and follow() when it must let it go. With Web Locks the lock
  // goes with the tab and the next tab in line gets it. Without them the holder beats every second over the bus, a tab
  // that hears no beat for three seconds takes over, and of two holders that hear each other the larger id steps down.
  function Election(name, bus, lead, follow) {
    var self = this;
    this.bus = bus; this.lead = lead; this.follow = follow;
    this.leader = false;
    if (root.navigator.locks && root.navigator.locks.request) {
      this.mode = 'locks';
      root.navigator.locks.request(name, function () {
        if (self.closed) { return null; }
        self._lead();
        return new root.Promise(function (resolve) { self._release = resolve; });
      });
      return;
    }
    this.mode = 'heartbeat';
    this._heard = new Date().getTime() - SILENCE + 1500;
    this._beat = setInterval(function () { self._tick(); }, BEAT);
  }
  Election.prototype._lead = function () { this.leader = true; this.lead(); };
  Election.prototype.heard = function (m) {
    this._heard = m.k === 'bye' && m.leader ? 0 : new Date().getTime();
    if (m.k === 'beat' && this.leader && m.tab < _.tab) { this.leader = false; this.follow(); }
  };
  Election.prototype._tick = function () {
    if (this.leader) { this.bus.postMessage({ k: 'beat', tab: _.tab }); } else if (new Date().getTime() - this._heard > SILENCE) {
      this._lead();
      this.bus.postMessage({ k: 'beat', tab: _.tab });
    }
  };
  Election.prototype.close = function () {
    this.closed = true;
    clearInterval(this._beat);
    if (this._release) { this._release(); }
  };

  // A Connection whose Holder lives in whichever tab the election picks. The holder posts every item it emits (each
  // event carries its id, the connection's cursor), so the tab that takes over resumes every subscription from it.
  function SharedConnection(options) {
    var self = this;
    this.options = _.copy(options || {}, {});
    this.transport = _.candidates(this.options)[0];
    this.subs = {};
    this.cursor = '';
    this.role = 'follower';
    this.state = 'idle';
    this.closed = false;
    this.onStatus = this.options.onStatus;
    this.onRole = this.options.onRole;
    this.holder = null;
    this.stats = { requests: 0, reconnects: 0, reopens: 0, changes: 0, bytes: 0, events: 0, bytesExact: true };
    this._tabs = {};
    var name = 'comet:' + (typeof options.shared === 'string' ? options.shared : '') + '|' + (options.base || '') + '|' + (options.transport || 'auto');
    this.bus = new root.BroadcastChannel(name);
    this.bus.onmessage = function (e) { self._heard(e.data || {}); };
    this.election = new Election(name, this.bus, function () { self._lead(); }, function () { self._follow(); });
    this._onHide = function (e) { if (!e.persisted) { self.close(); } };
    _.on(root, 'pagehide', this._onHide);
    this._post({ k: 'hello', tab: _.tab });
  }
  function Base() {}
  Base.prototype = _.Connection.prototype;
  var S = SharedConnection.prototype = new Base();
  _.SharedConnection = SharedConnection;

  S._post = function (m) { if (this.bus) { this.bus.postMessage(m); } };
  S._leading = function () { return this.role === 'leader' && this.holder; };
  // Where a subscription stands, for a holder that did not ack it: a live one had everything up to the cursor.
  S._wanted = function (sub) {
    var cursor = sub.state === 'live' ? _.later(this.cursor, sub.after) : sub.cursor;
    return { sid: sub.sid, channel: sub.channel, events: sub.events, cursor: cursor || '' };
  };
  S._want = function (sub) {
    if (this._leading()) { this._keep(this._wanted(sub), _.tab); } else { this._post(_.copy(this._wanted(sub), { k: 'sub', tab: _.tab })); }
  };
  S._unwant = function (sub) {
    if (this._leading()) { this.holder.unwant(sub.sid); } else { this._post({ k: 'unsub', tab: _.tab, sid: sub.sid }); }
  };
  S._keep = function (w, tab) {
    var self = this;
    if (this.holder.wants.hasOwnProperty(w.sid)) { return; }
    (this._tabs[tab] = this._tabs[tab] || {})[w.sid] = true;
    this.holder.want(w.sid, {
      key: w.sid, channel: w.channel, events: w.events, cursor: w.cursor,
      ack: function (after) { if (tab === _.tab) { self._ack(w.sid, after); } else { self._post({ k: 'ack', to: tab, sid: w.sid, after: after }); } }
    });
  };
  S._publish = function (item) {
    this._item(item);
    this._post({ k: 'item', item: item });
  };
  S.cut = function (pauseMs) {
    if (this._leading()) { this.holder.link.cut(pauseMs); } else { this._post({ k: 'cut', ms: pauseMs }); }
  };

  S._lead = function () {
    var self = this, sid;
    if (this.closed) { return; }
    this.role = 'leader';
    this.holder = new _.Holder(this.options, function (item) { self._publish(item); });
    this.holder.delay = GATHER;
    this.stats = this.holder.link.stats;
    this._tabs = {};
    for (sid in this.subs) { if (this.subs.hasOwnProperty(sid)) { this._keep(this._wanted(this.subs[sid]), _.tab); } }
    this._post({ k: 'leader', tab: _.tab });
    this._lastStats = '';
    this._statsTimer = setInterval(function () { self._shareStats(); }, STATS_MS);
    _.call(this.onRole, 'leader');
  };
  S._follow = function () {
    this._drop();
    this.role = 'follower';
    this._post({ k: 'wants', tab: _.tab, subs: this._all() });
    _.call(this.onRole, 'follower');
  };
  S._drop = function () {
    clearInterval(this._statsTimer);
    if (!this.holder) { return; }
    this.holder.emit = function () {};
    this.holder.close();
    this.holder = null;
    this.stats = _.copy(this.stats, {});
  };
  S._all = function () {
    var list = [];
    for (var sid in this.subs) { if (this.subs.hasOwnProperty(sid)) { list.push(this._wanted(this.subs[sid])); } }
    return list;
  };
  S._shareStats = function () {
    var text = JSON.stringify(this.stats);
    if (text !== this._lastStats) { this._lastStats = text; this._post({ k: 'item', item: { kind: 'stats', stats: this.stats } }); }
  };
  S._heard = function (m) {
    if (this.election.mode === 'heartbeat' && (m.k === 'beat' || m.k === 'bye')) { this.election.heard(m); }
    if (this._leading()) { this._serve(m); return; }
    if (m.k === 'item') { this._item(m.item); } else if (m.k === 'ack' && m.to === _.tab) { this._ack(m.sid, m.after); } else if (m.k === 'leader') {
      this._post({ k: 'wants', tab: _.tab, subs: this._all() });
    }
  };
  // What the holder does for the other tabs.
  S._serve = function (m) {
    var i, list = m.k === 'sub' ? [m] : m.k === 'wants' ? m.subs : [];
    for (i = 0; i < list.length; i++) { this._keep(list[i], m.tab); }
    if (m.k === 'unsub') { this.holder.unwant(m.sid); } else if (m.k === 'cut') { this.holder.link.cut(m.ms); } else if (m.k === 'bye') {
      for (var sid in this._tabs[m.tab] || {}) { if (this._tabs[m.tab].hasOwnProperty(sid)) { this.holder.unwant(sid); } }
      delete this._tabs[m.tab];
    } else if (m.k === 'hello') {
      this._post({ k: 'item', item: { kind: 'status', state: this.holder.link.state, info: { transport: this.holder.link.transport } } });
      this._lastStats = '';
    }
  };
  S._leave = function () {
    _.off(root, 'pagehide', this._onHide);
    this._post({ k: 'bye', tab: _.tab, leader: this.role === 'leader' });
    this._drop();
    this.election.close();
    this.bus.close();
    this.bus = null;
  };
}(this));
