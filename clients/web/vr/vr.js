// The VR headset page. /vr opens the bank hall (hall-page.js: walk, pick, buy, world-locked reprojection);
// /vr?product=ID keeps the single-product view (product-view.js).

const mode = new URLSearchParams(location.search).has("product") ? "product" : "hall";
document.body.dataset.mode = mode;
const page = mode === "product" ? await import("./product-view.js") : await import("./hall-page.js");
page.main();
