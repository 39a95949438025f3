/**
 * The dashboards' words in zh-CN (default) and English. One table, keyed by
 * message id, each entry `[zh-CN, en]`; `{name}` placeholders are filled by `t`.
 * Alert titles and explanations come from the hub in both languages already.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { ApiError } from './api';
import type { Lang } from './types';

const M = {
  appName: ['安心', 'Anxin'],
  appTagline: ['家庭养老床位远程监护', 'Home elderly-care bed monitoring'],
  langSwitch: ['English', '中文'],
  langSwitchLabel: ['切换到英文', 'Switch to Chinese'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出', 'Sign out'],
  username: ['用户名', 'Username'],
  password: ['密码', 'Password'],
  signingIn: ['正在登录…', 'Signing in…'],
  badCredentials: ['用户名或密码错误', 'Wrong username or password'],
  rateLimited: ['尝试次数过多，请一分钟后再试', 'Too many attempts; try again in a minute'],
  loading: ['加载中…', 'Loading…'],
  error: ['出错了', 'Something went wrong'],
  retry: ['重试', 'Retry'],
  close: ['关闭', 'Close'],
  cancel: ['取消', 'Cancel'],
  confirm: ['确认', 'Confirm'],
  save: ['保存', 'Save'],
  saved: ['已保存', 'Saved'],
  copy: ['复制', 'Copy'],
  copied: ['已复制', 'Copied'],
  none: ['无', 'none'],
  notRecorded: ['未登记', 'not recorded'],
  refresh: ['刷新', 'Refresh'],

  roleOperator: ['呼叫中心坐席', 'Call-center operator'],
  roleDoctor: ['家庭医生', 'Family doctor'],
  roleAdmin: ['管理员', 'Administrator'],
  pageOperator: ['坐席台', 'Operator console'],
  pageDoctor: ['医生工作台', 'Doctor'],
  pageAdmin: ['系统管理', 'Administration'],

  connConnected: ['已连接', 'Connected'],
  connReconnecting: ['正在重连…', 'Reconnecting…'],
  connOffline: ['已断开', 'Offline'],
  connConnecting: ['正在连接…', 'Connecting…'],
  connLabel: ['实时连接', 'Live connection'],

  startShift: ['开始值班', 'Start shift'],
  audioLocked: ['声音未开启：点击“开始值班”', 'Sound is OFF: click “Start shift”'],
  audioOn: ['声音已开启', 'Sound on'],
  audioOff: ['声音关闭', 'Sound off'],
  audioUnavailable: ['此浏览器无法播放提示音', 'This browser cannot play the alarm'],
  alarmSounding: ['报警中：请认领危急告警', 'ALARM: claim the critical alert'],
  alarmDoctorUnreached: ['报警中：未能通知医生，请电话联系医生并确认', 'ALARM: a doctor was not reached; phone them and acknowledge'],
  mute: ['静音 1 分钟', 'Mute 1 min'],
  muted: ['已静音', 'Muted'],

  queue: ['告警队列', 'Alert queue'],
  queueEmpty: ['当前没有待处理告警', 'No alerts waiting'],
  incident: ['事件', 'Incident'],
  alertsInIncident: ['{n} 条告警', '{n} alerts'],
  queueTruncated: ['未解决告警共 {total} 条，本台仅载入最紧急的 {held} 条，其余 {rest} 条未载入', '{total} unresolved; the {held} most urgent are loaded, {rest} are not'],
  queueHidden: ['另有 {n} 条告警未显示：', '{n} more not shown: '],
  queueHiddenRule: ['（其中{rule} {n} 条）', ' ({rule}: {n})'],
  queuePinned: ['已选中的告警（队列第 {n} 位）', 'Selected alert (number {n} in the queue)'],
  overdue: ['超时未认领', 'OVERDUE'],
  claimIn: ['{s} 秒内认领', 'claim within {s} s'],
  late: ['迟到数据', 'late'],
  count: ['共 {n} 次', '{n} readings'],
  assignee: ['处理人', 'Handled by'],
  openBySeverity: ['待处理', 'Open'],
  kpiClaimed60: ['今日 60 秒内认领', 'Claimed ≤ 60 s today'],
  kpiTarget: ['目标 {p}%', 'target {p}%'],

  sevCritical: ['危急', 'Critical'],
  sevUrgent: ['紧急', 'Urgent'],
  sevWarning: ['关注', 'Warning'],
  sevInfo: ['提示', 'Info'],
  stOpen: ['待认领', 'Open'],
  stAcknowledged: ['已认领', 'Claimed'],
  stEscalated: ['已升级', 'Escalated'],
  stResolved: ['已处理', 'Resolved'],
  escDoctor: ['已转医生 {to}', 'To doctor {to}'],
  escEmergency: ['已呼叫 120', '120 called'],
  doctorAcked: ['医生已确认', 'Doctor acknowledged'],
  doctorNotified: ['已通知医生', 'Doctor notified'],
  doctorNotifying: ['正在通知医生…', 'Notifying the doctor…'],
  doctorUnreached: ['未能通知医生', 'Doctor NOT reached'],
  doctorUnreachedGeneric: ['未能通知医生，请电话联系医生', 'The doctor was not reached. Phone the doctor.'],
  doctorUnreachedAck: ['已知悉，我来电话联系医生', 'Understood: I will phone the doctor'],
  doctorUnreachedAcked: ['{who} 已知悉，负责电话联系医生', '{who} acknowledged and is phoning the doctor'],

  actAck: ['认领', 'Claim'],
  actCall: ['拨打', 'Call'],
  actDoctor: ['转医生', 'To doctor'],
  actEmergency: ['呼叫 120', 'Call 120'],
  actResolve: ['结束', 'Resolve'],
  actHandoff: ['120 交接单', '120 hand-off'],
  actComment: ['备注', 'Comment'],
  actAckDoctor: ['确认收到', 'Acknowledge'],
  shortcuts: ['快捷键', 'Shortcuts'],
  help: ['帮助', 'Help'],
  keySelect: ['上下选择告警', 'Select alert'],
  keyAck: ['认领告警', 'Claim'],
  keyCall: ['拨打第一联系人', 'Call first contact'],
  keyDoctor: ['升级给家庭医生', 'To doctor'],
  keyEmergency: ['呼叫 120（显示交接单）', 'Call 120 + hand-off'],
  keyResolve: ['结束告警（结果与备注）', 'Resolve'],
  keyHelp: ['显示快捷键', 'Shortcuts'],
  keyLang: ['切换语言', 'Language'],
  keyEsc: ['关闭对话框', 'Close a dialog'],
  confirmEmergency: ['确认呼叫 120 急救？', 'Call emergency rescue (120)?'],
  confirmEmergencyBody: ['将记录升级并显示交接单，请拨打 120 并照单宣读。', 'The escalation is recorded and the hand-off shown: dial 120 and read it out.'],
  confirmDoctor: ['升级给家庭医生？', 'Escalate to the family doctor?'],
  note: ['备注', 'Note'],
  noteRequired: ['未认领的告警需要写明原因', 'An unclaimed alert needs a note saying why'],
  outcome: ['处理结果', 'Outcome'],
  handoffTitle: ['120 交接单：请照读', '120 hand-off: read this out'],
  dial120: ['拨打 120', 'Dial 120'],
  selectAlert: ['从左侧选择一条告警', 'Select an alert on the left'],
  homeLevel: ['家庭级告警', 'Home-level alert'],
  explanation: ['判定依据', 'Why'],
  history: ['处理记录', 'History'],
  readingsOfAlert: ['相关读数', 'Readings'],
  actionFailed: ['操作失败：{m}', 'Action failed: {m}'],
  loadFailed: ['加载失败：{m}', 'Could not load: {m}'],
  keyHandoff: ['再次显示 120 交接单', 'Show 120 hand-off'],
  noHandoff: ['此告警未呼叫 120，没有交接单：需要时按 E 呼叫 120', 'This alert was not escalated to 120, so there is no hand-off: press E to call 120'],
  noDoctor: ['未登记家庭医生，不能转医生', 'No family doctor recorded: cannot escalate to a doctor'],
  noDoctorNext: ['未登记家庭医生，不能转医生：情况紧急请按 E 呼叫 120；并请管理员为其登记家庭医生', 'No family doctor is recorded, so this cannot go to a doctor: if urgent press E to call 120, and ask an administrator to record one'],
  callUnavailable: ['联系人信息尚未加载，无法拨打：请点“重试”或稍候', 'Contacts are not loaded yet, so there is nobody to call: press Retry or wait'],

  resident: ['老人', 'Resident'],
  age: ['{n} 岁', '{n} y'],
  sexF: ['女', 'female'],
  sexM: ['男', 'male'],
  address: ['地址', 'Address'],
  homePhone: ['家中电话', 'Home phone'],
  access: ['进门方式', 'Door / key'],
  conditions: ['病史', 'Conditions'],
  doctor: ['家庭医生', 'Family doctor'],
  contacts: ['联系人', 'Contacts'],
  devices: ['设备', 'Devices'],
  online: ['在线', 'online'],
  offline: ['离线', 'offline'],
  unknown: ['未知', 'unknown'],
  battery: ['电量', 'Battery'],
  latestVitals: ['最新体征', 'Latest vitals'],
  noReadings: ['暂无读数', 'No readings'],
  vitalsChart: ['体征趋势', 'Vitals trend'],
  days: ['{n} 天', '{n} days'],
  bloodPressure: ['血压', 'Blood pressure'],
  glucose: ['血糖', 'Glucose'],
  systolic: ['收缩压', 'Systolic'],
  systolicTarget: ['收缩压目标', 'Systolic target'],
  diastolic: ['舒张压', 'Diastolic'],
  pulse: ['脉搏', 'Pulse'],
  targetBand: ['目标范围', 'Target range'],
  criticalLine: ['危急线', 'Critical line'],
  highLine: ['偏高线', 'High line'],
  chartPoints: ['{n} 个读数', '{n} readings'],
  missed: ['漏测', 'Missed'],
  missedDays: ['{type} 连续 {n} 天未测（{time}）', '{type} missed {n} days ({time})'],
  lastFall: ['最近跌倒', 'Last fall'],
  lastSos: ['最近呼叫', 'Last SOS'],
  lastMotion: ['最近活动', 'Last motion'],

  myEscalations: ['转给我的告警', 'Escalated to me'],
  patientAlerts: ['患者告警', "Patients' alerts"],
  noEscalations: ['暂无转给您的告警', 'Nothing escalated to you'],
  patients: ['我的患者', 'My patients'],
  targets: ['个人目标值', 'Personal targets'],
  targetsHelp: ['留空则使用默认值。保存后立即用于判定。', 'Leave empty for the default. Used for new readings at once.'],
  defaultValue: ['默认 {v}', 'default {v}'],
  targetsInvalid: ['目标值有误，请检查标红的项', 'Some targets are invalid; see the fields in red'],
  commentPlaceholder: ['给坐席或档案的备注', 'A note for the call center or the record'],
  open: ['待处理', 'open'],

  importTitle: ['批量导入', 'Bulk import'],
  importHelp: ['选择一个 JSON 文件（家庭、老人、设备、用户）。全部成功才写入。', 'Choose a JSON file (homes, residents, devices, users). All or nothing.'],
  importFile: ['导入文件', 'Import file'],
  importRun: ['导入', 'Import'],
  importOk: ['导入成功：新建 {c}，更新 {u}，未变 {n}', 'Imported: {c} created, {u} updated, {n} unchanged'],
  importFailed: ['导入失败，未写入任何内容：', 'Import refused, nothing was written:'],
  notJson: ['文件不是有效的 JSON：{m}', 'The file is not valid JSON: {m}'],
  secretsOnce: ['以下密钥只显示这一次，请立即保存', 'These secrets are shown only once: save them now'],
  homes: ['家庭', 'Homes'],
  gateway: ['网关', 'Gateway'],
  residents: ['老人', 'Residents'],
  rotate: ['重置密钥', 'New secret'],
  rotateConfirm: ['为 {id} 生成新密钥？旧密钥立即失效，设备会被断开。', 'Issue a new secret for {id}? The old one stops working and the device is disconnected.'],
  newSecret: ['{id} 的新密钥（只显示一次）', 'New secret for {id} (shown once)'],
  refusals: ['被拒绝的数据', 'Refused payloads'],
  refusalsEmpty: ['没有被拒绝的数据', 'No refused payloads'],
  time: ['时间', 'Time'],
  client: ['客户端', 'Client'],
  code: ['代码', 'Code'],
  field: ['字段', 'Field'],
  detail: ['说明', 'Detail'],
  payload: ['原始数据', 'Payload'],
  topic: ['主题', 'Topic'],
  filterCode: ['按代码筛选', 'Filter by code'],
  loadMore: ['加载更多', 'Load more'],
  show: ['查看', 'Show'],
  chooseFile: ['选择文件', 'Choose file'],
  noFile: ['未选择文件', 'No file chosen'],
  type: ['类型', 'Type'],
  status: ['状态', 'Status'],
  lastSeen: ['最后通信', 'Last heard'],

  // The admin actions of the homes panel: move a resident or a device, replace a gateway, retire a device.
  actMove: ['迁移', 'Move'],
  actReplaceGateway: ['更换网关', 'Replace gateway'],
  actRetire: ['停用', 'Retire'],
  moveResidentTitle: ['迁移老人 {name}（{id}）', 'Move resident {name} ({id})'],
  moveResidentHelp: ['个人目标值、测量计划、家庭医生和历史读数随老人迁移。有未结束告警时不能迁移。', 'Targets, measurement schedule, family doctor and past readings go with the resident. Not while an alert of theirs is unresolved.'],
  moveDeviceTitle: ['迁移设备 {id}', 'Move device {id}'],
  moveDeviceHelp: ['设备会被断开，用原密钥重新连接后计入新家庭；历史读数留在原家庭。', 'The device is disconnected and, reconnecting with its secret, counts for the new home; past readings stay with the old one.'],
  targetHome: ['迁入家庭', 'To home'],
  chooseHome: ['请选择家庭', 'Choose a home'],
  homeOption: ['{id}：{address}（{n}/4 位老人）', '{id}: {address} ({n}/4 residents)'],
  bindResident: ['绑定老人', 'Bind to resident'],
  notBound: ['不绑定', 'Not bound'],
  boundDevices: ['绑定的设备：{ids}', 'Bound devices: {ids}'],
  boundMove: ['随老人迁移（设备会断开重连）', 'Move with the resident (they reconnect)'],
  boundUnbind: ['留在原家庭，解除绑定', 'Stay in this home, unbound'],
  replaceGatewayTitle: ['更换家庭 {home} 的网关', 'Replace the gateway of home {home}'],
  replaceGatewayHelp: ['旧网关 {id} 的密钥立即作废、连接断开，编号不再使用。新网关连上之前，该家庭无人监听（10 分钟后产生网关离线告警）。', 'The old gateway {id} is revoked and disconnected at once, its id never used again. Until the new one connects the home is unheard (gateway offline after 10 min).'],
  newGatewayId: ['新网关编号', 'New gateway id'],
  idHint: ['小写字母、数字或“-”，不能以“-”开头', 'Lower-case letters, digits or “-”, not starting with “-”'],
  retireTitle: ['停用设备 {id}？', 'Retire device {id}?'],
  retireConfirm: ['密钥立即作废、连接断开，不再产生离线告警；历史读数和告警记录保留。编号 {id} 以后不能再用。', 'Its secret is revoked and it is disconnected at once, with no more offline alerts; its readings and alert history are kept. The id {id} can never be used again.'],
  doneMovedResident: ['已将老人 {id} 迁至家庭 {home}', 'Resident {id} moved to home {home}'],
  doneMovedDevice: ['已将设备 {id} 迁至家庭 {home}', 'Device {id} moved to home {home}'],
  doneReplaced: ['家庭 {home} 的网关已更换为 {id}', 'Home {home} now has gateway {id}'],
  doneRetired: ['设备 {id} 已停用', 'Device {id} retired'],
  doneAlertsResolved: ['（{n} 条设备告警已结束）', '({n} device alert(s) resolved)'],
  errUnresolvedAlerts: ['该老人还有 {n} 条未结束的告警：请呼叫中心先处理完毕再迁移', 'This resident has {n} unresolved alert(s): the call center resolves them before the move'],
  errHomeFull: ['该家庭已有 4 位老人，不能再迁入', 'That home already has 4 residents'],
  errDevicesBound: ['该老人有绑定的设备：请选择随迁或解除绑定', 'Devices are bound to this resident: choose whether they move along or are unbound'],
  errAlreadyThere: ['已经在该家庭', 'Already in that home'],
  errIdTaken: ['该编号已被使用或曾被停用：请换一个编号', 'That id is in use or was retired: choose another'],
  errRetired: ['该设备已停用', 'This device has been retired'],
  errNoGateway: ['该家庭还没有网关：请通过导入登记', 'This home has no gateway yet: enrol one by import'],

  // Supervisors (call-center shift leads) and the admin's Users panel.
  roleSupervisor: ['值班组长', 'Supervisor (shift lead)'],
  pageSupervisor: ['值班组长台', 'Supervisor console'],
  supervisorTitle: ['超时告警', 'Overdue alerts'],
  supervisorHelp: ['超过认领时限的告警，直到处理完毕', 'Alerts past their claim deadline, until resolved'],
  supervisorEmpty: ['没有超时告警', 'Nothing overdue'],
  supervisorFocus: ['跳到超时告警', 'Go to overdue alerts'],
  colSeverity: ['级别', 'Severity'],
  colAlert: ['告警', 'Alert'],
  colOverdue: ['超时', 'Overdue'],
  colClaimedBy: ['认领人', 'Claimed by'],
  overdueUnclaimed: ['无人认领', 'Unclaimed'],
  overdueFor: ['已超时 {d}', 'overdue {d}'],
  overdueClaimedAfter: ['超时 {d} 后认领', 'claimed {d} late'],
  openInConsole: ['查看 {title}', 'Open {title}'],
  supervisorHidden: ['另有 {n} 条超时告警未显示：', '{n} more overdue not shown: '],
  supervisorHiddenUnclaimed: ['，其中无人认领 {n} 条', '; unclaimed: {n}'],
  supervisorPartial: ['仅计本台已载入的告警，可能更多', 'of the alerts loaded here; there may be more'],
  usersTitle: ['用户', 'Users'],
  usersHelp: ['更改角色或停用账号会立即结束该用户的登录。新用户通过批量导入添加。', 'Changing a role or disabling an account signs that person out at once. New users are added by the import.'],
  colName: ['姓名', 'Name'],
  colRole: ['角色', 'Role'],
  userEnabled: ['启用中', 'Enabled'],
  userDisabled: ['已停用', 'Disabled'],
  roleOf: ['{user} 的角色', 'Role of {user}'],
  applyRole: ['更改角色', 'Change role'],
  disableUser: ['停用', 'Disable'],
  enableUser: ['启用', 'Enable'],
  confirmRole: ['将 {user} 的角色从“{from}”改为“{to}”？', 'Change the role of {user} from “{from}” to “{to}”?'],
  confirmRoleBody: ['{user} 会立即被登出，需以新角色重新登录。', '{user} is signed out at once and signs in again with the new role.'],
  confirmDisable: ['停用 {user}？', 'Disable {user}?'],
  confirmDisableBody: ['{user} 将无法登录，当前的登录立即结束。之后可以重新启用。', '{user} can no longer sign in and is signed out at once. You can enable them again later.'],
  confirmEnable: ['重新启用 {user}？', 'Enable {user} again?'],
  confirmEnableBody: ['{user} 可以再次用原密码登录。', '{user} can sign in again with their password.'],
  userChanged: ['已更新 {user}', '{user} updated'],
  lastAdmin: ['这是最后一个启用的管理员，不能更改其角色或停用：请先把另一位用户设为管理员', 'This is the last enabled admin, who cannot lose the role or be disabled: make another user admin first'],
  doctorInUse: ['该医生仍是老人的家庭医生，不能更改角色：请先通过导入为这些老人指定其他医生', 'This doctor is still a family doctor of residents, so the role cannot change: name another doctor for them by import first'],
  you: ['（您）', '(you)'],
  // The admin's Doctors panel: a doctor's patients and open items, and moving them to another doctor.
  doctorsTitle: ['家庭医生与患者', 'Family doctors and patients'],
  doctorsHelp: ['医生离职、休假或辖区调整时，把其患者转给另一位医生：已升级给该医生的告警和患者的预警一并转交，并通知新医生。有患者或待办时不能停用该医生。',
    "When a doctor leaves, goes on leave or districts are redrawn, move their patients to another doctor: alerts escalated to them and their patients' warnings go along, and the new doctor is notified. A doctor with patients or open items cannot be disabled."],
  colPatients: ['患者', 'Patients'],
  colOpenItems: ['待办（升级 / 预警）', 'Open items (escalations / warnings)'],
  openItemsOf: ['{n}（{e} / {w}）', '{n} ({e} / {w})'],
  doctorQueueOrphaned: ['已停用，但仍有患者或待办：无人能处理，请立即转移', 'Disabled but still has patients or open items: nobody can handle them; move them now'],
  movePatients: ['转移患者', 'Move patients'],
  movePatientsOf: ['转移 {user} 的患者', "Move {user}'s patients"],
  movePatientsTitle: ['转移 {user} 的患者', "Move {user}'s patients"],
  moveTarget: ['转给哪位医生', 'To which doctor'],
  chooseDoctor: ['请选择医生…', 'Choose a doctor…'],
  doctorOption: ['{name}（{username}），现有 {n} 位患者', '{name} ({username}), {n} patients now'],
  noOtherDoctor: ['没有其他启用的医生：请先通过导入添加医生', 'No other enabled doctor: add one by import first'],
  moveScope: ['转移哪些患者', 'Which patients'],
  moveScopeAll: ['全部患者及所有待办', 'All patients and every open item'],
  moveScopeSome: ['选择部分患者', 'Choose patients'],
  patientOption: ['{name}（{id}，家庭 {home}）', '{name} ({id}, home {home})'],
  patientOpenItems: ['升级 {e} · 预警 {w}', 'escalations {e} · warnings {w}'],
  next: ['下一步', 'Next'],
  back: ['返回修改', 'Back'],
  moveConfirmTitle: ['确认转移？', 'Move them?'],
  moveConfirmBody: ['将 {from} 的 {n} 位患者转给 {to}，并转交 {e} 项已升级告警（通知 {to}）和 {w} 条预警。', "Move {n} patient(s) of {from} to {to}, with {e} escalated alert(s) ({to} is notified) and {w} warning(s)."],
  moveConfirmHint: ['新医生的页面会显示这些患者和告警；每条告警的记录会写明转交。', "The new doctor's page shows these patients and alerts; each alert's history records the hand-over."],
  moveDone: ['已将 {n} 位患者转给 {to}：{e} 项升级已转交并通知，{w} 条预警已转入其待办。{from} 剩余 {p} 位患者、{r} 项待办。', 'Moved {n} patient(s) to {to}: {e} escalation(s) handed over and notified, {w} warning(s) now in their queue. {from} has {p} patient(s) and {r} open item(s) left.'],
  moveTargetDisabled: ['所选医生的账号已停用：请选择其他医生', "The chosen doctor's account is disabled: choose another doctor"],
  moveNotTheirs: ['有 {n} 位所选患者已不属于该医生（可能刚被转走）：请刷新后重选', '{n} of the chosen patients are no longer this doctor’s (perhaps just moved): refresh and choose again'],
  doctorBusy: ['{user} 仍有 {p} 位患者、{n} 项待办（升级 {e}，预警 {w}），不能停用或更改角色：请先在“家庭医生与患者”中转移其患者', '{user} still has {p} patient(s) and {n} open item(s) ({e} escalations, {w} warnings), so the account cannot be disabled or change role: move their patients first under “Family doctors and patients”'],
} as const satisfies Record<string, readonly [string, string]>;

export type MessageId = keyof typeof M;
export type T = (id: MessageId, vars?: Record<string, string | number>) => string;

export function translate(lang: Lang, id: MessageId, vars?: Record<string, string | number>): string {
  const text: string = M[id][lang === 'en' ? 1 : 0];
  return vars ? text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? '')) : text;
}

const numberFormats = new Map<Lang, Intl.NumberFormat>();
/** `2,300`: counts with digit grouping (a formatter made once per language; toLocaleString makes one per call). */
export function formatCount(n: number, lang: Lang): string {
  let f = numberFormats.get(lang);
  if (!f) numberFormats.set(lang, (f = new Intl.NumberFormat(lang)));
  return f.format(n);
}

export const LangContext = createContext<{ lang: Lang; setLang: (l: Lang) => void }>({ lang: 'zh-CN', setLang: () => {} });

/** The current language and its translator. */
export function useI18n(): { lang: Lang; t: T; setLang: (l: Lang) => void } {
  const { lang, setLang } = useContext(LangContext);
  return { lang, setLang, t: (id, vars) => translate(lang, id, vars) };
}

export function initialLang(): Lang {
  const saved = localStorage.getItem('anxin.lang');
  return saved === 'en' || saved === 'zh-CN' ? saved : 'zh-CN';
}

const SEVERITY_IDS = { critical: 'sevCritical', urgent: 'sevUrgent', warning: 'sevWarning', info: 'sevInfo' } as const;
const STATE_IDS = { open: 'stOpen', acknowledged: 'stAcknowledged', escalated: 'stEscalated', resolved: 'stResolved' } as const;
export const severityId = (s: keyof typeof SEVERITY_IDS): MessageId => SEVERITY_IDS[s];
export const stateId = (s: keyof typeof STATE_IDS): MessageId => STATE_IDS[s];

/** Outcomes of a resolved alert (server/alerts/lifecycle.ts OUTCOMES). */
export const OUTCOME_TEXT: Record<string, readonly [string, string]> = {
  handled: ['已处理', 'Handled'],
  false_alarm: ['误报', 'False alarm'],
  hospitalised: ['已送医', 'Hospitalised'],
  no_answer_visit: ['无人接听，已上门', 'No answer, visited'],
  referred_to_doctor: ['转家庭医生', 'Referred to doctor'],
  recovered: ['已恢复', 'Recovered'],
  deceased: ['死亡', 'Deceased'],
  other: ['其他', 'Other'],
};

/** Rule names (SPEC §4). */
export const RULE_TEXT: Record<string, readonly [string, string]> = {
  fall: ['跌倒', 'Fall'],
  sos: ['紧急呼叫', 'SOS'],
  bp_crisis: ['血压危象', 'BP crisis'],
  bp_severe: ['重度高血压', 'Severe hypertension'],
  bp_high: ['血压偏高', 'High blood pressure'],
  bp_low: ['低血压', 'Low blood pressure'],
  pulse_abnormal: ['脉搏异常', 'Abnormal pulse'],
  glucose_severe_low: ['严重低血糖', 'Severe hypoglycaemia'],
  glucose_low: ['低血糖', 'Hypoglycaemia'],
  glucose_high: ['高血糖', 'High glucose'],
  glucose_very_high: ['极高血糖', 'Very high glucose'],
  bp_trend: ['血压持续偏高', 'BP trend'],
  battery_low: ['电量低', 'Battery low'],
  device_offline: ['设备离线', 'Device offline'],
  gateway_offline: ['网关离线', 'Gateway offline'],
  reading_missed: ['漏测', 'Missed measurement'],
  no_activity: ['长时间无活动', 'No activity'],
};

/** Threshold names of the targets editor. */
export const THRESHOLD_TEXT: Record<string, readonly [string, string]> = {
  systolic: ['收缩压 mmHg', 'Systolic mmHg'],
  diastolic: ['舒张压 mmHg', 'Diastolic mmHg'],
  map: ['平均动脉压 mmHg', 'Mean arterial pressure mmHg'],
  value: ['血糖 mmol/L', 'Glucose mmol/L'],
  criticalLow: ['危急下限 次/分', 'Critical low /min'],
  criticalHigh: ['危急上限 次/分', 'Critical high /min'],
  urgentLow: ['紧急下限 次/分', 'Urgent low /min'],
  urgentHigh: ['紧急上限 次/分', 'Urgent high /min'],
  count: ['次数', 'Readings'],
  windowDays: ['天数', 'Days'],
  percent: ['电量 %', 'Battery %'],
};

export const DEVICE_TEXT: Record<string, readonly [string, string]> = {
  bp_cuff: ['血压计', 'BP cuff'],
  glucose_meter: ['血糖仪', 'Glucose meter'],
  fall_sensor: ['跌倒探测器', 'Fall sensor'],
  sos_button: ['紧急呼叫按钮', 'SOS pendant'],
  motion_sensor: ['人体感应器', 'Motion sensor'],
  gateway: ['网关', 'Gateway'],
};

export const RELATION_TEXT: Record<string, readonly [string, string]> = {
  son: ['儿子', 'son'], daughter: ['女儿', 'daughter'], wife: ['妻子', 'wife'], husband: ['丈夫', 'husband'],
  spouse: ['配偶', 'spouse'], grandson: ['孙子', 'grandson'], granddaughter: ['孙女', 'granddaughter'],
  neighbour: ['邻居', 'neighbour'], neighbor: ['邻居', 'neighbour'], caregiver: ['护工', 'caregiver'], friend: ['朋友', 'friend'],
  daughter_in_law: ['儿媳', 'daughter-in-law'], son_in_law: ['女婿', 'son-in-law'], brother: ['兄弟', 'brother'], sister: ['姐妹', 'sister'],
};

export const CONDITION_TEXT: Record<string, readonly [string, string]> = {
  hypertension: ['高血压', 'hypertension'], diabetes: ['糖尿病', 'diabetes'], type_2_diabetes: ['2型糖尿病', 'type 2 diabetes'],
  coronary_heart_disease: ['冠心病', 'coronary heart disease'], stroke: ['脑卒中', 'stroke'], copd: ['慢阻肺', 'COPD'],
  dementia: ['认知障碍', 'dementia'], atrial_fibrillation: ['房颤', 'atrial fibrillation'], heart_failure: ['心力衰竭', 'heart failure'],
  ckd: ['慢性肾病', 'chronic kidney disease'], hyperlipidemia: ['高脂血症', 'hyperlipidaemia'], parkinsons: ['帕金森病', "Parkinson's disease"],
  osteoporosis: ['骨质疏松', 'osteoporosis'],
};

/** A word from one of the tables above in the current language; unknown keys verbatim. */
export function word(table: Record<string, readonly [string, string]>, key: string, lang: Lang): string {
  const hit = table[key] ?? table[key.trim().toLowerCase().replace(/[\s'’-]+/g, '_')];
  return hit ? hit[lang === 'en' ? 1 : 0] : key;
}

/**
 * The hub's validation messages (server/rules/ruleConfig.ts `humanMessage`) are
 * English; the common ones are shown in Chinese on a Chinese screen.
 */
export function localizeProblem(message: string, lang: Lang): string {
  if (lang === 'en') return message;
  const rules: Array<[RegExp, (m: RegExpMatchArray) => string]> = [
    [/^must be greater than (.+)$/, (m) => `必须大于 ${m[1]}`],
    [/^must be at least (.+)$/, (m) => `不能小于 ${m[1]}`],
    [/^must be a whole number$/, () => '必须是整数'],
    [/^must be a number$/, () => '必须是数字'],
    [/^must be one of (.+)$/, (m) => `必须是以下之一：${m[1]}`],
    [/^is not a known (rule|setting)$/, () => '不是已知的规则或设置'],
    [/^is not a threshold of (\S+)/, (m) => `不是 ${m[1]} 的阈值`],
    // The import's problems (server/import/importChecks.ts, devices/schemaValidator.ts).
    [/^must be <= (.+)$/, (m) => `不能大于 ${m[1]}`],
    [/^must be >= (.+)$/, (m) => `不能小于 ${m[1]}`],
    [/^must be < (.+)$/, (m) => `必须小于 ${m[1]}`],
    [/^must be > (.+)$/, (m) => `必须大于 ${m[1]}`],
    [/^is required$/, () => '必填'],
    [/^is not a known field$/, () => '不是可识别的字段'],
    [/^must not be blank$/, () => '不能为空'],
    [/^must be (string|integer|number|array|object|boolean)$/, (m) => `类型应为 ${m[1]}`],
    [/^must NOT have (fewer|more) than (\d+) (characters|items)$/, (m) => `${m[3] === 'items' ? '项数' : '长度'}不能${m[1] === 'fewer' ? '少' : '多'}于 ${m[2]}`],
    [/^has a value that is not allowed$/, () => '取值不被允许'],
    [/^duplicates (\S+)$/, (m) => `与 ${m[1]} 重复`],
    [/^no user (\S+) in this document or the directory$/, (m) => `本文件和系统中都没有用户 ${m[1]}`],
    [/^user (\S+) has role (\S+), not doctor$/, (m) => `用户 ${m[1]} 的角色是 ${m[2]}，不是医生`],
    [/^no resident (\S+) in this document or the directory$/, (m) => `本文件和系统中都没有老人 ${m[1]}`],
  ];
  for (const [re, fn] of rules) {
    const m = message.match(re);
    if (m) return fn(m);
  }
  return message;
}

/**
 * What an error of the hub means to the person at the screen, and what to do
 * next, by the stable code of its answer (server/api/errors.ts, the alert
 * lifecycle's `illegal_transition`, `note_required`, `no_doctor`, …). The hub's
 * own `message` is an English sentence for developers; it is never shown on a
 * Chinese screen, and on an English one only for a code this table lacks.
 */
const ERROR_TEXT: Record<string, readonly [string, string]> = {
  network: ['无法连接到中心服务器：请检查网络，连接恢复后会自动重新加载', 'Cannot reach the hub: check the network; this reloads by itself when the connection is back'],
  illegal_transition: ['该告警已被他人处理（状态已变化）：请查看最新状态后再操作', 'Someone else has already acted on this alert: check its current state before acting'],
  no_doctor: ['该老人未登记家庭医生，不能转医生：情况紧急请呼叫 120，并请管理员登记家庭医生', 'No family doctor is recorded for this resident: if urgent call 120, and ask an administrator to record a doctor'],
  doctor_disabled: ['该老人的家庭医生账号已停用，无法转给他：请电话联系该医生或其他医生，情况紧急请呼叫 120，并请管理员更换家庭医生', "This resident's family doctor's account is disabled, so it cannot go to them: phone them or another doctor, call 120 if urgent, and ask an administrator to assign another doctor"],
  note_required: ['结束未认领的告警需要写明原因：请填写备注后再结束', 'Resolving an alert nobody claimed needs a note: write why, then resolve'],
  forbidden: ['您的账号无权进行此操作：请联系值班组长或管理员', 'Your account may not do this: ask the shift lead or an administrator'],
  not_found: ['找不到该记录（可能已被删除或不在您的范围内）：请刷新页面', 'Not found (removed, or not yours to see): reload the page'],
  rate_limited: ['操作过于频繁：请稍等一分钟再试', 'Too many requests: wait a minute and try again'],
  invalid_request: ['提交的内容无效：请检查后重试', 'The request was not valid: check what you entered and try again'],
  invalid_json: ['提交的内容不是有效的 JSON：请检查文件后重试', 'What was sent is not valid JSON: check the file and try again'],
  payload_too_large: ['文件过大，中心拒收：请拆分为几个较小的文件分别导入', 'The file is too large for the hub: split it into smaller files and import each'],
  unsupported_media_type: ['中心不接受此类内容：请提交 JSON', 'The hub does not accept this kind of content: send JSON'],
  invalid_document: ['导入文件有误，未写入任何内容：请按提示修改后重新导入', 'The import file has errors and nothing was written: fix them and import again'],
  invalid_targets: ['目标值有误，请检查标红的项', 'Some targets are invalid; see the fields in red'],
  nothing_to_move: ['该医生已没有患者或待办可转移：请刷新列表', 'This doctor has no patients or open items left to move: refresh the list'],
  invalid_credentials: ['用户名或密码错误', 'Wrong username or password'],
  unauthenticated: ['登录已失效：请重新登录', 'Your session has ended: sign in again'],
  internal: ['中心服务器出错（已记录）：请稍后重试，紧急情况请直接电话处理', 'The hub failed (it has been logged): try again shortly; in an emergency act by phone'],
};

/** An error thrown by the api client (or by fetch itself) as text for `lang`, with the next step. */
export function errorText(e: unknown, lang: Lang): string {
  const en = lang === 'en' ? 1 : 0;
  if (!(e instanceof ApiError)) {
    // fetch rejects with a TypeError ("Failed to fetch", "NetworkError …") when the hub cannot be reached.
    return ERROR_TEXT.network![en];
  }
  const known = ERROR_TEXT[e.code];
  if (known) return known[en];
  if (en) return e.message;
  return e.status >= 500 ? ERROR_TEXT.internal![0] : `操作未完成（${e.code}）：请稍后重试`;
}
