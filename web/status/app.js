// restreamer status page. Plain browser JavaScript, no build step. Every URL is relative
// to the page ("?events", "../live.ts"), so it works behind any reverse proxy or prefix.
// Text from the server is only ever set with textContent (never parsed as HTML).
'use strict';
(() => {
  const HISTORY_POINTS = 150;
  const cards = new Map();
  let state = { actions: false, preview: false, clientDetails: true };
  let mpegtsLoading;

  // ---------- formatting ----------
  const fmtRate = (bps) => {
    if (bps >= 1e9) return (bps / 1e9).toFixed(2) + ' Gbit/s';
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mbit/s';
    if (bps >= 1e3) return (bps / 1e3).toFixed(0) + ' kbit/s';
    return bps + ' bit/s';
  };
  const fmtBytes = (n) => {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + ' GB';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + ' MB';
    if (n >= 1e3) return (n / 1e3).toFixed(0) + ' kB';
    return n + ' B';
  };
  const fmtDuration = (ms) => {
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
    if (m > 0) return `${m}m ${String(r).padStart(2, '0')}s`;
    return `${r}s`;
  };
  const fmtMs = (ms) => (ms === null || ms === undefined ? '–' : ms >= 10000 ? (ms / 1000).toFixed(0) + ' s' : (ms / 1000).toFixed(1) + ' s');
  const STATE_TEXT = { connected: 'connected', connecting: 'connecting', grace: 'in grace', idle: 'on-demand idle', offline: 'offline' };
  const CODEC_LABEL = {
    h264: 'H.264', hevc: 'HEVC', mpeg2video: 'MPEG-2 video', mpeg1video: 'MPEG-1 video', mpeg4: 'MPEG-4 Part 2', vc1: 'VC-1', vvc: 'VVC',
    cavs: 'AVS', avs2: 'AVS2', dirac: 'Dirac', aac: 'AAC', aac_latm: 'AAC LATM', mp2: 'MPEG audio', ac3: 'AC-3', eac3: 'E-AC-3',
    opus: 'Opus', dts: 'DTS', truehd: 'TrueHD',
  };
  const label = (c) => CODEC_LABEL[c] || c;
  // Priority-1 health indicators (docs/health.md): the stream cannot be decoded properly.
  const PRIORITY1 = new Set(['ts_sync_loss', 'sync_byte_error', 'pat_error', 'cc_error', 'pmt_error', 'pid_error']);

  // Set a field's text and keep the raw value in data-value (for scripts and tests).
  const field = (root, name, text, value) => {
    for (const el of root.querySelectorAll(`[data-field="${name}"]`)) {
      if (el.textContent !== text) el.textContent = text;
      if (value !== undefined) el.dataset.value = String(value);
    }
  };

  // ---------- rendering ----------
  function render(msg) {
    state = msg;
    document.body.dataset.time = String(msg.time);
    const total = (k) => msg.streams.reduce((a, s) => a + s[k], 0);
    field(document, 'connections', String(msg.connections), msg.connections);
    document.getElementById('limit').textContent = msg.maxConnections > 0 ? ` / ${msg.maxConnections}` : '';
    field(document, 'bandwidth', msg.stats ? fmtRate(total('bitrateOut')) : 'n/a', total('bitrateOut'));
    field(document, 'bandwidth_in', msg.stats ? fmtRate(total('bitrateIn')) : 'n/a', total('bitrateIn'));
    document.getElementById('updated').textContent = 'updated ' + new Date(msg.time).toLocaleTimeString();
    const notes = [];
    if (!msg.stats) notes.push('Statistics are disabled ("nostats"): rates read 0.');
    if (!msg.clientDetails) notes.push('Multi-process mode (workers > 1): viewer counts are totals of all workers; the list of viewers and ending a viewer need "workers": 1.');
    const notice = document.getElementById('notice');
    notice.hidden = notes.length === 0;
    notice.textContent = notes.join(' ');

    const main = document.getElementById('streams');
    const seen = new Set();
    for (const s of msg.streams) {
      seen.add(s.path);
      let c = cards.get(s.path);
      if (!c) {
        c = makeCard(s);
        cards.set(s.path, c);
      }
      main.appendChild(c.el); // keeps configuration order; a no-op when already in place
      update(c, s);
    }
    for (const [path, c] of cards) {
      if (!seen.has(path)) { stopPreview(c); c.el.remove(); cards.delete(path); }
    }
  }

  function makeCard(s) {
    const el = document.getElementById('stream-template').content.firstElementChild.cloneNode(true);
    el.dataset.path = s.path;
    const c = { el, stream: s, player: undefined, confirmTimer: undefined };
    el.querySelector('[data-action="play"]').addEventListener('click', () => (c.player ? stopPreview(c) : startPreview(c)));
    el.querySelector('[data-action="toggle"]').addEventListener('click', (ev) => toggle(c, ev.currentTarget));
    el.querySelector('tbody').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-client]');
      if (b) act({ action: 'end', client: b.dataset.client }, b);
    });
    return c;
  }

  function update(c, s) {
    c.stream = s;
    const el = c.el;
    el.dataset.state = s.state;
    field(el, 'name', s.name);
    field(el, 'path', s.path);
    el.querySelector('[data-field="path"]').hidden = s.name === s.path;
    const badge = el.querySelector('[data-field="state"]');
    badge.dataset.state = s.state;
    field(el, 'state', STATE_TEXT[s.state] || s.state, s.state);
    field(el, 'upstream', s.upstream === null ? '–' : s.upstream, s.upstream === null ? '' : s.upstream);
    const why = s.upstreamReason;
    field(el, 'upstream_reason', why ? `${why.text}, ${fmtDuration(Math.max(0, state.time - why.since))} ago` : '–', why ? why.kind : '');
    health(el, s);
    field(el, 'bitrate_in', fmtRate(s.bitrateIn), s.bitrateIn);
    field(el, 'bitrate_out', fmtRate(s.bitrateOut), s.bitrateOut);
    field(el, 'clients', String(s.clients), s.clients);
    field(el, 'clients_summary', `(${s.clients})`);
    field(el, 'packets_dropped', String(s.packetsDropped), s.packetsDropped);
    field(el, 'reconnects', String(s.reconnects), s.reconnects);
    const a = s.analysis;
    field(el, 'continuity_errors', a ? String(a.continuity_errors) : '–', a ? a.continuity_errors : '');
    field(el, 'keyframe_age', a ? fmtMs(a.keyframe_age_ms) : '–', a && a.keyframe_age_ms !== null ? a.keyframe_age_ms : '');
    field(el, 'gop', a && a.gop_ms !== null ? fmtMs(a.gop_ms) : '–', a && a.gop_ms !== null ? a.gop_ms : '');
    spark(el.querySelector('[data-spark="in"] polyline'), s.historyIn);
    spark(el.querySelector('[data-spark="out"] polyline'), s.historyOut);
    programs(el.querySelector('[data-field="programs"]'), a);

    const toggleBtn = el.querySelector('[data-action="toggle"]');
    toggleBtn.hidden = !state.actions;
    if (!c.confirmTimer) toggleBtn.textContent = s.state === 'offline' ? 'Set online' : 'Set offline';
    el.querySelector('[data-action="play"]').hidden = !state.preview;
    clients(c, s);
  }

  function spark(line, values) {
    const max = Math.max(1, ...values);
    const step = 150 / (HISTORY_POINTS - 1);
    const n = values.length;
    const pts = values.map((v, i) => `${(150 - (n - 1 - i) * step).toFixed(1)},${(29 - (v / max) * 27).toFixed(1)}`).join(' ');
    if (line.getAttribute('points') !== pts) line.setAttribute('points', pts);
  }

  // A badge per alarm raised now (priority 1 red), and the count of each indicator that
  // has counted errors (all of them, raw, in data-value).
  const chip = (cls, text, data) => {
    const e = Object.assign(document.createElement('span'), { className: cls, textContent: text });
    Object.assign(e.dataset, data);
    return e;
  };
  function health(el, s) {
    const box = el.querySelector('[data-field="alarms"]');
    const counts = el.querySelector('[data-field="health_errors"]');
    const key = JSON.stringify([s.alarms, s.healthErrors]);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.dataset.value = s.alarms.join(',');
    box.replaceChildren(...s.alarms.map((a) => chip('badge alarm', a, { alarm: a, priority: PRIORITY1.has(a) ? '1' : '2' })));
    counts.hidden = s.healthErrors === null;
    if (s.healthErrors === null) return;
    counts.dataset.value = JSON.stringify(s.healthErrors);
    const names = Object.keys(s.healthErrors).filter((k) => s.healthErrors[k] > 0);
    counts.replaceChildren(...names.map((k) => chip('count', `${k} ${s.healthErrors[k]}`, { indicator: k, ...(s.alarms.includes(k) ? { active: '' } : {}) })));
    if (names.length === 0) counts.replaceChildren(chip('dim', 'health checks: no errors', {}));
  }

  function programs(box, a) {
    const key = a ? JSON.stringify(a.programs) : '';
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren();
    if (!a || a.programs.length === 0) {
      const span = document.createElement('span');
      span.className = 'dim';
      span.textContent = 'no programs seen yet';
      box.append(span);
      return;
    }
    for (const p of a.programs) {
      const prog = document.createElement('span');
      prog.className = 'prog';
      prog.textContent = `program ${p.program}`;
      box.append(prog);
      for (const es of p.streams) {
        const codec = document.createElement('span');
        codec.className = 'codec';
        codec.dataset.codec = es.codec;
        codec.title = `PID ${es.pid}, stream type 0x${es.stream_type.toString(16).padStart(2, '0')}`;
        codec.textContent = label(es.codec);
        box.append(codec);
      }
    }
  }

  function clients(c, s) {
    const details = c.el.querySelector('details.clients');
    details.hidden = !state.clientDetails;
    if (!state.clientDetails) return;
    const tbody = details.querySelector('tbody');
    const rows = [];
    for (const cl of s.clientList) {
      const tr = document.createElement('tr');
      tr.dataset.client = cl.id;
      const cells = [
        cl.address || '–', cl.userAgent || '–', cl.user || '–', fmtDuration(cl.durationMs), fmtBytes(cl.bytes),
        String(cl.packetsDropped), s.bitrateIn > 0 ? fmtMs((cl.lagPackets * 188 * 8 * 1000) / s.bitrateIn) : `${cl.lagPackets} pk`,
      ];
      for (const t of cells) {
        const td = document.createElement('td');
        td.textContent = t;
        td.title = t;
        tr.append(td);
      }
      tr.children[4].dataset.value = String(cl.bytes);
      tr.children[6].dataset.value = String(cl.lagPackets);
      tr.children[6].title = `${cl.lagPackets} packets behind the live edge`;
      const td = document.createElement('td');
      if (state.actions) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'danger';
        b.dataset.client = cl.id;
        b.textContent = 'End';
        b.title = 'end this viewer\'s connection';
        td.append(b);
      }
      tr.append(td);
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    const more = details.querySelector('.more');
    more.hidden = s.clients <= s.clientList.length;
    more.textContent = `showing ${s.clientList.length} of ${s.clients} viewers`;
  }

  // ---------- actions ----------
  function toggle(c, button) {
    const off = c.stream.state !== 'offline';
    if (off && !c.confirmTimer) {
      // Taking a stream offline ends every viewer: ask for a second click.
      button.textContent = 'Confirm offline';
      button.classList.add('danger');
      c.confirmTimer = setTimeout(() => { c.confirmTimer = undefined; button.classList.remove('danger'); update(c, c.stream); }, 4000);
      return;
    }
    if (c.confirmTimer) { clearTimeout(c.confirmTimer); c.confirmTimer = undefined; button.classList.remove('danger'); }
    act({ action: off ? 'offline' : 'online', stream: c.stream.path }, button);
  }

  async function act(params, button) {
    button.disabled = true;
    try {
      const r = await fetch('?' + new URLSearchParams(params).toString(), { method: 'POST', credentials: 'same-origin' });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) showNotice(`Action failed: ${body.error || r.status + ' ' + r.statusText}`);
    } catch (e) {
      showNotice(`Action failed: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  }

  function showNotice(text) {
    const n = document.getElementById('notice');
    n.hidden = false;
    n.textContent = text;
  }

  // ---------- preview (mpegts.js, Media Source Extensions) ----------
  const VIDEO_TYPES = { h264: 'video/mp4; codecs="avc1.42E01E"', hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"' };
  const AUDIO_TYPES = { aac: 'audio/mp4; codecs="mp4a.40.2"', mp2: 'audio/mpeg', ac3: 'audio/mp4; codecs="ac-3"', eac3: 'audio/mp4; codecs="ec-3"', opus: 'audio/mp4; codecs="opus"' };
  const VIDEO_CODECS = new Set(['h264', 'hevc', 'mpeg2video', 'mpeg1video', 'mpeg4', 'vc1', 'vvc', 'cavs', 'avs2', 'dirac']);
  const AUDIO_CODECS = new Set(['aac', 'aac_latm', 'mp2', 'ac3', 'eac3', 'opus', 'dts', 'truehd']);

  /** Can this browser play the stream's first program? {ok, hasVideo, hasAudio, note} or {ok: false, message}. */
  function playability(s) {
    const MS = window.ManagedMediaSource || window.MediaSource;
    if (!MS) return { ok: false, message: 'This browser has no Media Source Extensions: it cannot play live MPEG-TS. Open the stream in VLC or mpv.' };
    const a = s.analysis;
    if (!a || a.programs.length === 0) return { ok: false, message: 'No programs seen yet: the preview can start once the stream delivers.' };
    const es = a.programs[0].streams;
    const video = es.find((e) => VIDEO_CODECS.has(e.codec));
    const audio = es.find((e) => AUDIO_CODECS.has(e.codec));
    const supported = (types, codec) => types[codec] !== undefined && MS.isTypeSupported(types[codec]);
    const videoOk = video !== undefined && supported(VIDEO_TYPES, video.codec);
    const audioOk = audio !== undefined && supported(AUDIO_TYPES, audio.codec);
    if (video && !videoOk) {
      return { ok: false, message: `${label(video.codec)}${/video$/.test(label(video.codec)) ? '' : ' video'} cannot play in this browser (it plays H.264${supported(VIDEO_TYPES, 'hevc') ? ' and HEVC' : ''} through Media Source Extensions, without transcoding). Open the stream in VLC or mpv instead.` };
    }
    if (!video && !audioOk) return { ok: false, message: audio ? `${label(audio.codec)} audio cannot play in this browser.` : 'No audio or video stream this browser can play.' };
    const note = audio && !audioOk ? `${label(audio.codec)} audio cannot play in this browser: video only.` : '';
    return { ok: true, hasVideo: videoOk, hasAudio: audioOk, note };
  }

  function loadMpegts() {
    if (window.mpegts) return Promise.resolve(window.mpegts);
    mpegtsLoading ??= new Promise((resolve, reject) => {
      const sc = document.createElement('script');
      sc.src = '?asset=mpegts.js';
      sc.onload = () => (window.mpegts ? resolve(window.mpegts) : reject(new Error('mpegts.js did not load')));
      sc.onerror = () => { mpegtsLoading = undefined; reject(new Error('mpegts.js could not be loaded')); };
      document.head.append(sc);
    });
    return mpegtsLoading;
  }

  async function startPreview(c) {
    const box = c.el.querySelector('.preview');
    const msg = box.querySelector('.preview-msg');
    const video = box.querySelector('video');
    const btn = c.el.querySelector('[data-action="play"]');
    box.hidden = false;
    msg.className = 'preview-msg';
    const p = playability(c.stream);
    if (!p.ok) {
      video.hidden = true;
      msg.classList.add('error');
      msg.textContent = p.message;
      box.dataset.playable = 'false';
      return;
    }
    box.dataset.playable = 'true';
    video.hidden = false;
    msg.textContent = 'loading…';
    btn.textContent = '■ Stop';
    let mpegts;
    try {
      mpegts = await loadMpegts();
    } catch (e) {
      msg.classList.add('error');
      msg.textContent = e.message;
      btn.textContent = '▶ Preview';
      return;
    }
    // Its own log goes to the console; keep warnings (a live stream has harmless ones) out.
    mpegts.LoggingControl.applyConfig({ enableAll: false, enableError: true });
    const player = mpegts.createPlayer(
      { type: 'mpegts', isLive: true, url: new URL(c.stream.playUrl, location.href).href, hasAudio: p.hasAudio, hasVideo: p.hasVideo },
      { enableWorker: false, enableStashBuffer: false, liveBufferLatencyChasing: true, lazyLoad: false },
    );
    c.player = player;
    player.on(mpegts.Events.ERROR, (type, detail, info) => {
      msg.classList.add('error');
      msg.textContent = `Playback stopped: ${type} ${detail}${info && info.msg ? ' (' + info.msg + ')' : ''}`;
    });
    video.muted = true;
    player.attachMediaElement(video);
    player.load();
    video.addEventListener('playing', () => { msg.textContent = p.note || 'playing (muted)'; }, { once: true });
    const played = player.play();
    if (played && played.catch) played.catch((e) => { msg.textContent = `Autoplay was refused: ${e.message}`; });
  }

  function stopPreview(c) {
    const box = c.el.querySelector('.preview');
    const player = c.player;
    c.player = undefined;
    if (player) {
      try { player.pause(); player.unload(); player.detachMediaElement(); player.destroy(); } catch { /* already gone */ }
    }
    box.hidden = true;
    c.el.querySelector('[data-action="play"]').textContent = '▶ Preview';
  }

  // ---------- live updates ----------
  function setLive(s, text) {
    const el = document.getElementById('live');
    el.dataset.state = s;
    el.textContent = text;
  }

  let polling;
  function poll() {
    if (polling) return;
    const once = () => fetch('?snapshot', { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status + ' ' + r.statusText))))
      .then((m) => { render(m); setLive('live', 'live (polling)'); })
      .catch((e) => setLive('error', `no data: ${e.message}`));
    polling = setInterval(once, 2000);
    once();
  }

  function connect() {
    if (!window.EventSource) { poll(); return; }
    const es = new EventSource('?events');
    let got = false;
    let failures = 0;
    es.onmessage = (ev) => {
      got = true;
      failures = 0;
      setLive('live', 'live');
      render(JSON.parse(ev.data));
    };
    es.onerror = () => {
      failures++;
      setLive('error', 'reconnecting…');
      // Something in between (a proxy that buffers) keeps events from arriving: poll instead.
      if (!got && failures >= 3) { es.close(); poll(); }
    };
  }

  connect();
})();
