// facecam: what every page shares. Plain JavaScript, no build step, nothing fetched from elsewhere.
"use strict";

const facecam = {
  /** The session's CSRF token (every POST must carry it). */
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  /** fetch() with the CSRF header; resolves to the parsed JSON, rejects with the server's {"error"} text. */
  async post(url, body, headers = {}) {
    const response = await fetch(url, {method: "POST", body, credentials: "same-origin",
                                       headers: {"X-CSRF-Token": facecam.csrf(), ...headers}});
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
    return data;
  },
  /** The WebSocket URL of a path on this site. */
  wsUrl(path) {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
  },
};
window.facecam = facecam;
