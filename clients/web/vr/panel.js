// The in-scene panel of the headset: the product's name, live price, details or the pay QR (and the order's
// status), painted with the 2D canvas API. The single-product view paints it into each eye of the stereo frame;
// the hall paints it into its own canvas and draws that as a world-locked quad in the scene.

/**
 * Paints the panel into the rectangle (x, y, w, h) of a 2D context.
 * content: {title, price, sub?, lines: string[], qrImage?, status?, statusOk?}
 */
export function paintPanel(ctx, x, y, w, h, content) {
  ctx.save();
  ctx.fillStyle = "rgba(14,20,32,0.9)";
  ctx.strokeStyle = "#d4af6a";
  ctx.lineWidth = Math.max(2, Math.round(h / 160));
  ctx.fillRect(x, y, w, h);
  ctx.strokeRect(x, y, w, h);
  const fs = Math.max(12, Math.round(h / 12));
  const pad = fs * 0.6;
  ctx.fillStyle = "#eef1f6";
  ctx.font = `600 ${fs}px "Noto Sans CJK SC", sans-serif`;
  ctx.fillText(content.title || "", x + pad, y + fs * 1.4, w - 2 * pad);
  ctx.fillStyle = "#f0d79b";
  ctx.fillText(content.price || "—", x + pad, y + fs * 2.8, w - 2 * pad);
  let yy = y + fs * 3.4;
  if (content.sub) {
    ctx.fillStyle = "#e8b04a";
    ctx.font = `${Math.round(fs * 0.7)}px "Noto Sans CJK SC", sans-serif`;
    ctx.fillText(content.sub, x + pad, yy + fs * 0.3, w - 2 * pad);
    yy += fs * 0.8;
  }
  if (content.qrImage) {
    const q = Math.min(w - pad * 2, h - (yy - y) - fs * 1.6);
    ctx.fillStyle = "#fff";
    ctx.fillRect(x + pad, yy, q, q);
    ctx.drawImage(content.qrImage, x + pad, yy, q, q);
    yy += q + fs;
  } else {
    ctx.fillStyle = "#9aa6ba";
    ctx.font = `${Math.round(fs * 0.8)}px "Noto Sans CJK SC", sans-serif`;
    yy += fs * 0.6;
    for (const row of (content.lines || []).slice(0, 5)) {
      ctx.fillText(row, x + pad, yy, w - 2 * pad);
      yy += fs * 1.1;
    }
  }
  if (content.status) {
    ctx.fillStyle = content.statusOk ? "#4fbf8a" : "#e8b04a";
    ctx.font = `700 ${Math.round(fs * 0.9)}px "Noto Sans CJK SC", sans-serif`;
    ctx.fillText(content.status, x + pad, Math.min(y + h - pad, yy), w - 2 * pad);
  }
  ctx.restore();
}

/**
 * The payment QR as a decoded image for the in-scene panel (`state.qrImage`), loaded once per URL; `onLoaded` runs
 * when a new one is in (repaint the panel). A QR that cannot be decoded is left out: the DOM panel shows it anyway.
 */
export async function loadQr(state, url, onLoaded = () => {}) {
  if (!url || state.qrImage?.src === url) return;
  const im = new Image();
  im.src = url;
  try {
    await im.decode();
    state.qrImage = im;
    onLoaded();
  } catch (_) {
    /* the DOM panel shows it anyway */
  }
}
