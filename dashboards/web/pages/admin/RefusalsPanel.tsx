/** Refused payloads (GET /api/v1/refusals), newest first, filterable by code, paged by seq. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../lib/api';
import { clockSeconds } from '../../lib/format';
import { useI18n } from '../../lib/i18n';
import type { Refusal } from '../../lib/types';

const PAGE = 50;

export function RefusalsPanel(props: { refreshKey: number }) {
  const { t } = useI18n();
  const [code, setCode] = useState('');
  const [rows, setRows] = useState<Refusal[]>([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);

  const load = async (append: boolean) => {
    try {
      const before = append ? rows[rows.length - 1]?.seq : undefined;
      const page = await api.refusals({ limit: PAGE, code: code.trim() || undefined, before });
      setRows(append ? [...rows, ...page] : page);
      setMore(page.length === PAGE);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  useEffect(() => {
    void load(false);
  }, [code, props.refreshKey]);

  return (
    <section class="panel" aria-labelledby="refusals-title" data-testid="refusals-panel">
      <div class="panel-head">
        <h2 id="refusals-title">{t('refusals')}</h2>
        <label for="refusal-code" class="sr-only">{t('filterCode')}</label>
        <input id="refusal-code" class="input-small" placeholder={t('filterCode')} value={code} onChange={(e) => setCode(e.currentTarget.value)} />
        <button type="button" class="btn btn-small" onClick={() => void load(false)}>{t('refresh')}</button>
      </div>
      {error && <p class="form-error" role="alert">{error}</p>}
      {rows.length === 0 && !error ? <p class="muted">{t('refusalsEmpty')}</p> : (
        <table class="table refusals" data-testid="refusals">
          <thead>
            <tr><th>{t('time')}</th><th>{t('client')}</th><th>{t('code')} / {t('field')}</th><th>{t('detail')}</th><th>{t('payload')}</th></tr>
          </thead>
          <tbody>
            {rows.flatMap((r) => [
              <tr key={r.seq} data-code={r.code}>
                <td class="mono nowrap">{clockSeconds(r.at)}</td>
                <td class="mono nowrap" title={`${t('topic')}: ${r.topic}`}>{r.clientId ?? '—'}</td>
                <td><code>{r.code}</code>{r.field && <div class="muted">{r.field}</div>}</td>
                <td>{r.detail}</td>
                <td>
                  {r.payload && (
                    <button type="button" class="btn btn-small" aria-expanded={open === r.seq} onClick={() => setOpen(open === r.seq ? null : r.seq)}>{t('show')}</button>
                  )}
                </td>
              </tr>,
              open === r.seq && r.payload ? <tr key={`${r.seq}-payload`}><td colSpan={5}><pre class="payload">{r.payload}</pre></td></tr> : null,
            ])}
          </tbody>
        </table>
      )}
      {more && <button type="button" class="btn" onClick={() => void load(true)}>{t('loadMore')}</button>}
    </section>
  );
}
