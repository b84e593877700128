/* comet.js part 1 of 6, core: the Comet namespace, what the browser supports, and small helpers the other parts share
 * through Comet._ (private: the gateway serves the six parts as one file, /static/comet.js). ES5, no build step. */
(function (root) {
  'use strict';
  var Comet = root.Comet = root.Comet || {};
  var _ = Comet._ = Comet._ || {};
  Comet.cb = Comet.cb || {};
  // This tab, among the tabs sharing a connection.
  _.tab = _.tab || String(Math.random()).slice(2, 10) + (new Date().getTime() % 1e6);

  _.root = root;
  // The ladder `auto` climbs down, best first. Across origins each rung takes its cross-origin form, and JSONP, the one
  // a browser without CORS still has, comes last (_.candidates).
  _.ORDER = ['ws', 'sse', 'stream', 'iframe', 'poll'];
  _.FOREIGN_ORDER = ['ws', 'sse', 'stream', 'iframe', 'poll', 'jsonp'];
  _.DEFAULTS = { minDelay: 500, maxDelay: 30000, openTimeout: 5000, watchdog: 45000, pollTimeout: 0, base: '' };

  _.fetchStreams = function () {
    return !!(root.fetch && root.ReadableStream && root.TextDecoder && root.Response && 'body' in root.Response.prototype);
  };
  function xhrStreams() {
    return !!root.XMLHttpRequest && 'onprogress' in new root.XMLHttpRequest();
  }
  function present(name) { return typeof root[name] === 'function' || typeof root[name] === 'object'; }
  // Whether this browser has `transport`: for a gateway on another origin (`foreign`), its cross-origin form.
  Comet.supports = function (transport, foreign) {
    var cors = !foreign || _.corsXhr();
    if (transport === 'ws') { return present('WebSocket'); }
    if (transport === 'sse') { return present('EventSource') && cors; }
    if (transport === 'stream') { return (_.fetchStreams() || xhrStreams()) && cors; }
    if (transport === 'iframe') { return !!(root.document && root.document.createElement) && (!foreign || present('postMessage')); }
    if (transport === 'jsonp') { return !!(root.document && root.document.createElement); }
    return transport === 'poll' && !!root.XMLHttpRequest && cors;
  };

  _.on = function (target, type, fn) { if (target.addEventListener) { target.addEventListener(type, fn, false); } };
  _.off = function (target, type, fn) { if (target.removeEventListener) { target.removeEventListener(type, fn, false); } };
  // A handler that throws must not break the connection loop: its error is rethrown on its own.
  _.call = function (fn, a, b) {
    if (typeof fn !== 'function') { return; }
    try { fn(a, b); } catch (e) { setTimeout(function () { throw e; }, 0); }
  };
  _.indexOf = function (list, item) {
    for (var i = 0; i < list.length; i++) { if (list[i] === item) { return i; } }
    return -1;
  };
  _.utf8len = function (s) {
    var n = 0, c;
    for (var i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c < 0x80) { n += 1; } else if (c < 0x800) { n += 2; } else if (c >= 0xD800 && c < 0xDC00) { n += 4; i++; } else { n += 3; }
    }
    return n;
  };
  _.parse = function (text) { try { return JSON.parse(text); } catch (e) { return null; } };
  _.copy = function (from, into) {
    for (var name in from) { if (from.hasOwnProperty(name)) { into[name] = from[name]; } }
    return into;
  };

  // The origin of an absolute URL ('' for a relative one), as the browser writes origins (no default port).
  _.originOf = function (url) {
    var found = /^(https?):\/\/([^\/?#]+)/i.exec(url || '');
    if (!found) { return ''; }
    var scheme = found[1].toLowerCase(), host = found[2].toLowerCase();
    var port = scheme === 'https' ? ':443' : ':80';
    if (host.slice(-port.length) === port) { host = host.slice(0, -port.length); }
    return scheme + '://' + host;
  };
  _.pageOrigin = function () { return _.originOf(root.location.protocol + '//' + root.location.host); };
  _.corsXhr = function () { return !!root.XMLHttpRequest && 'withCredentials' in new root.XMLHttpRequest(); };
  _.foreign = function (base) { return !!_.originOf(base) && _.originOf(base) !== _.pageOrigin(); };

  // Cursors stay opaque to users, but the client orders them: an id is `<hex epoch>-<decimal seq>` and the sequence
  // grows with every publish on any channel of one epoch. 'earliest' comes before every id. Returns -1, 0 or 1, or
  // null when the two cannot be ordered (ids of two lives of the gateway).
  _.compare = function (a, b) {
    if (a === b) { return 0; }
    if (a === 'earliest' || b === 'earliest') { return a === 'earliest' ? -1 : 1; }
    var x = /^([0-9a-f]+)-(\d+)$/.exec(a || ''), y = /^([0-9a-f]+)-(\d+)$/.exec(b || '');
    if (!x || !y || x[1] !== y[1]) { return null; }
    if (x[2].length !== y[2].length) { return x[2].length < y[2].length ? -1 : 1; }
    return x[2] < y[2] ? -1 : 1;
  };
  // The later of two cursors; of two that cannot be ordered, `b` (the one the caller holds as current).
  _.later = function (a, b) { return !b || (a && _.compare(a, b) === 1) ? a : b; };

  _.request = function (url, done) {
    var xhr = new root.XMLHttpRequest();
    xhr.open('GET', url, true);
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) { xhr.onreadystatechange = null; done(xhr.status === 200 ? _.parse(xhr.responseText) : null, xhr); }
    };
    xhr.send(null);
    return xhr;
  };
  _.afterLoad = function (fn) {
    if (root.document.readyState === 'complete') { fn(); return; }
    _.on(root, 'load', function once() { _.off(root, 'load', once); setTimeout(fn, 0); });
  };
}(this));
