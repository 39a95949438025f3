/**
 * A fictional district of 家庭养老床位 in 威海市环翠区 for `npm run demo`: homes,
 * residents with conditions, contacts and family doctors, their devices, and
 * the people who sign in, deterministic by seed. The first five homes are
 * fixed so that every scenario of the demo has a home to happen in, whatever
 * the seed; the rest are drawn. Names, addresses and phone numbers are invented.
 */
import type { DeviceType } from '../deviceTypes.js';
import type { HomeLayout, Profile, SimDevice, SimResident, Transport } from './homeLayout.js';
import { Rng } from './prng.js';

export interface DemoUser { username: string; role: 'operator' | 'supervisor' | 'doctor'; name: string }

export const DEMO_OPERATORS: readonly DemoUser[] = [
  { username: 'op-wang', role: 'operator', name: '王坐席' },
  { username: 'op-chen', role: 'operator', name: '陈坐席' },
  // A shift lead: the same console, with the panel of overdue alerts and who holds them.
  { username: 'sv-zhou', role: 'supervisor', name: '周组长' },
];
export const DEMO_DOCTORS: readonly DemoUser[] = [
  { username: 'dr-li', role: 'doctor', name: '李医生' },
  { username: 'dr-zhao', role: 'doctor', name: '赵医生' },
  { username: 'dr-sun', role: 'doctor', name: '孙医生' },
];

export interface DemoHome {
  layout: HomeLayout;
  address: string;
  phone: string;
  access: string;
  /** Family doctor of each resident. */
  doctors: Record<string, string>;
  contacts: Record<string, Array<{ name: string; relation: string; phone: string }>>;
}

export interface DemoDistrict {
  homes: DemoHome[];
  users: readonly DemoUser[];
}

interface ResidentSeed { name: string; sex: 'F' | 'M'; birthYear: number; profiles: Profile[] }
interface HomeTemplate { residents: ResidentSeed[]; bp: [Transport, 'mmHg' | 'kPa']; glucose: [Transport, 'mmol/L' | 'mg/dL'] }

/** Homes 1–5: crisis (1), fall not getting up (2), SOS in a couple's home (3), fall got up (4), a mg/dL meter (5). */
const FIXED: readonly HomeTemplate[] = [
  { residents: [{ name: '王秀英', sex: 'F', birthYear: 1941, profiles: ['hypertensive', 'diabetic'] }], bp: ['ble', 'mmHg'], glucose: ['json', 'mmol/L'] },
  { residents: [{ name: '刘建国', sex: 'M', birthYear: 1936, profiles: ['frail', 'hypertensive'] }], bp: ['json', 'mmHg'], glucose: ['json', 'mmol/L'] },
  {
    residents: [
      { name: '张德明', sex: 'M', birthYear: 1938, profiles: ['hypertensive'] },
      { name: '李桂兰', sex: 'F', birthYear: 1940, profiles: ['diabetic', 'frail'] },
    ],
    bp: ['json', 'mmHg'], glucose: ['ble', 'mmol/L'],
  },
  { residents: [{ name: '陈玉珍', sex: 'F', birthYear: 1933, profiles: ['frail'] }], bp: ['ble', 'mmHg'], glucose: ['json', 'mmol/L'] },
  { residents: [{ name: '赵永福', sex: 'M', birthYear: 1944, profiles: ['diabetic', 'hypertensive'] }], bp: ['json', 'kPa'], glucose: ['ble', 'mg/dL'] },
];

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '胡', '朱', '高', '林', '郭', '马', '于', '曲'];
const WOMEN = ['秀英', '桂兰', '玉兰', '淑珍', '凤英', '秀兰', '桂英', '玉珍', '秀珍', '素芬', '兰芝', '美华'];
const MEN = ['建国', '德明', '永福', '国华', '志强', '长青', '文华', '福生', '宝山', '振华', '树林', '洪武'];
const SONS = ['强', '伟', '军', '磊', '勇', '涛', '鹏', '刚'];
const DAUGHTERS = ['丽', '芳', '静', '敏', '燕', '红', '霞', '娟'];
const STREETS = ['文化西路', '文化中路', '新威路', '统一路', '昆明路', '青岛中路', '世昌大道', '古寨东路', '海滨北路', '光明路', '塔山中路', '东城路', '环山路', '花园北路'];
const ACCESS = ['门禁密码请致电家属获取', '备用钥匙在对门邻居家', '社区网格员持有备用钥匙', '子女住同小区，10 分钟可到', '钥匙盒在门口电表箱内，密码请致电家属'];
const FRAIL_CONDITIONS = ['osteoporosis', 'parkinsons', 'stroke'];

function drawTemplate(rng: Rng): HomeTemplate {
  const couple = rng.chance(0.25);
  const sexes: Array<'F' | 'M'> = couple ? ['M', 'F'] : [rng.chance(0.6) ? 'F' : 'M'];
  const residents = sexes.map((sex): ResidentSeed => {
    const profiles: Profile[] = [];
    if (rng.chance(0.65)) profiles.push('hypertensive');
    if (rng.chance(0.35)) profiles.push('diabetic');
    if (rng.chance(0.3) || profiles.length === 0) profiles.push('frail');
    return { name: `${rng.pick(SURNAMES)}${rng.pick(sex === 'F' ? WOMEN : MEN)}`, sex, birthYear: rng.int(1930, 1952), profiles };
  });
  return {
    residents,
    bp: [rng.chance(0.5) ? 'ble' : 'json', rng.chance(0.1) ? 'kPa' : 'mmHg'],
    glucose: [rng.chance(0.5) ? 'ble' : 'json', rng.chance(0.3) ? 'mg/dL' : 'mmol/L'],
  };
}

const pad = (n: number) => String(n).padStart(4, '0');
const phone = (rng: Rng, prefix: string) => `${prefix} ${String(rng.int(0, 9999)).padStart(4, '0')}`;

function buildHome(index: number, template: HomeTemplate, rng: Rng): DemoHome {
  const n = pad(index);
  const couple = template.residents.length > 1;
  const residents: SimResident[] = template.residents.map((r, i) => ({ id: couple ? `r-${n}-${i + 1}` : `r-${n}`, ...r }));
  const device = (id: string, type: DeviceType, extra: Partial<SimDevice> = {}): SimDevice => ({ id, type, transport: 'json', heartbeatSeconds: 300, ...extra });
  const only = couple ? undefined : residents[0]!.id;
  const devices: SimDevice[] = [
    // A couple shares one cuff, which names who was measured: JSON lines (a raw frame cannot).
    device(`bp-${n}`, 'bp_cuff', { transport: couple ? 'json' : template.bp[0], unit: template.bp[1], ...(only && { residentId: only }) }),
    ...residents.filter((r) => r.profiles.includes('diabetic')).map((r, i, all) =>
      device(all.length > 1 ? `glu-${n}-${i + 1}` : `glu-${n}`, 'glucose_meter', { residentId: r.id, transport: template.glucose[0], unit: template.glucose[1] })),
    device(`fall-${n}`, 'fall_sensor', { location: '卫生间', ...(only && { residentId: only }) }),
    ...residents.map((r, i) => device(couple ? `sos-${n}-${i + 1}` : `sos-${n}`, 'sos_button', { residentId: r.id })),
    device(`pir-${n}`, 'motion_sensor', { location: '客厅' }),
  ];
  const doctors: DemoHome['doctors'] = {};
  const contacts: DemoHome['contacts'] = {};
  for (const [i, r] of residents.entries()) {
    doctors[r.id] = DEMO_DOCTORS[(index + i) % DEMO_DOCTORS.length]!.username;
    const surname = r.name[0]!;
    const son = rng.chance(0.5);
    contacts[r.id] = [
      { name: son ? `${surname}${rng.pick(SONS)}` : `${rng.pick(SURNAMES)}${rng.pick(DAUGHTERS)}`, relation: son ? 'son' : 'daughter', phone: phone(rng, '+86 138 0000') },
      { name: `${rng.pick(SURNAMES)}${rng.pick(WOMEN)}`, relation: 'neighbour', phone: phone(rng, '+86 139 0000') },
    ];
  }
  return {
    layout: { homeId: `wh-${n}`, gatewayId: `gw-${n}`, residents, devices },
    address: `威海市环翠区${rng.pick(STREETS)} ${rng.int(1, 188)} 号 ${rng.int(1, 6)} 单元 ${rng.int(1, 7)}0${rng.int(1, 4)}`,
    phone: phone(rng, '+86 631 520'),
    access: rng.pick(ACCESS),
    doctors,
    contacts,
  };
}

/** `count` homes (1–999) and the demo's operators and doctors. */
export function buildDemoDistrict(seed: string, count: number): DemoDistrict {
  if (!Number.isInteger(count) || count < 1 || count > 999) throw new RangeError(`homes must be 1–999, got ${count}`);
  const rng = new Rng(seed).fork('district');
  const homes = Array.from({ length: count }, (_, i) => {
    const homeRng = rng.fork(`home/${i + 1}`);
    return buildHome(i + 1, FIXED[i] ?? drawTemplate(homeRng.fork('template')), homeRng);
  });
  return { homes, users: [...DEMO_OPERATORS, ...DEMO_DOCTORS] };
}

const CONDITIONS: Record<Profile, (r: SimResident) => string> = {
  hypertensive: () => 'hypertension',
  diabetic: () => 'type_2_diabetes',
  frail: (r) => FRAIL_CONDITIONS[r.birthYear % FRAIL_CONDITIONS.length]!,
};

/** The district as the bulk-import document of SPEC §6 (`POST /api/v1/import`). */
export function importDocument(district: DemoDistrict): { homes: object[]; users: object[] } {
  return {
    homes: district.homes.map((h) => ({
      id: h.layout.homeId,
      address: h.address,
      phone: h.phone,
      access: h.access,
      residents: h.layout.residents.map((r) => ({
        id: r.id, name: r.name, birthYear: r.birthYear, sex: r.sex,
        conditions: r.profiles.map((p) => CONDITIONS[p](r)),
        doctor: h.doctors[r.id],
        contacts: h.contacts[r.id],
        // A doctor's own target for an older hypertensive patient (SPEC §4: targets override the defaults).
        ...(r.profiles.includes('hypertensive') && r.birthYear < 1937 && { targets: { bp_high: { systolic: 170 } } }),
      })),
      gateway: { id: h.layout.gatewayId },
      devices: h.layout.devices.map((d) => ({
        id: d.id, type: d.type, heartbeatSeconds: d.heartbeatSeconds, ...(d.residentId !== undefined && { resident: d.residentId }),
      })),
    })),
    users: district.users.map((u) => ({ username: u.username, role: u.role, name: u.name })),
  };
}
