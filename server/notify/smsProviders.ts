/**
 * Which SMS provider the hub uses (SPEC §5: "SMS through a configurable
 * provider"), decided by `ANXIN_SMS_PROVIDER`:
 *
 * - `http`: a generic relay (`httpSmsProvider.ts`) at `ANXIN_SMS_URL`, with
 *   `ANXIN_SMS_TOKEN` as its bearer token;
 * - `aliyun`: Alibaba Cloud SMS (`aliyunSmsProvider.ts`) with
 *   `ANXIN_SMS_ACCESS_KEY_ID`, `ANXIN_SMS_ACCESS_KEY_SECRET`,
 *   `ANXIN_SMS_SIGN_NAME`, `ANXIN_SMS_TEMPLATE_CODE`, and `ANXIN_SMS_ENDPOINT`
 *   to use another endpoint than Aliyun's;
 * - unset: the logging stand-in, which reaches nobody (escalations say so).
 *
 * `ANXIN_SMS_SIGN_NAME` is the 签名 of either (the relay's text starts with
 * `【name】`, default 安心). Anything inconsistent is a configuration error
 * naming the variable, found at start-up rather than at the first emergency;
 * no message repeats a token, a secret or a URL (it may carry a key).
 */
import type { Logger } from 'pino';
import { webhookUrlProblem } from './webhookNotifier.js';
import { AliyunSmsProvider, ALIYUN_DEFAULT_ENDPOINT } from './aliyunSmsProvider.js';
import { HttpSmsProvider } from './httpSmsProvider.js';
import { describeGateway } from './smsGatewayFetch.js';
import { LoggingSmsProvider, SmsNotifier } from './smsNotifier.js';

export const SMS_PROVIDERS = ['http', 'aliyun'] as const;
export type SmsProviderName = (typeof SMS_PROVIDERS)[number];

export interface SmsSettings {
  smsProvider?: SmsProviderName;
  smsUrl?: string;
  smsToken?: string;
  smsAccessKeyId?: string;
  smsAccessKeySecret?: string;
  smsSignName?: string;
  smsTemplateCode?: string;
  smsEndpoint?: string;
}

/** Every SMS variable, by the setting it fills. */
const VARIABLES: Record<Exclude<keyof SmsSettings, 'smsProvider'>, string> = {
  smsUrl: 'ANXIN_SMS_URL',
  smsToken: 'ANXIN_SMS_TOKEN',
  smsAccessKeyId: 'ANXIN_SMS_ACCESS_KEY_ID',
  smsAccessKeySecret: 'ANXIN_SMS_ACCESS_KEY_SECRET',
  smsSignName: 'ANXIN_SMS_SIGN_NAME',
  smsTemplateCode: 'ANXIN_SMS_TEMPLATE_CODE',
  smsEndpoint: 'ANXIN_SMS_ENDPOINT',
};
type SmsVariable = keyof typeof VARIABLES;

/** What each provider needs, and what it may take besides. */
const PROVIDERS: Record<SmsProviderName, { required: SmsVariable[]; optional: SmsVariable[] }> = {
  http: { required: ['smsUrl', 'smsToken'], optional: ['smsSignName'] },
  aliyun: { required: ['smsAccessKeyId', 'smsAccessKeySecret', 'smsSignName', 'smsTemplateCode'], optional: ['smsEndpoint'] },
};

/** The relay's text starts with `【安心】` unless `ANXIN_SMS_SIGN_NAME` says otherwise. */
export const DEFAULT_SIGN_NAME = '安心';

/** Problems with the SMS variables, one sentence each; empty when they are consistent. */
export function smsProblems(s: SmsSettings): string[] {
  const set = (Object.keys(VARIABLES) as SmsVariable[]).filter((k) => s[k] !== undefined);
  const provider = s.smsProvider;
  if (provider === undefined) {
    return set.length > 0 ? [`${set.map((k) => VARIABLES[k]).join(', ')} set without ANXIN_SMS_PROVIDER (${SMS_PROVIDERS.join(' or ')})`] : [];
  }
  const { required, optional } = PROVIDERS[provider];
  const problems: string[] = [];
  const missing = required.filter((k) => s[k] === undefined);
  const needs = `ANXIN_SMS_PROVIDER=${provider} needs ${required.map((k) => VARIABLES[k]).join(', ')}`;
  if (missing.length === required.length) problems.push(needs);
  else if (missing.length > 0) problems.push(`${needs}; missing ${missing.map((k) => VARIABLES[k]).join(', ')}`);
  const stray = set.filter((k) => !required.includes(k) && !optional.includes(k));
  for (const k of stray) problems.push(`${VARIABLES[k]} is not used by ANXIN_SMS_PROVIDER=${provider}`);
  if (s.smsUrl !== undefined && provider === 'http') problems.push(...gatewayUrlProblems('ANXIN_SMS_URL', s.smsUrl));
  if (s.smsEndpoint !== undefined && provider === 'aliyun') problems.push(...gatewayUrlProblems('ANXIN_SMS_ENDPOINT', s.smsEndpoint));
  if (s.smsToken !== undefined && !/^[\x21-\x7e]+$/.test(s.smsToken)) problems.push('ANXIN_SMS_TOKEN must be printable ASCII without spaces (it is sent as a bearer token)');
  if (s.smsSignName !== undefined && /[【】[\]]/.test(s.smsSignName)) problems.push('ANXIN_SMS_SIGN_NAME is the name alone, without 【】');
  return problems;
}

/**
 * The SMS channel for these settings (consistent, see `smsProblems`): the
 * configured provider, logged once so an operator sees which one is live, or
 * the logging stand-in.
 */
export function createSmsNotifier(s: SmsSettings, log: Logger): SmsNotifier {
  const problems = smsProblems(s);
  if (problems.length > 0) throw new Error(problems.join('; '));
  if (s.smsProvider === 'http') {
    const url = new URL(s.smsUrl!);
    const signName = s.smsSignName ?? DEFAULT_SIGN_NAME;
    log.info({ provider: 'http', url: describeGateway(url), signName }, 'SMS provider: http relay');
    return new SmsNotifier(new HttpSmsProvider({ url, token: s.smsToken! }), { signature: `【${signName}】` });
  }
  if (s.smsProvider === 'aliyun') {
    const endpoint = new URL(s.smsEndpoint ?? ALIYUN_DEFAULT_ENDPOINT);
    log.info({ provider: 'aliyun', endpoint: describeGateway(endpoint), signName: s.smsSignName, templateCode: s.smsTemplateCode }, 'SMS provider: Alibaba Cloud SMS');
    return new SmsNotifier(
      new AliyunSmsProvider({ endpoint, accessKeyId: s.smsAccessKeyId!, accessKeySecret: s.smsAccessKeySecret!, signName: s.smsSignName!, templateCode: s.smsTemplateCode! }),
      { signature: `【${s.smsSignName}】` },
    );
  }
  return new SmsNotifier(new LoggingSmsProvider(log));
}

/**
 * https, or plain http on loopback only (the same rule as doctors' webhooks:
 * the text carries health data); no credentials in the URL, which is logged.
 */
function gatewayUrlProblems(name: string, raw: string): string[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [`${name} is not a URL`];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return [`${name} must be an https:// URL`];
  const problems: string[] = [];
  if (webhookUrlProblem(raw) !== null) problems.push(`${name} must be https (plain http only on loopback): the text carries health data`);
  if (url.username || url.password) problems.push(`${name} must not carry credentials (they would be logged)`);
  return problems;
}
