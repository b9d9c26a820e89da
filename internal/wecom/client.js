/*
 * qun's simulated WeCom client.
 *
 * Load it before anything else on the page:
 *
 *   <script src="http://127.0.0.1:8080/wecom/client/client.js?corp=ww0123456789abcdef&user=zhangsan&agent=1000002"></script>
 *
 * It makes the page look as if it ran inside the WeCom app, for the member
 * `user` of corporation `corp`: navigator.userAgent carries wxwork/<version>,
 * window.WeixinJSBridge answers the official @wecom/jssdk, and wx.qy offers
 * the mini-program APIs login, checkSession and createCorpGroupChat. Every
 * call goes to qun, which applies WeCom's rules.
 *
 * Query parameters (or the same keys in window.QUN_WECOM, set before this
 * script): corp, user, agent (the agentid a mini-program is bound to),
 * suite (the suite_id of a third-party app, instead of agent), version
 * (default 4.1.30) and platform (windows, ios, android or mac; default
 * windows). With neither corp nor user given, the demo directory's member
 * zhangsan of ww0123456789abcdef, in app 1000002, is signed in.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var src = new URL(script && script.src ? script.src : location.href);
  var origin = src.origin;
  var given = window.QUN_WECOM || {};
  function param(key, fallback) {
    var v = given[key] != null ? given[key] : src.searchParams.get(key);
    return v == null || v === '' ? fallback : String(v);
  }
  var demo = param('corp', '') === '' && param('user', '') === '';
  var context = {
    corp: param('corp', demo ? 'ww0123456789abcdef' : ''),
    user: param('user', demo ? 'zhangsan' : ''),
    agent: param('agent', demo ? '1000002' : ''),
    suite: param('suite', ''),
    version: param('version', '4.1.30'),
    platform: param('platform', 'windows').toLowerCase()
  };

  // What the WeCom app's web view reports about itself.
  var devices = {
    windows: {
      platform: 'Win32',
      ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.212 Safari/537.36 wxwork/{v} MicroMessenger/7.0.1 Language/zh ColorScheme/Light'
    },
    ios: {
      platform: 'iPhone',
      ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 wxwork/{v} MicroMessenger/7.0.1 Language/zh ColorScheme/Light'
    },
    android: {
      platform: 'Linux armv8l',
      ua: 'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 wxwork/{v} MicroMessenger/7.0.1 NetType/WIFI Language/zh ColorScheme/Light'
    },
    mac: {
      platform: 'MacIntel',
      ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) wxwork/{v} MicroMessenger/7.0.1 Language/zh ColorScheme/Light'
    }
  };
  var device = devices[context.platform] || {
    platform: 'Linux x86_64',
    ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) wxwork/{v} MicroMessenger/7.0.1 Language/zh'
  };
  function pretend(key, value) {
    try {
      Object.defineProperty(navigator, key, { get: function () { return value; }, configurable: true });
    } catch (e) { /* the page keeps its own */ }
  }
  pretend('userAgent', device.ua.replace('{v}', context.version));
  pretend('platform', device.platform);

  // The agent a successful agentConfig registered; the client remembers it
  // for the page, as the WeCom app does.
  var registered = '';

  function send(surface, name, args) {
    var body = {
      surface: surface, name: name, args: args || {}, context: context,
      url: location.href.split('#')[0], agent: registered
    };
    return fetch(origin + '/wecom/client/v1/invoke', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }, function (e) {
      var msg = name + ':fail ' + (e && e.message || 'network error');
      return { errMsg: msg, err_msg: msg };
    });
  }

  function succeeded(res) {
    return /:ok$/.test(res.errMsg || '');
  }

  var listeners = {};
  window.WeixinJSBridge = {
    invoke: function (name, args, callback) {
      send('jsbridge', name, args).then(function (res) {
        if (name === 'agentConfig' && succeeded(res)) {
          registered = String(args && args.agentid || '');
        }
        if (typeof callback === 'function') callback(res);
      });
    },
    on: function (name, callback) {
      (listeners[name] = listeners[name] || []).push(callback);
    },
    call: function () {}
  };

  // Mini-program style: callbacks success/fail/complete, or a promise when
  // none is given.
  function miniProgram(name, args, options) {
    options = options || {};
    var callbacks = options.success || options.fail || options.complete;
    var done = send('miniprogram', name, args).then(function (res) {
      if (succeeded(res)) {
        if (options.success) options.success(res);
      } else if (options.fail) {
        options.fail(res);
      }
      if (options.complete) options.complete(res);
      return res;
    });
    if (callbacks) return undefined;
    return done.then(function (res) { return succeeded(res) ? res : Promise.reject(res); });
  }

  var wx = window.wx = window.wx || {};
  wx.qy = wx.qy || {};
  wx.qy.login = function (options) {
    options = options || {};
    return miniProgram('login', { suiteId: options.suiteId }, options);
  };
  wx.qy.checkSession = function (options) {
    return miniProgram('checkSession', {}, options);
  };
  wx.qy.createCorpGroupChat = function (options) {
    options = options || {};
    return miniProgram('createCorpGroupChat', {
      groupName: options.groupName,
      userIds: options.userIds,
      openUserIds: options.openUserIds,
      externalUserIds: options.externalUserIds,
      corpGroupUserIds: options.corpGroupUserIds
    }, options);
  };

  // For pages and tests: who is signed in, and signing in someone else.
  window.qunWeCom = {
    context: context,
    signIn: function (next) {
      for (var k in next) if (Object.prototype.hasOwnProperty.call(next, k)) context[k] = String(next[k]);
    }
  };

  setTimeout(function () {
    document.dispatchEvent(new Event('WeixinJSBridgeReady'));
  }, 0);
})();
