/* comet.js part 4 of 6, ladder: the rungs at both ends of the ladder. At the top a WebSocket, which changes its channels
 * with messages on the open socket; at the bottom JSONP, long-polling with a <script> per poll, which reaches a gateway on
 * another origin from a browser with no CORS. The frames are those of docs/PROTOCOL.md ("5. JSONP", "6. WebSocket"). ES5. */
(function (root) {
  'use strict';
  var Comet = root.Comet, _ = Comet._;
  var scriptSeq = 0;

  // The socket's address: the link's URL with the scheme of a WebSocket, on this page's host when `base` is relative.
  function socketUrl(url) {
    if (!/^https?:/i.test(url)) { url = root.location.protocol + '//' + root.location.host + url; }
    return url.replace(/^http/i, 'ws');
  }

  _.TRANSPORTS.ws = function (link, gen) {
    var socket, done = false, cursorAtEnd = null, waiting = 0, following = link.channels.slice();
    function send(message) {
      waiting++;
      socket.send(JSON.stringify(message));
    }
    // A change drops every channel and subscribes the new list from `cursor`, the link's (stepped back when a
    // subscription starts earlier): the gateway takes a cursor only from a socket that follows nothing. Frames that
    // arrive before the change is acknowledged are dropped, and come again from the cursor.
    function follow(channels, cursor) {
      if (done) { return; }
      var subscribe = { type: 'subscribe', channels: channels.slice() }, token = link.tokenNow();
      if (cursor) { subscribe.cursor = cursor; }
      if (token) { subscribe.token = token; }
      if (following.length) { send({ type: 'unsubscribe', channels: following }); }
      send(subscribe);
      following = channels.slice();
    }
    function frame(f) {
      if (f.type === 'open' || f.type === 'error') {
        if (waiting) { waiting--; }
        // A refused change ends the socket: the upgrade that follows answers with the refusal's status.
        if (f.type === 'error') { finish(false); return; }
        link._open(gen, f.cursor);
      } else if (f.type === 'reconnect') {
        cursorAtEnd = f.cursor;
      } else if (waiting) {
        return;
      } else if (f.type === 'event') {
        link._deliver(gen, { id: f.id, channel: f.channel || following[0], event: f.event, data: f.data, time: f.time });
      } else if (f.type === 'gap') {
        link._gap(gen, f.channel, f.oldest);
      } else if (f.type === 'end') {
        var at = _.indexOf(following, f.channel || following[0]);
        if (at >= 0) { following.splice(at, 1); }
        link._end(gen, f.channel, f.id);
      }
    }
    function finish(clean) {
      if (done) { return; }
      stop();
      link._ended(gen, clean, cursorAtEnd);
    }
    function stop() {
      done = true;
      if (socket && socket.readyState < 2) { socket.close(1000); }
    }
    link.stats.requests++;
    try {
      socket = new root.WebSocket(socketUrl(link.url('ws')));
    } catch (e) {
      setTimeout(function () { finish(false); }, 0);
      return { stop: stop };
    }
    socket.onmessage = function (message) {
      if (done || typeof message.data !== 'string') { return; }
      link._bytes(gen, _.utf8len(message.data), false);
      var f = _.parse(message.data);
      if (f) { frame(f); }
    };
    // Every close the gateway starts follows a reconnect frame with its cursor; 1013 asks to come back later.
    socket.onclose = function (e) { finish(e.code !== 1013 && !!cursorAtEnd); };
    return { stop: stop, follow: follow };
  };

  // One poll as a <script>: the gateway wraps the answer in a call of a callback of this page made for this poll alone,
  // which is removed with its script once the poll is over (an answer that comes later finds a no-op in its place).
  function script(url, timeout, done) {
    var name = 'j' + (++scriptSeq), el = root.document.createElement('script'), over = false;
    var timer = setTimeout(function () { finish(null); }, ((timeout || 25) + 15) * 1000);
    function finish(body) {
      if (over) { return; }
      over = true;
      clearTimeout(timer);
      Comet.cb[name] = function () {};
      if (el.parentNode) { el.parentNode.removeChild(el); }
      done(body, body ? _.utf8len(JSON.stringify(body)) + name.length + 12 : 0);
    }
    // A script that loaded without calling back (an error page, a refusal) ends the poll as a failure.
    function loaded() {
      el.onload = el.onerror = el.onreadystatechange = null;
      finish(null);
      delete Comet.cb[name];
    }
    Comet.cb[name] = function (body) { finish(body || null); };
    el.onload = el.onerror = loaded;
    el.onreadystatechange = function () { if (el.readyState === 'loaded' || el.readyState === 'complete') { loaded(); } };
    el.async = true;
    el.src = url + (url.indexOf('?') < 0 ? '?' : '&') + 'callback=Comet.cb.' + name;
    (root.document.head || root.document.getElementsByTagName('head')[0] || root.document.body).appendChild(el);
    return { abort: function () { finish(null); } };
  }

  _.TRANSPORTS.jsonp = function (link, gen) {
    var stopped = false;
    var polling = _.polling(link, gen, 'jsonp', function (url, timeout, done) {
      return script(url, timeout, function (body, size) { if (!stopped) { done(body, size); } });
    });
    return { stop: function () { stopped = true; polling.stop(); } };
  };
}(this));
