// One small POST for the HTTP channels: the answer decides "retry?" (429, 408 and 5xx: yes; other 4xx: no;
// network errors and timeouts: yes). The URL never appears in the error (webhook URLs are credentials).
import { request } from 'undici';
import type { SendResult } from './types.ts';

export interface PostOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  signal: AbortSignal;
  timeoutMs: number;
}

export async function postJson(o: PostOptions): Promise<SendResult> {
  try {
    const res = await request(o.url, {
      method: 'POST',
      body: o.body,
      headers: { 'content-type': 'application/json; charset=utf-8', ...o.headers },
      signal: o.signal,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
    });
    // Read a bounded prefix of the answer for the error text, then drop the rest.
    let text = '';
    for await (const chunk of res.body) {
      if (text.length < 300) text += (chunk as Buffer).toString('utf8');
    }
    const s = res.statusCode;
    if (s >= 200 && s < 300) return { ok: true, detail: `HTTP ${s}` };
    const retry = s === 408 || s === 429 || s >= 500;
    return { ok: false, retry, error: `HTTP ${s}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}` };
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    if (o.signal.aborted || err.name === 'AbortError') return { ok: false, retry: true, error: `timed out after ${o.timeoutMs} ms` };
    return { ok: false, retry: true, error: `unreachable: ${err.code ?? err.name ?? 'error'}` };
  }
}
