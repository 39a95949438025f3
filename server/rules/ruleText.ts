/**
 * Words and numbers of rule findings, in both UI languages. Short and calm:
 * an operator reads them aloud on the phone.
 */
import type { ReadingType } from '../../devices/readingSchema.js';
import type { Text } from './types.js';

export function text(zh: string, en: string): Text {
  return { 'zh-CN': zh, en };
}

/** Joins findings: "收缩压 182 mmHg ≥ 180，舒张压 …" / "Systolic 182 mmHg ≥ 180, diastolic …". */
export function joinText(parts: readonly Text[]): Text {
  return text(parts.map((p) => p['zh-CN']).join('，'), parts.map((p) => p.en).join(', '));
}

/**
 * `value` rounded to `decimals`, with more decimals when plain rounding would put
 * it on the wrong side of the threshold it is compared with: 179.99 mmHg is
 * shown as "179.99", never as "180" next to "< 180".
 */
export function formatValue(value: number, decimals: number, threshold?: number): string {
  let shown = value.toFixed(decimals);
  if (threshold === undefined) return shown;
  const side = Math.sign(value - threshold);
  for (let d = decimals + 1; Math.sign(Number(shown) - threshold) !== side; d++) {
    shown = d <= decimals + 6 ? value.toFixed(d) : String(value);
    if (d > decimals + 6) break;
  }
  return shown;
}

/** Integer mmHg / bpm / %, honest at the threshold. */
export const whole = (v: number, threshold?: number): string => formatValue(v, 0, threshold);
/** mmol/L with one decimal, honest at the threshold. */
export const oneDecimal = (v: number, threshold?: number): string => formatValue(v, 1, threshold);

/** A threshold as configured, with at least `minDecimals`: limit(180) "180", limit(3, 1) "3.0", limit(3.95, 1) "3.95". */
export function limit(v: number, minDecimals = 0): string {
  const natural = String(Number(v.toFixed(4)));
  const decimals = natural.includes('.') ? natural.length - natural.indexOf('.') - 1 : 0;
  return decimals >= minDecimals ? natural : v.toFixed(minDecimals);
}

/** "20 分钟" / "20 min", "12 小时" / "12 h", "3 天" / "3 days"; rounded down, it is "at least". */
export function duration(ms: number): Text {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 120) return text(`${minutes} 分钟`, `${minutes} min`);
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return text(`${hours} 小时`, `${hours} h`);
  const days = Math.floor(hours / 24);
  return text(`${days} 天`, `${days} days`);
}

/**
 * Title and explanation of a device or gateway provisioned (at `provisioned`, local time) but never
 * heard from. Not a home gone quiet but an installation that never worked (never plugged in, wrong
 * secret, dead on arrival): the operator calls the installer, not the ambulance. `consequence` says
 * what goes unheard meanwhile (", so …").
 */
export function neverConnectedText(what: Text, provisioned: string, consequence: Text): { title: Text; explanation: Text } {
  return {
    title: text(`${what['zh-CN']}从未上线`, `${what.en} never connected`),
    explanation: text(
      `自 ${provisioned} 登记以来从未连接${consequence['zh-CN']}；请联系安装人员检查（电源、网络、密钥）`,
      `Never connected since it was provisioned (${provisioned})${consequence.en}; call the installer to check its power, network and credentials`,
    ),
  };
}

export const READING_LABEL: Record<ReadingType, Text> = {
  blood_pressure: text('血压', 'blood pressure'),
  glucose: text('血糖', 'blood glucose'),
  fall: text('跌倒', 'fall'),
  sos: text('紧急呼叫', 'SOS'),
  heartbeat: text('心跳包', 'heartbeat'),
  motion: text('活动', 'motion'),
};
