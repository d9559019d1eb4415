import { useState } from 'preact/hooks';
import { appBase, parseJson, request, stringifyJson } from '../api';
import { useModel } from '../model';
import { ErrorBox, Field, PageHead, useAction } from '../ui';

interface ImportResult {
  message: string;
  summary: Record<string, unknown>;
  /** spec/export-import.md: strings such as "Entity <name>: <reason>"; objects are shown key by key. */
  errors?: (string | { section?: string; item?: string; message?: string; [k: string]: unknown })[];
}

/** The app's API reference link, schema export and import. */
export function ApiPage() {
  const m = useModel();
  const base = appBase(m.app);
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<ImportResult | null>(null);

  const exporter = useAction(async () => {
    // lossless: a number a double cannot hold stays a JSON number with its digits, not a digit string
    const doc = (await request<{ data: unknown }>('GET', `${base}/_admin/export`, { lossless: true })).data;
    const blob = new Blob([stringifyJson(doc, 2)], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${m.app}-export.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    return true;
  });
  const importer = useAction(async () => {
    if (!file) return;
    let doc: unknown;
    try {
      doc = parseJson(await file.text(), true);
    } catch (e) {
      throw new Error(`${file.name} is not JSON: ${(e as Error).message}`);
    }
    const r = await request<{ data: ImportResult }>('POST', `${base}/_admin/import`, { body: doc });
    setResult(r.data);
    m.reload();
    return true;
  });

  return (
    <>
      <PageHead title="API" sub={`REST routes of this app live under /api/${m.app}/`} />
      <section class="card" aria-labelledby="ref-h">
        <h2 id="ref-h">Reference</h2>
        <p>
          The interactive reference is generated from the app's live metadata and shows what your roles may use:{' '}
          {/* Same tab on purpose: the page reuses this tab's session (sessionStorage is per tab). */}
          <a href={`${base}/_docs`}>open /api/{m.app}/_docs</a>. The OpenAPI document itself is at <code>/api/{m.app}/_openapi</code> (typed clients:{' '}
          <code>npx openapi-typescript</code>, see the README).
        </p>
      </section>
      <section class="card" aria-labelledby="export-h">
        <h2 id="export-h">Export</h2>
        <p class="muted">Entities, relations, rules, state machines, workflows, permissions, webhooks and UI configs as one JSON document.</p>
        <button type="button" onClick={() => void exporter.run()} disabled={exporter.busy}>
          {exporter.slow ? 'Exporting…' : 'Download export'}
        </button>
        <ErrorBox error={exporter.error} />
      </section>
      <section class="card" aria-labelledby="import-h">
        <h2 id="import-h">Import</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setResult(null);
            void importer.run();
          }}
        >
          <Field label="Export document (JSON)" hint="Existing items are skipped; problems are listed per item.">
            {(a) => <input {...a} type="file" accept="application/json,.json" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />}
          </Field>
          <button type="submit" class="primary" disabled={!file || importer.busy}>
            {importer.slow ? 'Importing…' : 'Import'}
          </button>
        </form>
        <ErrorBox error={importer.error} />
        {result && (
          <div class="import-result" role="status">
            <p>
              <strong>{result.message}</strong>
            </p>
            <div class="scroll-x">
              <table class="table compact" aria-label="Import summary">
                <tbody>
                  {Object.entries(result.summary).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{k}</th>
                      <td>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {result.errors && result.errors.length > 0 && (
              <>
                <h3>Problems ({result.errors.length})</h3>
                <ul class="problems">
                  {result.errors.map((e, i) =>
                    e === null || typeof e !== 'object' ? (
                      <li key={i}>{String(e)}</li>
                    ) : (
                      <li key={i}>
                        {Object.entries(e)
                          .filter(([k]) => k !== 'message')
                          .map(([k, v]) => (
                            <code key={k}>
                              {k}: {typeof v === 'object' ? JSON.stringify(v) : String(v)}
                            </code>
                          ))}{' '}
                        {e.message}
                      </li>
                    ),
                  )}
                </ul>
              </>
            )}
          </div>
        )}
      </section>
    </>
  );
}
