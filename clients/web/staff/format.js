// How the console shows times, days and money: the bank's local time (Asia/Shanghai) with the zone named,
// money as ¥ with thousands separators from the API's decimal strings (never parsed into a float).

import { formatCny } from "../common/api.js";
import { getLang } from "../common/i18n.js";

export const BANK_TZ = "Asia/Shanghai";

const partsFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: BANK_TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

function bankParts(date) {
  const o = {};
  for (const p of partsFormat.formatToParts(date)) o[p.type] = p.value;
  return o;
}

/** "北京时间 UTC+8" / "China Standard Time UTC+8": the zone every time on the console is in. */
export function zoneName() {
  return getLang() === "zh" ? "北京时间 UTC+8" : "China Standard Time, UTC+8";
}

/** The short zone suffix shown after a time: "(UTC+8)". */
export function zoneShort() {
  return "UTC+8";
}

/** An ISO 8601 instant as "2026-11-30 19:04:05 UTC+8" (bank time); "—" when there is none. */
export function formatTime(iso, { seconds = true, zone = true } = {}) {
  if (!iso) return "—";
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = bankParts(d);
  const clock = seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day} ${clock}${zone ? ` ${zoneShort()}` : ""}`;
}

/** The calendar day (YYYY-MM-DD) in bank time of `date` (default: now). */
export function bankDay(date = new Date()) {
  const p = bankParts(date);
  return `${p.year}-${p.month}-${p.day}`;
}

/** A `<time>` element: bank time as text, the ISO instant (UTC) as its datetime and tooltip. */
export function timeCell(iso, opts) {
  const t = document.createElement("time");
  const zone = opts?.zone !== false;
  t.textContent = formatTime(iso, { ...opts, zone: false });
  if (zone && iso) {
    const z = document.createElement("span");
    z.className = "tz";
    z.textContent = ` ${zoneShort()}`;
    t.append(z);
  }
  if (iso) {
    t.dateTime = String(iso);
    t.title = String(iso);
  }
  return t;
}

/** Money: "¥12,345.67"; "—" for none. */
export function money(value) {
  return formatCny(value);
}

/** fen (integer) as a decimal string of yuan, without floats: 123456 -> "1234.56". */
export function fenToCny(fen) {
  if (fen === null || fen === undefined || fen === "") return null;
  const n = BigInt(fen);
  const neg = n < 0n;
  const a = neg ? -n : n;
  const yuan = a / 100n;
  const cents = (a % 100n).toString().padStart(2, "0");
  return `${neg ? "-" : ""}${yuan}.${cents}`;
}

/** A decimal string of yuan typed by staff ("1200", "1,200.5") -> "1200.50", or null when it is not money. */
export function parseCny(text) {
  const s = String(text ?? "").trim().replace(/[,，\s¥￥]/g, "");
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(s)) return null;
  const [i, f = ""] = s.split(".");
  return `${BigInt(i)}.${(f + "00").slice(0, 2)}`;
}

/** Compares two decimal strings of yuan: -1, 0, 1 (integer fen, no floats). */
export function compareCny(a, b) {
  const fen = (v) => {
    const [i, f = ""] = String(v).replace("-", "").split(".");
    const x = BigInt(i || "0") * 100n + BigInt((f + "00").slice(0, 2));
    return String(v).startsWith("-") ? -x : x;
  };
  const x = fen(a);
  const y = fen(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The name of an actor as the API gives it: a string, or {name, display_name}. */
export function actorName(a) {
  if (!a) return "—";
  if (typeof a === "string") return a;
  return a.display_name ? `${a.display_name} (${a.name})` : a.name || "—";
}

/** A page's own zh/en strings as a lookup `(key, {vars}) -> text` in the current language ({name} filled in). */
export function localStrings(table) {
  return (key, vars = {}) => {
    const strings = table[getLang() === "en" ? "en" : "zh"];
    return (strings[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
  };
}

/** A `{zh, en}` text from the API in the current language ("" for none). */
export const pickText = (lt) => (lt ? (getLang() === "en" ? lt.en : lt.zh) : "");

/** `?a=1&b=2` from the set values of `params` ("" when none is set). */
export function queryString(params) {
  const u = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  return u.toString() ? `?${u}` : "";
}
