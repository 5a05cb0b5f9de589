// Registers CloudTrack's service worker (assets/sw.js), which makes the app installable.
// This script is added after the page has loaded, so it registers at once.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}
