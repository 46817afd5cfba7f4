// Voice commands without any cloud service: the microphone is recorded for a few seconds in the page (Web Audio,
// resampled to 16 kHz mono, 16-bit PCM WAV) and sent to the node's offline recogniser,
// POST /api/voice/commands?lang=zh|en -> {"lang", "text", "command": null | {"intent", "target"?}}. The browser's
// own speech recognition (a cloud service in Chrome) is never used. The microphone is released after each take.

import { api } from "./api.js";

export const VOICE_RATE_HZ = 16000;

/** Records `seconds` of the default microphone; resolves to a WAV Blob (16 kHz mono PCM16). */
export async function recordWav(seconds = 3) {
  const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
  const ctx = new AudioContext();
  try {
    const source = ctx.createMediaStreamSource(media);
    const proc = ctx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    const want = Math.ceil(seconds * ctx.sampleRate);
    let got = 0;
    await new Promise((resolve) => {
      proc.onaudioprocess = (e) => {
        if (got >= want) return;
        const data = e.inputBuffer.getChannelData(0);
        chunks.push(new Float32Array(data));
        got += data.length;
        if (got >= want) resolve();
      };
      source.connect(proc);
      proc.connect(ctx.destination); // a ScriptProcessor only runs while connected
      setTimeout(resolve, seconds * 1000 + 1500); // a stalled device still ends the take
    });
    source.disconnect();
    proc.disconnect();
    const all = new Float32Array(got);
    let o = 0;
    for (const c of chunks) {
      all.set(c.subarray(0, Math.min(c.length, got - o)), o);
      o += c.length;
      if (o >= got) break;
    }
    return wavBlob(resample(all, ctx.sampleRate, VOICE_RATE_HZ), VOICE_RATE_HZ);
  } finally {
    for (const t of media.getTracks()) t.stop();
    ctx.close();
  }
}

/** Linear resampling of mono float samples. */
export function resample(samples, fromHz, toHz) {
  if (fromHz === toHz) return samples;
  const n = Math.floor((samples.length * toHz) / fromHz);
  const out = new Float32Array(n);
  const k = fromHz / toHz;
  for (let i = 0; i < n; i++) {
    const x = i * k;
    const i0 = Math.floor(x);
    const f = x - i0;
    out[i] = (samples[i0] ?? 0) * (1 - f) + (samples[i0 + 1] ?? samples[i0] ?? 0) * f;
  }
  return out;
}

/** Mono float samples -> a RIFF WAV Blob of 16-bit PCM. */
export function wavBlob(samples, rateHz) {
  const buf = new ArrayBuffer(44 + samples.length * 2);
  const dv = new DataView(buf);
  const str = (o, s) => [...s].forEach((ch, i) => dv.setUint8(o + i, ch.charCodeAt(0)));
  str(0, "RIFF");
  dv.setUint32(4, 36 + samples.length * 2, true);
  str(8, "WAVE");
  str(12, "fmt ");
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true); // PCM
  dv.setUint16(22, 1, true); // mono
  dv.setUint32(24, rateHz, true);
  dv.setUint32(28, rateHz * 2, true);
  dv.setUint16(32, 2, true);
  dv.setUint16(34, 16, true);
  str(36, "data");
  dv.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    dv.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buf], { type: "audio/wav" });
}

/** Sends a recording to the node's recogniser. */
export const recogniseWav = (wav, lang) =>
  api(`/api/voice/commands?lang=${encodeURIComponent(lang)}`, { method: "POST", body: wav, headers: { "Content-Type": "audio/wav" }, timeoutMs: 60000 });

/** The same closed grammar for typed text. */
export const recogniseText = (text, lang) => api("/api/voice/text", { method: "POST", body: { text, lang } });
