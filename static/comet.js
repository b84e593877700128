/* comet.js: the cometgate browser client, one API over SSE, streaming XHR, the hidden iframe (same-origin or posting across origins) and long-polling (ES5, no build step). */
(function (root) {
  'use strict';
  var Comet = root.Comet = root.Comet || {};
  var ORDER = ['sse', 'stream', 'iframe', 'poll'];
  var DEFAULTS = { minDelay: 500, maxDelay: 30000, openTimeout: 10000, watchdog: 45000, pollTimeout: 0, base: '' };
  var frameSeq = 0;
  Comet.cb = Comet.cb || {};

  function fetchStreams() {
    return !!(root.fetch && root.ReadableStream && root.TextDecoder && root.Response && 'body' in root.Response.prototype);
  }
  function xhrStreams() {
    return !!root.XMLHttpRequest && 'onprogress' in new root.XMLHttpRequest();
  }
  Comet.supports = function (transport) {
    if (transport === 'sse') { return typeof root.EventSource === 'function' || typeof root.EventSource === 'object'; }
    if (transport === 'stream') { return fetchStreams() || xhrStreams(); }
    if (transport === 'iframe') { return !!(root.document && root.document.createElement); }
    return transport === 'poll' && !!root.XMLHttpRequest;
  };

  function on(target, type, fn) { if (target.addEventListener) { target.addEventListener(type, fn, false); } }
  function off(target, type, fn) { if (target.removeEventListener) { target.removeEventListener(type, fn, false); } }
  function call(fn, a, b) {
    if (typeof fn !== 'function') { return; }
    try { fn(a, b); } catch (e) { setTimeout(function () { throw e; }, 0); }
  }
  function indexOf(list, item) {
    for (var i = 0; i < list.length; i++) { if (list[i] === item) { return i; } }
    return -1;
  }
  function utf8len(s) {
    var n = 0, c;
    for (var i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c < 0x80) { n += 1; } else if (c < 0x800) { n += 2; } else if (c >= 0xD800 && c < 0xDC00) { n += 4; i++; } else { n += 3; }
    }
    return n;
  }
  function parse(text) { try { return JSON.parse(text); } catch (e) { return null; } }
  // The origin of an absolute URL ('' for a relative one), as the browser writes origins (no default port).
  function originOf(url) {
    var found = /^(https?):\/\/([^\/?#]+)/i.exec(url || '');
    if (!found) { return ''; }
    var scheme = found[1].toLowerCase(), host = found[2].toLowerCase();
    var port = scheme === 'https' ? ':443' : ':80';
    if (host.slice(-port.length) === port) { host = host.slice(0, -port.length); }
    return scheme + '://' + host;
  }
  function pageOrigin() { return originOf(root.location.protocol + '//' + root.location.host); }
  function corsXhr() { return !!root.XMLHttpRequest && 'withCredentials' in new root.XMLHttpRequest(); }

  // Comet.subscribe(channel, options) returns a handle: channel, transport, cursor, stats, close(), cut(pauseMs).
  // options: transport ('auto', 'sse', 'stream', 'iframe', 'poll'); cursor (an id, 'earliest', or none for new events);
  // events, the named types wanted besides 'message' (EventSource dispatches only the names it listens for, so every
  // transport applies the same filter, and a skipped event still moves the cursor); onEvent(event, handle);
  // onGap({oldest}, handle); onStatus(state, {transport}) with connecting, open, waiting, fallback, closed; token, the
  // subscriber token when the gateway requires one (a string, or a function called for a fresh one at each connection,
  // since a held stream ends when its token expires); DEFAULTS.
  Comet.subscribe = function (channel, options) { return new Subscription(channel, options || {}); };

  function Subscription(channel, o) {
    var self = this, name;
    this.channel = channel;
    this.cursor = o.cursor || '';
    this.token = o.token;
    this.options = {};
    for (name in DEFAULTS) { if (DEFAULTS.hasOwnProperty(name)) { this.options[name] = o[name] === undefined ? DEFAULTS[name] : o[name]; } }
    this.handlers = { onEvent: o.onEvent, onGap: o.onGap, onStatus: o.onStatus };
    this.events = ['message'].concat(o.events || []);
    this.candidates = [];
    var wanted = o.transport && o.transport !== 'auto' ? [o.transport] : ORDER;
    for (var i = 0; i < wanted.length; i++) { if (Comet.supports(wanted[i])) { this.candidates.push(wanted[i]); } }
    if (!this.candidates.length) { throw new Error('comet: transport not available here: ' + (o.transport || 'auto')); }
    this.transport = this.candidates[0];
    this.stats = { requests: 0, reconnects: 0, bytes: 0, events: 0, bytesExact: true };
    this._seen = {}; this._seenOrder = [];
    this._gen = 0; this._live = false; this._started = false; this._closed = false;
    this._everOpened = false; this._failures = 0; this._timer = null; this._guard = null; this._conn = null;
    this._onHide = function () { if (self._live) { self._stop(); self._suspended = true; } };
    this._onShow = function (e) { if (e.persisted && self._suspended) { self._suspended = false; self._connect(); } };
    on(root, 'pagehide', this._onHide);
    on(root, 'pageshow', this._onShow);
    this._connect();
  }
  var P = Subscription.prototype;

  P.close = function () {
    if (this._closed) { return; }
    this._closed = true;
    this._stop();
    off(root, 'pagehide', this._onHide);
    off(root, 'pageshow', this._onShow);
    call(this.handlers.onStatus, 'closed', { transport: this.transport });
  };
  P.cut = function (pauseMs) {
    if (this._closed) { return; }
    this._stop();
    this._wait(pauseMs || 0, 'cut');
  };
  P.url = function (kind, extra) {
    var q = [], name;
    var token = typeof this.token === 'function' ? this.token() : this.token;
    if (this.cursor) { q.push('cursor=' + encodeURIComponent(this.cursor)); }
    if (token) { q.push('token=' + encodeURIComponent(token)); }
    for (name in extra) { if (extra.hasOwnProperty(name) && extra[name]) { q.push(name + '=' + encodeURIComponent(extra[name])); } }
    return this.options.base + '/' + kind + '/' + encodeURIComponent(this.channel) + (q.length ? '?' + q.join('&') : '');
  };

  P._connect = function () {
    if (this._closed) { return; }
    var self = this, gen = ++this._gen;
    if (this._started) { this.stats.reconnects++; }
    this._started = true; this._live = true; this._opened = false;
    call(this.handlers.onStatus, 'connecting', { transport: this.transport });
    this._conn = TRANSPORTS[this.transport](this, gen);
    if (!this._everOpened && this.candidates.length > 1) {
      this._guard = setTimeout(function () { if (gen === self._gen && !self._opened) { self._fallback(); } }, this.options.openTimeout);
    }
  };
  P._stop = function () {
    clearTimeout(this._timer); clearTimeout(this._guard); clearTimeout(this._dog);
    this._live = false;
    if (this._conn) { this._conn.stop(); this._conn = null; }
  };
  P._wait = function (delay, reason) {
    var self = this;
    call(this.handlers.onStatus, 'waiting', { transport: this.transport, delay: delay, reason: reason });
    this._timer = setTimeout(function () { self._connect(); }, delay);
  };
  P._fallback = function () {
    var from = this.candidates.shift();
    this._stop();
    this._failures = 0;
    this.transport = this.candidates[0];
    call(this.handlers.onStatus, 'fallback', { from: from, transport: this.transport });
    this._connect();
  };
  P._current = function (gen) { return gen === this._gen && this._live && !this._closed; };
  P._open = function (gen, cursor) {
    if (!this._current(gen)) { return; }
    if (cursor !== undefined && !this.cursor) { this.cursor = cursor || 'earliest'; }
    if (this._opened) { return; }
    this._opened = true; this._everOpened = true; this._failures = 0;
    clearTimeout(this._guard);
    call(this.handlers.onStatus, 'open', { transport: this.transport });
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
  P._deliver = function (gen, ev) {
    if (!this._current(gen)) { return; }
    this._open(gen);
    if (ev.id) {
      if (this._seen.hasOwnProperty(ev.id)) { return; }
      this._seen[ev.id] = true;
      if (this._seenOrder.push(ev.id) > 2000) { delete this._seen[this._seenOrder.shift()]; }
      this.cursor = ev.id;
    }
    if (indexOf(this.events, ev.event || 'message') < 0) { return; }
    this.stats.events++;
    call(this.handlers.onEvent, ev, this);
  };
  P._gap = function (gen, oldest) {
    if (this._current(gen)) { this._open(gen); call(this.handlers.onGap, { oldest: oldest }, this); }
  };
  P._adopt = function (gen, cursor) {
    if (this._current(gen) && cursor) { this.cursor = cursor; }
  };
  // A connection ended by itself: clean (the server's reconnect or timeout frame) comes straight back, anything else backs off.
  P._ended = function (gen, clean, cursor) {
    if (!this._current(gen)) { return; }
    if (cursor) { this.cursor = cursor; }
    this._stop();
    if (!this._opened) { this._failures++; }
    if (!this._everOpened && this._failures >= 2 && this.candidates.length > 1) { this._fallback(); return; }
    var o = this.options, delay = Math.min(o.maxDelay, o.minDelay * Math.pow(2, this._failures));
    this._wait(clean ? 0 : Math.round(delay * (0.5 + Math.random() / 2)), clean ? 'server' : 'error');
  };

  function request(url, done) {
    var xhr = new root.XMLHttpRequest();
    xhr.open('GET', url, true);
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) { xhr.onreadystatechange = null; done(xhr.status === 200 ? parse(xhr.responseText) : null, xhr); }
    };
    xhr.send(null);
    return xhr;
  }
  // SSE and the iframe have no opening frame with a cursor, so a subscription without one first anchors at the channel's
  // position with a poll that is not held: a subscriber's request (its token included), served wherever subscribers are,
  // even when the gateway keeps its channel figures on an internal listener. What that poll carries is handed over.
  // A browser without cross-origin XHR (IE 8 and 9) cannot ask another origin, and starts from new events instead.
  function anchored(sub, gen, then) {
    var foreign = originOf(sub.options.base) && originOf(sub.options.base) !== pageOrigin();
    if (sub.cursor || (foreign && !corsXhr())) { then(); return { abort: function () {} }; }
    sub.stats.requests++;
    return request(sub.url('poll', { timeout: '0' }), function (answer) {
      if (!sub._current(gen)) { return; }
      if (!answer || !answer.events) { sub._ended(gen, false); return; }
      for (var i = 0; i < answer.events.length && sub._current(gen); i++) { sub._deliver(gen, answer.events[i]); }
      if (!sub._current(gen)) { return; }
      sub._adopt(gen, answer.cursor || 'earliest');
      then();
    });
  }
  function afterLoad(fn) {
    if (root.document.readyState === 'complete') { fn(); return; }
    on(root, 'load', function once() { off(root, 'load', once); setTimeout(fn, 0); });
  }
  function sseSize(e) {
    var lines = e.data.split('\n'), n = 4 + utf8len(e.lastEventId) + (e.type === 'message' ? 0 : 8 + e.type.length);
    for (var i = 0; i < lines.length; i++) { n += 7 + utf8len(lines[i]); }
    return n;
  }
  function lineReader(onLine) {
    var buffer = '';
    return function (text) {
      buffer += text;
      var nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        var line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (/\S/.test(line) && onLine(line) === false) { return false; }
      }
      return true;
    };
  }

  var TRANSPORTS = {
    sse: function (sub, gen) {
      var es = null, stopped = false;
      var req = anchored(sub, gen, function () {
        if (stopped) { return; }
        es = new root.EventSource(sub.url('sse'));
        sub.stats.requests++;
        var onEvent = function (e) {
          sub._bytes(gen, sseSize(e), false);
          sub._deliver(gen, { id: e.lastEventId, channel: sub.channel, event: e.type, data: e.data, time: null });
        };
        for (var i = 0; i < sub.events.length; i++) { es.addEventListener(sub.events[i], onEvent, false); }
        es.addEventListener('comet-gap', function (e) { sub._gap(gen, (parse(e.data) || {}).oldest); }, false);
        es.onopen = function () { sub._open(gen); };
        es.onerror = function () { es.close(); sub._ended(gen, false); };
      });
      return { stop: function () { stopped = true; req.abort(); if (es) { es.close(); } } };
    },

    stream: function (sub, gen) {
      var stopped = false, cursorAtEnd = null, xhr = null, ctrl = root.AbortController ? new root.AbortController() : null, reader = null;
      var push = lineReader(function (line) {
        var f = parse(line);
        if (!f) { finish(false); return false; }
        sub._alive(gen);
        if (f.type === 'open') { sub._open(gen, f.cursor); } else if (f.type === 'event') {
          sub._deliver(gen, { id: f.id, channel: f.channel, event: f.event, data: f.data, time: f.time });
        } else if (f.type === 'gap') { sub._gap(gen, f.oldest); } else if (f.type === 'reconnect') { cursorAtEnd = f.cursor; finish(true); return false; }
        return !stopped;
      });
      function finish(clean) {
        if (stopped) { return; }
        stop();
        sub._ended(gen, clean, cursorAtEnd);
      }
      function stop() {
        stopped = true;
        if (ctrl) { ctrl.abort(); } else if (reader) { reader.cancel(); }
        if (xhr) { xhr.abort(); }
      }
      sub.stats.requests++;
      sub._alive(gen);
      if (fetchStreams()) {
        root.fetch(sub.url('stream'), { cache: 'no-store', credentials: 'same-origin', signal: ctrl ? ctrl.signal : undefined }).then(function (res) {
          if (res.status !== 200 || !res.body) { finish(false); return; }
          var dec = new root.TextDecoder();
          reader = res.body.getReader();
          var pump = function (r) {
            if (stopped) { return; }
            if (r.done) { push(dec.decode() + '\n'); finish(false); return; }
            sub._bytes(gen, r.value.length);
            if (push(dec.decode(r.value, { stream: true }))) { return reader.read().then(pump); }
          };
          return reader.read().then(pump);
        }).then(null, function () { finish(false); });
      } else {
        xhr = new root.XMLHttpRequest();
        var seen = 0;
        var read = function () {
          if (stopped || xhr.readyState < 3) { return; }
          var text = xhr.responseText || '';
          if (text.length > seen) { sub._bytes(gen, utf8len(text.slice(seen))); push(text.slice(seen)); seen = text.length; }
          if (xhr.readyState === 4) { finish(false); }
        };
        xhr.open('GET', sub.url('stream'), true);
        xhr.onreadystatechange = read;
        xhr.onprogress = read;
        xhr.send(null);
      }
      return { stop: stop };
    },

    iframe: function (sub, gen) {
      var name = 'c' + (++frameSeq), el = null, done = false, commit = null, req = { abort: function () {} };
      // A gateway on another origin cannot call into this page: its iframe posts each call to this origin instead.
      var gateway = originOf(sub.options.base), page = pageOrigin(), posted = !!gateway && gateway !== page;
      function end(clean, cursor) {
        if (done) { return; }
        teardown();
        sub._ended(gen, clean, cursor);
      }
      function teardown() {
        done = true;
        clearInterval(commit);
        off(root, 'message', received);
        if (el && el.parentNode) { el.parentNode.removeChild(el); }
        el = null;
        delete Comet.cb[name];
        req.abort();
      }
      function heard() { if (!done) { sub._open(gen); sub._alive(gen); } }
      // A posted call counts only from the gateway's origin, from this subscription's own iframe, for its callback.
      function received(e) {
        if (done || !el || e.origin !== gateway || e.source !== el.contentWindow || typeof e.data !== 'string') { return; }
        var message = parse(e.data), target = Comet.cb[name];
        if (!message || message.comet !== 'Comet.cb.' + name || !target || !target.hasOwnProperty(message.method)) { return; }
        target[message.method].apply(null, message.args || []);
      }
      Comet.cb[name] = {
        showMsg: function (ev) {
          if (done) { return; }
          heard();
          sub._bytes(gen, 60 + name.length + utf8len(JSON.stringify(ev)), false);
          sub._deliver(gen, ev);
        },
        gap: function (g) { heard(); if (!done) { sub._gap(gen, g && g.oldest); } },
        heartbeat: heard,
        timeout: function (cursor) { end(true, cursor); }
      };
      if (posted) { on(root, 'message', received); }
      afterLoad(function () {
        if (done) { return; }
        req = anchored(sub, gen, function () {
          if (done) { return; }
          el = root.document.createElement('iframe');
          el.setAttribute('aria-hidden', 'true');
          el.tabIndex = -1;
          el.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden';
          el.src = sub.url('iframe', { callback: 'Comet.cb.' + name, origin: posted ? page : '' });
          root.document.body.appendChild(el);
          el.onload = function () { end(false); };
          sub.stats.requests++;
          sub._alive(gen);
          if (posted) { return; }
          commit = setInterval(function () {
            try {
              var doc = el && el.contentDocument;
              if (doc && doc.URL !== 'about:blank') { clearInterval(commit); if (!doc.contentType || doc.contentType === 'text/html') { heard(); } }
            } catch (e) { clearInterval(commit); }
          }, 50);
        });
      });
      return { stop: teardown };
    },

    poll: function (sub, gen) {
      var xhr = null, stopped = false, first = true, timeout = sub.options.pollTimeout;
      // The first poll asks not to be held, so the subscription knows at once that the gateway answers and where it stands.
      function next() {
        if (stopped) { return; }
        sub.stats.requests++;
        xhr = request(sub.url('poll', { timeout: first ? '0' : timeout ? String(timeout) : '' }), function (body, x) {
          if (stopped) { return; }
          first = false;
          if (!body || !body.events) { sub._ended(gen, false); return; }
          sub._bytes(gen, utf8len(x.responseText));
          sub._open(gen);
          if (body.gap) { sub._gap(gen, body.oldest); }
          for (var i = 0; i < body.events.length && sub._current(gen); i++) { sub._deliver(gen, body.events[i]); }
          if (!sub._current(gen)) { return; }
          sub._adopt(gen, body.cursor || (sub.cursor ? '' : 'earliest'));
          next();
        });
        if ('timeout' in xhr) { xhr.timeout = ((timeout || 25) + 15) * 1000; }
      }
      next();
      return { stop: function () { stopped = true; if (xhr) { xhr.abort(); } } };
    }
  };
}(this));
