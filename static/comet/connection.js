/* comet.js part 5 of 6, connection: many subscriptions over one held request. A Holder keeps the Link's channel list
 * equal to what its subscriptions want; a Connection hands what arrives to its subscriptions, each starting where it
 * was added and never seeing an event twice. ES5. */
(function (root) {
  'use strict';
  var Comet = root.Comet, _ = Comet._;
  var nextSid = 0;

  // The Holder owns the Link. wants[key] = { channel, events, cursor, ack(after) }; ack is called once with where
  // that subscription starts: its own cursor, the connection's cursor when the channel is followed already, or the
  // channels' current position (an anchoring poll that is not held) for a channel new to a connection under way.
  function Holder(options, emit) {
    var self = this;
    this.wants = {};
    this.emit = emit;
    // How long the first change waits for others (a tab taking over gathers the other tabs' subscriptions first).
    this.delay = 0;
    this._scheduled = false;
    this.link = new _.Link(options, {
      event: function (ev) { self.emit({ kind: 'event', ev: ev }); },
      gap: function (channel, oldest) { self.emit({ kind: 'gap', channel: channel, oldest: oldest }); },
      end: function (channel, id) { self._forget(channel); self.emit({ kind: 'end', channel: channel, id: id }); },
      opened: function (cursor) { self._opened(cursor); },
      status: function (state, info) { self.emit({ kind: 'status', state: state, info: info }); }
    });
  }
  var H = Holder.prototype;
  _.Holder = Holder;

  H.want = function (key, want) { want.acked = false; this.wants[key] = want; this.schedule(); };
  H.unwant = function (key) { if (this.wants.hasOwnProperty(key)) { delete this.wants[key]; this.schedule(); } };
  // Changes made in one tick are applied together: one new request for all of them.
  H.schedule = function () {
    var self = this;
    if (this._scheduled) { return; }
    this._scheduled = true;
    setTimeout(function () { self._scheduled = false; self.apply(); }, this.delay);
    this.delay = 0;
  };
  H.close = function () { this.wants = {}; this.link.close(); };

  H.channels = function () {
    var list = [], key;
    for (key in this.wants) {
      if (this.wants.hasOwnProperty(key) && _.indexOf(list, this.wants[key].channel) < 0) { list.push(this.wants[key].channel); }
    }
    return list;
  };
  H.apply = function () {
    var self = this, link = this.link, key, w, start = link.cursor, anchor = [], waiting = [];
    if (link.state === 'closed') { return; }
    if (link.cursor) { this.emit({ kind: 'mark', cursor: link.cursor }); }
    for (key in this.wants) {
      w = this.wants[key];
      if (!this.wants.hasOwnProperty(key) || w.acked || w.anchoring) { continue; }
      link.listen(w.events);
      if (w.cursor) { start = start && _.compare(w.cursor, start) !== -1 ? start : w.cursor; this._ack(w, w.cursor); } else { waiting.push(w); }
    }
    for (var i = 0; i < waiting.length; i++) {
      w = waiting[i];
      if (link.cursor && _.indexOf(link.channels, w.channel) >= 0 && link.state !== 'idle') { this._ack(w, link.cursor); } else if (start) { anchor.push(w); }
    }
    if (!anchor.length) { this._retarget(start); return; }
    // With no channel left to keep, the connection starts where the new ones do.
    var fresh = !link.channels.length && start === link.cursor;
    this._anchor(anchor, function (position) { self._retarget(fresh ? position : start); });
  };
  H._retarget = function (start) {
    var list = this.channels(), link = this.link;
    if (start === link.cursor && list.join(',') === link.channels.join(',') && link.state !== 'idle') { return; }
    if (!list.length && !link.channels.length) { return; }
    link.retarget(list, start || '');
  };
  H._ack = function (w, after) { w.acked = true; _.call(w.ack, after); };
  // New channels on a connection under way start at their current position, asked of the gateway with a poll that is
  // not held; a channel that ended already is ended at once.
  H._anchor = function (wants, then) {
    var self = this, link = this.link, start = link.cursor, channels = [];
    for (var i = 0; i < wants.length; i++) {
      wants[i].anchoring = true;
      if (_.indexOf(channels, wants[i].channel) < 0) { channels.push(wants[i].channel); }
    }
    link.stats.requests++;
    _.request(link.url('poll', { timeout: '0' }, channels), function (answer) {
      if (link.state === 'closed') { return; }
      if (!answer || !answer.events) { setTimeout(function () { self._anchor(wants, then); }, link.options.minDelay); return; }
      var ended = answer.ended || [];
      for (var j = 0; j < wants.length; j++) { if (self.wants[wants[j].key] === wants[j]) { self._ack(wants[j], answer.cursor); } }
      for (j = 0; j < ended.length; j++) { self._forget(ended[j]); self.emit({ kind: 'end', channel: ended[j], id: null }); }
      then(answer.cursor || start);
    });
  };
  H._opened = function (cursor) {
    for (var key in this.wants) {
      if (this.wants.hasOwnProperty(key) && !this.wants[key].acked) { this._ack(this.wants[key], cursor); }
    }
    this.emit({ kind: 'mark', cursor: cursor });
  };
  H._forget = function (channel) {
    for (var key in this.wants) { if (this.wants.hasOwnProperty(key) && this.wants[key].channel === channel) { delete this.wants[key]; } }
  };

  // A Connection: the page's subscriptions, served by a Holder in this tab (alone, or leading other tabs) or, as a
  // follower, by the holder in another tab (shared.js). options: transport, token, base and the delays of Link.
  function Connection(options) {
    this.options = _.copy(options || {}, {});
    this.subs = {};
    this.cursor = '';
    this.role = 'alone';
    this.state = 'idle';
    this.closed = false;
    this.onStatus = this.options.onStatus;
    this.holder = null;
    this._hold();
    this.transport = this.holder.link.transport;
    this.stats = this.holder.link.stats;
  }
  var C = Connection.prototype;
  _.Connection = Connection;

  C._hold = function () {
    var self = this;
    this.holder = new Holder(this.options, function (item) { self._publish(item); });
  };
  // What the holder emits: handed to this tab's subscriptions (shared.js also posts it to the other tabs).
  C._publish = function (item) { this._item(item); };
  C._want = function (sub) {
    var self = this;
    this.holder.want(sub.sid, { key: sub.sid, channel: sub.channel, events: sub.events, cursor: sub.cursor, ack: function (after) { self._ack(sub.sid, after); } });
  };
  C._unwant = function (sub) { this.holder.unwant(sub.sid); };
  C._ack = function (sid, after) {
    var sub = this.subs[sid];
    if (sub && sub.state === 'pending') { sub.state = 'live'; sub.after = after || ''; sub.cursor = sub.after; }
  };

  // subscribe(channel, {events, cursor, onEvent(ev, handle), onGap({channel, oldest}, handle), onEnd({channel, id}, handle)})
  C.subscribe = function (channel, o) {
    if (this.closed) { throw new Error('comet: the connection is closed'); }
    o = o || {};
    var self = this, sub = {
      sid: 't' + (++nextSid) + '.' + _.tab, channel: String(channel), events: ['message'].concat(o.events || []), cursor: o.cursor || '',
      after: '', state: 'pending', handlers: { onEvent: o.onEvent, onGap: o.onGap, onEnd: o.onEnd }
    };
    sub.close = function () { self._close(sub); };
    this.subs[sub.sid] = sub;
    this._want(sub);
    return sub;
  };
  C._close = function (sub) {
    if (sub.state === 'closed') { return; }
    sub.state = 'closed';
    delete this.subs[sub.sid];
    this._unwant(sub);
  };
  C.channels = function () {
    var list = [];
    for (var sid in this.subs) { if (this.subs.hasOwnProperty(sid) && _.indexOf(list, this.subs[sid].channel) < 0) { list.push(this.subs[sid].channel); } }
    return list;
  };
  // The held requests this tab keeps open for the connection: 1 or 0 (another tab holds it, or nothing is followed).
  C.held = function () { return this.holder && (this.holder.link.state === 'open' || this.holder.link.state === 'connecting') ? 1 : 0; };
  C.cut = function (pauseMs) { if (this.holder) { this.holder.link.cut(pauseMs); } };
  C.close = function () {
    if (this.closed) { return; }
    for (var sid in this.subs) { if (this.subs.hasOwnProperty(sid)) { this.subs[sid].state = 'closed'; } }
    this.subs = {};
    this._leave();
    this.closed = true;
    this.state = 'closed';
  };
  C._leave = function () { this.holder.close(); };

  C._item = function (item) {
    var kind = item.kind;
    if (kind === 'event') { this._event(item.ev); } else if (kind === 'gap') { this._gap(item.channel, item.oldest); } else if (kind === 'end') {
      this._end(item.channel, item.id);
    } else if (kind === 'mark') { this._mark(item.cursor); } else if (kind === 'stats') { _.copy(item.stats, this.stats); } else if (kind === 'status') {
      this.transport = item.info.transport;
      if (!this.closed) { this.state = item.state; _.call(this.onStatus, item.state, item.info); }
    }
    if (this.onItem) { this.onItem(item); }
  };
  C._each = function (channel, fn) {
    for (var sid in this.subs) {
      if (this.subs.hasOwnProperty(sid) && this.subs[sid].channel === channel && this.subs[sid].state === 'live') { fn(this.subs[sid]); }
    }
  };
  // Each subscription keeps the id of the last event of its channel it had: an event at or before it is one it had, or
  // one from before it was added.
  C._event = function (ev) {
    if (ev.id) { this.cursor = ev.id; }
    this._each(ev.channel, function (sub) {
      var order = ev.id && sub.after ? _.compare(ev.id, sub.after) : 1;
      if (order === 0 || order === -1) { return; }
      if (ev.id) { sub.after = sub.cursor = ev.id; }
      if (_.indexOf(sub.events, ev.event || 'message') >= 0) { _.call(sub.handlers.onEvent, ev, sub); }
    });
  };
  // A gap whose oldest kept event is at or before what a subscription had lost nothing for it.
  C._gap = function (channel, oldest) {
    this._each(channel, function (sub) {
      var order = oldest && sub.after ? _.compare(oldest, sub.after) : 1;
      if (order !== 0 && order !== -1) { _.call(sub.handlers.onGap, { channel: channel, oldest: oldest === undefined ? null : oldest }, sub); }
    });
  };
  C._end = function (channel, id) {
    if (id) { this.cursor = id; }
    for (var sid in this.subs) {
      var sub = this.subs[sid];
      if (!this.subs.hasOwnProperty(sid) || sub.channel !== channel) { continue; }
      sub.state = 'closed';
      delete this.subs[sid];
      _.call(sub.handlers.onEnd, { channel: channel, id: id }, sub);
    }
  };
  // Everything up to `cursor` reached the connection: a live subscription had all of its channel up to there.
  C._mark = function (cursor) {
    this.cursor = cursor || this.cursor;
    for (var sid in this.subs) {
      if (this.subs.hasOwnProperty(sid) && this.subs[sid].state === 'live' && cursor) { this.subs[sid].after = _.later(cursor, this.subs[sid].after); }
    }
  };

  // Comet.subscribe(channel, options): one channel on a connection of its own, as before connections: the handle has
  // channel, transport, cursor, stats, close() and cut(pauseMs); options as Comet.connect's plus events, cursor,
  // onEvent(event, handle), onGap({oldest}, handle), onEnd({channel, id}, handle) (the channel ended: the handle closes
  // itself) and onStatus(state, {transport}) with connecting, open, waiting, fallback, idle and closed.
  Comet.subscribe = function (channel, options) {
    var o = options || {}, conn = new Connection(_.copy(o, {}));
    var handle = { channel: String(channel), transport: conn.transport, cursor: o.cursor || '', stats: conn.stats, connection: conn };
    conn.onStatus = function (state, info) { handle.transport = info.transport; _.call(o.onStatus, state, info); };
    conn.onItem = function () { handle.cursor = conn.holder.link.cursor || handle.cursor; };
    handle.close = function () { conn.close(); };
    handle.cut = function (pauseMs) { conn.cut(pauseMs); };
    conn.subscribe(channel, {
      events: o.events, cursor: o.cursor,
      onEvent: function (ev) { handle.cursor = conn.holder.link.cursor; _.call(o.onEvent, ev, handle); },
      onGap: function (gap) { _.call(o.onGap, { oldest: gap.oldest }, handle); },
      onEnd: function (end) { _.call(o.onEnd, end, handle); handle.close(); }
    });
    return handle;
  };

  // Comet.connect(options): one connection for many channels. options.shared: true shares it with every tab of this
  // origin (shared.js); otherwise, or where BroadcastChannel is missing, this tab holds its own.
  Comet.connect = function (options) {
    options = options || {};
    return options.shared && root.BroadcastChannel && _.SharedConnection ? new _.SharedConnection(options) : new Connection(options);
  };
}(this));
