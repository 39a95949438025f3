/**
 * Bulk import (POST /api/v1/import): a JSON file, all or nothing. A refused
 * document lists every problem by its JSON path; an accepted one shows the
 * new secrets and first passwords once, with copy buttons.
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../lib/api';
import { copyText } from '../../lib/clipboard';
import { errorText, localizeProblem, useI18n } from '../../lib/i18n';
import type { ImportResult } from '../../lib/types';

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

export function ImportPanel(props: { onImported: () => void }) {
  const { t, lang } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ImportResult | null>(null);
  const [problems, setProblems] = useState<Array<{ path: string; message: string }> | null>(null);
  const [error, setError] = useState<string | null>(null);

  const run = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setResult(null);
    setProblems(null);
    setError(null);
    try {
      let doc: unknown;
      try {
        doc = JSON.parse(await file.text());
      } catch (err) {
        setError(t('notJson', { m: (err as Error).message }));
        return;
      }
      const r = await api.importDocument(doc);
      setResult(r);
      props.onImported();
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) setProblems(err.errors);
      else setError(errorText(err, lang));
    } finally {
      setBusy(false);
    }
  };

  const secrets = result ? [...result.credentials.map((c) => ({ id: c.username, kind: c.kind, secret: c.password })), ...result.users.map((u) => ({ id: u.username, kind: 'user', secret: u.password }))] : [];
  return (
    <section class="panel" aria-labelledby="import-title" data-testid="import-panel">
      <h2 id="import-title">{t('importTitle')}</h2>
      <p class="muted">{t('importHelp')}</p>
      <form class="row" onSubmit={run}>
        {/* The native picker's button is in the browser's UI language; this label is in the page's. */}
        <label class="btn file-pick" for="import-file">
          {t('chooseFile')}
          <input id="import-file" class="sr-only" type="file" accept="application/json,.json" data-testid="import-file" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        </label>
        <span class={file ? 'file-name' : 'file-name muted'}>{file?.name ?? t('noFile')}</span>
        <button type="submit" class="btn btn-primary" disabled={!file || busy} data-testid="import-run">{t('importRun')}</button>
      </form>
      {error && <p class="form-error" role="alert">{error}</p>}
      {problems && (
        <div class="problems" role="alert" data-testid="import-errors">
          <p class="form-error">{t('importFailed')}</p>
          <ul>
            {problems.map((p, i) => <li key={i}><code class="path">{p.path}</code> {localizeProblem(p.message, lang)}</li>)}
          </ul>
        </div>
      )}
      {result && (
        <div data-testid="import-result">
          <p class="form-ok" role="status">{t('importOk', { c: sum(result.created), u: sum(result.updated), n: sum(result.unchanged) })}</p>
          {secrets.length > 0 && (
            <>
              <p class="tag tag-warning">{t('secretsOnce')}</p>
              <table class="table">
                <tbody>
                  {secrets.map((s) => (
                    <tr key={s.id}>
                      <td class="mono">{s.id}</td>
                      <td>{s.kind}</td>
                      <td><code class="secret">{s.secret}</code></td>
                      <td><CopyButton text={s.secret} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </div>
      )}
    </section>
  );
}

export function CopyButton(props: { text: string; testId?: string }) {
  const { t } = useI18n();
  const [done, setDone] = useState(false);
  return (
    <button type="button" class="btn btn-small" data-testid={props.testId} onClick={() => { void copyText(props.text).then(() => setDone(true)); }}>
      {done ? t('copied') : t('copy')}
    </button>
  );
}
