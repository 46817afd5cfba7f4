// Binary frames of /ws/stream, as clients/python/showroom_protocol defines them (FRAME_HEADER "<4sBBBBHBBHHII6dI",
// 76 bytes, little-endian): magic "SRF1", version, codec, flags, eyes, header_size, quality, reserved, width,
// height, seq, frame_no, then client_t, t_receive, t_render_start, t_render_end, t_encode_end, t_send (float64
// seconds; client_t is ours, the rest the node's clock), payload_size; then the payload (JPEG/WebP image or
// one H.264 Annex B access unit; PNG for the RGBA overlays of the camera modes). Stereo frames hold both eyes side
// by side, left eye first.
//
// Camera frames (client -> node, modes "ar" and "tryon"): CAMERA_HEADER "<4sBBHId", 20 bytes, little-endian:
// magic "SRC1", version, flags (0), header_size, seq (the node echoes it in the reply's frame header), t (float64
// seconds, our clock, echoed as client_t); then the JPEG/PNG bytes of one frame.

export const HEADER_SIZE = 76;
export const VERSION = 1;
const CODEC_NAMES = { 1: "jpeg", 2: "h264", 3: "webp", 4: "png" };
const FLAG_KEYFRAME = 0x01;

/** ArrayBuffer -> {header, payload: Uint8Array}; throws on a bad magic, version or truncated payload. */
export function parseFrameHeader(buf) {
  if (buf.byteLength < HEADER_SIZE) throw new Error(`frame of ${buf.byteLength} bytes is shorter than its header`);
  const dv = new DataView(buf);
  const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
  if (magic !== "SRF1") throw new Error(`bad frame magic ${magic}`);
  const version = dv.getUint8(4);
  if (version !== VERSION) throw new Error(`frame version ${version} is not supported`);
  const codec = CODEC_NAMES[dv.getUint8(5)];
  if (!codec) throw new Error(`unknown codec id ${dv.getUint8(5)}`);
  const flags = dv.getUint8(6);
  const headerSize = dv.getUint16(8, true);
  const f64 = (o) => dv.getFloat64(o, true);
  const header = {
    codec,
    keyframe: !!(flags & FLAG_KEYFRAME),
    eyes: dv.getUint8(7),
    quality: dv.getUint8(10),
    width: dv.getUint16(12, true),
    height: dv.getUint16(14, true),
    seq: dv.getUint32(16, true),
    frame_no: dv.getUint32(20, true),
    client_t: f64(24),
    t_receive: f64(32),
    t_render_start: f64(40),
    t_render_end: f64(48),
    t_encode_end: f64(56),
    t_send: f64(64),
    payload_size: dv.getUint32(72, true),
  };
  header.render_ms = (header.t_render_end - header.t_render_start) * 1000;
  header.encode_ms = (header.t_encode_end - header.t_render_end) * 1000;
  header.node_ms = (header.t_send - header.t_receive) * 1000;
  if (headerSize + header.payload_size > buf.byteLength) throw new Error("frame payload is truncated");
  const payload = new Uint8Array(buf, headerSize, header.payload_size);
  return { header, payload };
}

export const CAMERA_HEADER_SIZE = 20;
export const CAMERA_VERSION = 1;
export const MAX_CAMERA_FRAME_BYTES = 8 * 1024 * 1024;

/** The 20-byte header of a camera frame (seq: our frame number, tSeconds: capture time on our clock). */
export function packCameraHeader(seq, tSeconds) {
  const buf = new ArrayBuffer(CAMERA_HEADER_SIZE);
  const dv = new DataView(buf);
  for (let i = 0; i < 4; i++) dv.setUint8(i, "SRC1".charCodeAt(i));
  dv.setUint8(4, CAMERA_VERSION);
  dv.setUint8(5, 0);
  dv.setUint16(6, CAMERA_HEADER_SIZE, true);
  dv.setUint32(8, seq >>> 0, true);
  dv.setFloat64(12, tSeconds, true);
  return buf;
}

/** One camera-frame message: the header, then the image bytes (Uint8Array of a JPEG or PNG). */
export function packCameraFrame(seq, tSeconds, image) {
  const out = new Uint8Array(CAMERA_HEADER_SIZE + image.byteLength);
  out.set(new Uint8Array(packCameraHeader(seq, tSeconds)), 0);
  out.set(image, CAMERA_HEADER_SIZE);
  return out;
}
