/* relay.js: elects one tab of the demo page to hold the gateway connections and relays messages between tabs (ES5). */
(function (root) {
  'use strict';
  var BEAT = 1000, SILENCE = 3000;

  // handlers.lead() when this tab must open the connections, handlers.follow() when it must drop them,
  // handlers.message(msg) for every message another tab posted. mode: 'locks', 'heartbeat' or 'alone'.
  function Relay(name, handlers) {
    var self = this;
    this.id = String(Math.random()).slice(2) + String(new Date().getTime());
    this.handlers = handlers;
    this.leader = false;
    this.channel = root.BroadcastChannel ? new root.BroadcastChannel(name) : null;
    if (!this.channel) {
      this.mode = 'alone';
      setTimeout(function () { self._lead(); }, 0);
      return;
    }
    this.channel.onmessage = function (e) { self._receive(e.data); };
    if (root.navigator.locks && root.navigator.locks.request) {
      this.mode = 'locks';
      root.navigator.locks.request(name, function () {
        self._lead();
        return new root.Promise(function () {});
      });
    } else {
      this.mode = 'heartbeat';
      this._heard = new Date().getTime() - SILENCE + 1500;
      this._beat = setInterval(function () { self._tick(); }, BEAT);
      root.addEventListener('pagehide', function () { if (self.leader) { self.post({ relay: 'bye' }); } }, false);
    }
  }

  Relay.prototype.post = function (msg) {
    if (this.channel) { this.channel.postMessage(msg); }
  };
  Relay.prototype._lead = function () {
    this.leader = true;
    this.handlers.lead();
  };
  Relay.prototype._receive = function (msg) {
    if (msg && msg.relay) {
      this._heard = new Date().getTime();
      if (msg.relay === 'bye') { this._heard = 0; }
      if (msg.relay === 'beat' && this.leader && msg.from < this.id) {
        this.leader = false;
        this.handlers.follow();
      }
      return;
    }
    this.handlers.message(msg);
  };
  // Without navigator.locks: the leader beats every second; a tab that hears no beat for three seconds takes over,
  // and of two leaders that hear each other the one with the larger id steps down.
  Relay.prototype._tick = function () {
    if (this.leader) {
      this.post({ relay: 'beat', from: this.id });
    } else if (new Date().getTime() - this._heard > SILENCE) {
      this._lead();
      this.post({ relay: 'beat', from: this.id });
    }
  };

  root.Relay = Relay;
}(this));
