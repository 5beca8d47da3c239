// The Live page: one WebSocket for every tile. Each binary message is one source's newest view:
// uint32 header length (big-endian), the header as JSON, then the JPEG (when header.picture).
"use strict";

(() => {
  const tiles = new Map();
  document.querySelectorAll(".tile[data-source]").forEach((tile) => tiles.set(tile.dataset.source, {
    tile, img: tile.querySelector("img"), frame: tile.querySelector(".frame"),
    names: tile.querySelector(".names"), fps: tile.querySelector(".fps"), url: null, shown: [],
  }));
  const status = document.getElementById("live-status");
  if (!tiles.size) return;
  const decoder = new TextDecoder();

  function drawBoxes(t, h) {
    t.frame.querySelectorAll(".box").forEach((b) => b.remove());
    if (!h.width || !h.height) return;
    (h.boxes || []).forEach((box, i) => {
      const [x1, y1, x2, y2] = box;
      const name = h.names[i];
      const div = document.createElement("div");
      div.className = "box" + (name === "unknown" ? " unknown" : "") + (h.stale && h.stale[i] ? " stale" : "");
      Object.assign(div.style, {left: `${100 * x1 / h.width}%`, top: `${100 * y1 / h.height}%`,
                                 width: `${100 * (x2 - x1) / h.width}%`, height: `${100 * (y2 - y1) / h.height}%`});
      const label = document.createElement("span");
      const conf = h.confidences && h.confidences[i] != null ? ` ${h.confidences[i].toFixed(2)}` : "";
      label.textContent = name + conf;
      div.appendChild(label);
      t.frame.appendChild(div);
    });
  }

  function caption(t, h) {
    const names = [...new Set(h.names || [])];
    names.sort((a, b) => (a === "unknown") - (b === "unknown") || a.localeCompare(b));
    t.names.textContent = names.length ? names.join(", ") : "nobody in view";
    const now = performance.now();
    t.shown = t.shown.filter((s) => now - s < 2000).concat([now]);
    t.fps.textContent = t.shown.length > 1 ? `${(1000 * (t.shown.length - 1) / (now - t.shown[0])).toFixed(1)} fps` : "";
  }

  function show(buffer) {
    const length = new DataView(buffer).getUint32(0);
    const h = JSON.parse(decoder.decode(new Uint8Array(buffer, 4, length)));
    const t = tiles.get(h.source);
    if (!t) return;
    if (h.picture) {
      const url = URL.createObjectURL(new Blob([new Uint8Array(buffer, 4 + length)], {type: "image/jpeg"}));
      const old = t.url;
      t.url = url;
      t.img.onload = () => { if (old) URL.revokeObjectURL(old); };
      t.img.src = url;
    }
    t.tile.dataset.frame = h.frame;
    drawBoxes(t, h);
    caption(t, h);
  }

  function connect() {
    const socket = new WebSocket(facecam.wsUrl("/live/ws"));
    socket.binaryType = "arraybuffer";
    socket.onopen = () => { status.textContent = "live"; };
    socket.onmessage = (event) => { if (event.data instanceof ArrayBuffer) show(event.data); };
    socket.onclose = (event) => {
      status.textContent = event.reason ? `disconnected: ${event.reason}` : "disconnected: reconnecting…";
      if (event.code !== 1000 && event.code !== 1008) setTimeout(connect, 1000);
    };
  }
  connect();
})();
