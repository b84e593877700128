/* comet.js part 3 of 6, transports: SSE, streaming XHR, the hidden iframe (same-origin or posting across origins) and
 * long-polling, each reading one request's frames for a Link. A request for one channel gets the single-channel
 * frames; for several, every frame names its channel (docs/PROTOCOL.md). ES5. */
(function (root) {
  'use strict';
  var Comet = root.Comet, _ = Comet._;
  var frameSeq = 0;

  // SSE and the iframe have no opening frame with a cursor, so a link without one first anchors at the channels'
  // position with a poll that is not held: a subscriber's request (its token included), served wherever subscribers
  // are. A browser without cross-origin XHR (IE 8 and 9) cannot ask another origin, and starts from new events instead.
  function anchored(link, gen, then) {
    var foreign = _.originOf(link.options.base) && _.originOf(link.options.base) !== _.pageOrigin();
    if (link.cursor || (foreign && !_.corsXhr())) { then(); return { abort: function () {} }; }
    link.stats.requests++;
    return _.request(link.url('poll', { timeout: '0' }), function (answer) {
      if (!link._current(gen)) { return; }
      if (!answer || !answer.events) { link._ended(gen, false); return; }
      link._adopt(gen, answer.cursor || 'earliest');
      then();
    });
  }
  function sseSize(e) {
    var lines = e.data.split('\n'), n = 4 + _.utf8len(e.lastEventId) + (e.type === 'message' ? 0 : 8 + e.type.length);
    for (var i = 0; i < lines.length; i++) { n += 7 + _.utf8len(lines[i]); }
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

  // Long-polling, with `ask(url, timeout, done(answer, bytes))` making one request (an XHR, or a JSONP <script>) and
  // returning something with abort().
  _.polling = function (link, gen, kind, ask) {
    var req = null, stopped = false, first = true, timeout = link.options.pollTimeout;
    // The first poll asks not to be held, so the link knows at once that the gateway answers and where it stands.
    function next() {
      if (stopped) { return; }
      link.stats.requests++;
      req = ask(link.url(kind, { timeout: first ? '0' : timeout ? String(timeout) : '' }), timeout, function (body, size) {
        if (stopped) { return; }
        first = false;
        if (!body || !body.events) { link._ended(gen, false); return; }
        link._bytes(gen, size, kind === 'poll');
        link._open(gen, body.cursor || 'earliest');
        answered(body);
        if (link._current(gen)) { next(); }
      });
    }
    function answered(body) {
      var i, gaps = body.gaps || (body.gap ? [{ channel: null, oldest: body.oldest }] : []), ended = body.ended || [];
      for (i = 0; i < gaps.length; i++) { link._gap(gen, gaps[i].channel, gaps[i].oldest); }
      for (i = 0; i < body.events.length && link._current(gen); i++) { link._deliver(gen, body.events[i]); }
      link._adopt(gen, body.cursor);
      for (i = 0; i < ended.length && link._current(gen); i++) { link._end(gen, ended[i], null); }
    }
    next();
    return { stop: function () { stopped = true; if (req) { req.abort(); } } };
  };

  _.TRANSPORTS = {
    sse: function (link, gen) {
      var es = null, stopped = false, multi = link.channels.length > 1, only = link.channels[0];
      var onEvent = function (e) {
        link._bytes(gen, sseSize(e), false);
        var ev = multi ? _.parse(e.data) : { channel: only, data: e.data, time: null };
        if (!ev) { return; }
        ev.id = e.lastEventId;
        ev.event = e.type;
        link._deliver(gen, ev);
      };
      var listen = function (type) { if (es) { es.addEventListener(type, onEvent, false); } };
      var req = anchored(link, gen, function () {
        if (stopped) { return; }
        es = new root.EventSource(link.url('sse'));
        link.stats.requests++;
        for (var i = 0; i < link.events.length; i++) { listen(link.events[i]); }
        es.addEventListener('comet-gap', function (e) { var g = _.parse(e.data) || {}; link._gap(gen, g.channel, g.oldest); }, false);
        es.addEventListener('comet-end', function (e) { link._end(gen, (_.parse(e.data) || {}).channel, e.lastEventId); }, false);
        es.onopen = function () { link._open(gen); };
        es.onerror = function () { es.close(); link._ended(gen, false); };
      });
      return { listen: listen, stop: function () { stopped = true; req.abort(); if (es) { es.close(); } } };
    },

    stream: function (link, gen) {
      var stopped = false, cursorAtEnd = null, xhr = null, ctrl = root.AbortController ? new root.AbortController() : null, reader = null;
      var push = lineReader(function (f) {
        f = _.parse(f);
        if (!f) { finish(false); return false; }
        link._alive(gen);
        if (f.type === 'open') { link._open(gen, f.cursor); } else if (f.type === 'event') {
          link._deliver(gen, { id: f.id, channel: f.channel, event: f.event, data: f.data, time: f.time });
        } else if (f.type === 'gap') { link._gap(gen, f.channel, f.oldest); } else if (f.type === 'end') { link._end(gen, f.channel, f.id); } else if (f.type === 'reconnect') {
          cursorAtEnd = f.cursor; finish(true); return false;
        }
        return !stopped;
      });
      function finish(clean) {
        if (stopped) { return; }
        stop();
        link._ended(gen, clean, cursorAtEnd);
      }
      function stop() {
        stopped = true;
        if (ctrl) { ctrl.abort(); } else if (reader) { reader.cancel(); }
        if (xhr) { xhr.abort(); }
      }
      link.stats.requests++;
      link._alive(gen);
      if (_.fetchStreams()) {
        root.fetch(link.url('stream'), { cache: 'no-store', credentials: 'same-origin', signal: ctrl ? ctrl.signal : undefined }).then(function (res) {
          if (res.status !== 200 || !res.body) { finish(false); return; }
          var dec = new root.TextDecoder();
          reader = res.body.getReader();
          var pump = function (r) {
            if (stopped) { return; }
            if (r.done) { push(dec.decode() + '\n'); finish(false); return; }
            link._bytes(gen, r.value.length);
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
          if (text.length > seen) { link._bytes(gen, _.utf8len(text.slice(seen))); push(text.slice(seen)); seen = text.length; }
          if (xhr.readyState === 4) { finish(false); }
        };
        xhr.open('GET', link.url('stream'), true);
        xhr.onreadystatechange = read;
        xhr.onprogress = read;
        xhr.send(null);
      }
      return { stop: stop };
    },

    iframe: function (link, gen) {
      var name = 'c' + (++frameSeq), el = null, done = false, commit = null, req = { abort: function () {} };
      // A gateway on another origin cannot call into this page: its iframe posts each call to this origin instead.
      var gateway = _.originOf(link.options.base), page = _.pageOrigin(), posted = !!gateway && gateway !== page;
      function end(clean, cursor) {
        if (done) { return; }
        teardown();
        link._ended(gen, clean, cursor);
      }
      function teardown() {
        done = true;
        clearInterval(commit);
        _.off(root, 'message', received);
        if (el && el.parentNode) { el.parentNode.removeChild(el); }
        el = null;
        delete Comet.cb[name];
        req.abort();
      }
      function heard() { if (!done) { link._open(gen); link._alive(gen); } }
      // A posted call counts only from the gateway's origin, from this link's own iframe, for its callback.
      function received(e) {
        if (done || !el || e.origin !== gateway || e.source !== el.contentWindow || typeof e.data !== 'string') { return; }
        var message = _.parse(e.data), target = Comet.cb[name];
        if (!message || message.comet !== 'Comet.cb.' + name || !target || !target.hasOwnProperty(message.method)) { return; }
        target[message.method].apply(null, message.args || []);
      }
      Comet.cb[name] = {
        showMsg: function (ev) {
          if (done) { return; }
          heard();
          link._bytes(gen, 60 + name.length + _.utf8len(JSON.stringify(ev)), false);
          link._deliver(gen, ev);
        },
        gap: function (g) { heard(); if (!done) { link._gap(gen, g && g.channel, g && g.oldest); } },
        end: function (e) { heard(); if (!done) { link._end(gen, e && e.channel, e && e.id); } },
        heartbeat: heard,
        timeout: function (cursor) { end(true, cursor); }
      };
      if (posted) { _.on(root, 'message', received); }
      _.afterLoad(function () {
        if (done) { return; }
        req = anchored(link, gen, function () {
          if (done) { return; }
          el = root.document.createElement('iframe');
          el.setAttribute('aria-hidden', 'true');
          el.tabIndex = -1;
          el.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden';
          el.src = link.url('iframe', { callback: 'Comet.cb.' + name, origin: posted ? page : '' });
          root.document.body.appendChild(el);
          el.onload = function () { end(false); };
          link.stats.requests++;
          link._alive(gen);
          if (posted) { return; }
          commit = setInterval(function () {
            try {
              var doc = el && el.contentDocument;
              if (doc && doc.URL !== 'about:blank') { clearInterval(commit); if (!doc.contentType || doc.contentType === 'text/html') { heard(); } }
            } catch (e) { clearInterval(commit); }
          }, 50);
        });
      });
      return { stop: teardown, heardLate: posted };
    },

    poll: function (link, gen) {
      return _.polling(link, gen, 'poll', function (url, timeout, done) {
        var xhr = _.request(url, function (body, x) { done(body, body ? _.utf8len(x.responseText) : 0); });
        if ('timeout' in xhr) { xhr.timeout = ((timeout || 25) + 15) * 1000; }
        return xhr;
      });
    }
  };
}(this));
