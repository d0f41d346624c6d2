// The demo's memory channel: each delivery rendered as the Teams card, the Slack message and the e-mail
// would look. Rendered from the channel payloads as text; only same-origin links become links.
import { useState } from 'react';
import { get } from '../api.ts';
import { safeHref, T, when } from '../text.tsx';
import { Card, Empty, ErrorState, Loading, useLive, useLoad } from '../ui.tsx';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** Channel markup (Adaptive Card / Slack mrkdwn escapes) shown as plain text. */
const plain = (v: unknown) => String(v ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\\([!-/:-@[-`{-~])/g, '$1');

function Action({ title, url }: { title: unknown; url: unknown }) {
  const href = safeHref(url);
  return href ? (
    <a className="btn btn-plain" href={href}>
      <T v={title} max={40} />
    </a>
  ) : (
    <span className="btn btn-plain fake-button" title="opens outside the console">
      <T v={title} max={40} />
    </span>
  );
}

function Teams({ card }: { card: unknown }) {
  const content = obj(obj(arr(obj(card).attachments)[0]).content);
  return (
    <div className="mock teams" aria-label="Microsoft Teams card">
      {arr(content.body).map((b, i) => {
        const x = obj(b);
        if (x.type === 'TextBlock') return <p key={i} className={x.weight === 'Bolder' ? 'strong' : undefined}><T v={plain(x.text)} max={1000} /></p>;
        if (x.type === 'FactSet')
          return (
            <dl key={i} className="facts">
              {arr(x.facts).map((f, j) => (
                <div key={j} className="fact">
                  <dt><T v={plain(obj(f).title)} max={40} /></dt>
                  <dd><T v={plain(obj(f).value)} max={300} /></dd>
                </div>
              ))}
            </dl>
          );
        return null;
      })}
      <div className="actions">
        {arr(content.actions).map((a, i) => (
          <Action key={i} title={obj(a).title} url={obj(a).url} />
        ))}
      </div>
    </div>
  );
}

function Slack({ message }: { message: unknown }) {
  const m = obj(message);
  return (
    <div className="mock slack" aria-label="Slack message">
      {arr(m.blocks).map((b, i) => {
        const x = obj(b);
        if (x.type === 'header' || x.type === 'section' || x.type === 'context') {
          const texts = [obj(x.text).text, ...arr(x.fields).map((f) => obj(f).text), ...arr(x.elements).map((e) => obj(e).text)].filter((t) => t !== undefined);
          return (
            <div key={i} className={x.type === 'header' ? 'strong' : undefined}>
              {texts.map((t, j) => (
                <p key={j}><T v={plain(t)} max={1000} /></p>
              ))}
            </div>
          );
        }
        if (x.type === 'actions')
          return (
            <div key={i} className="actions">
              {arr(x.elements).map((e, j) => (
                <Action key={j} title={obj(obj(e).text).text} url={obj(e).url} />
              ))}
            </div>
          );
        return null;
      })}
      {!arr(m.blocks).length && m.text ? <p><T v={plain(m.text)} max={1000} /></p> : null}
    </div>
  );
}

function Email({ email }: { email: unknown }) {
  const e = obj(email);
  return (
    <div className="mock email" aria-label="E-mail">
      <div className="strong">
        Subject: <T v={e.subject} max={300} />
      </div>
      <pre className="mail-body"><T v={e.text} max={5000} /></pre>
    </div>
  );
}

export function NotificationsPage() {
  const list = useLoad(() => get<{ items: Obj[]; available: boolean }>('/api/notifications'), []);
  useLive(['notifications', 'alerts'], () => list.reload());
  const [medium, setMedium] = useState<'teams' | 'slack' | 'email'>('teams');
  return (
    <>
      <div className="page-head">
        <h1>Notifications</h1>
        <div role="radiogroup" aria-label="Show as" className="segmented">
          {(['teams', 'slack', 'email'] as const).map((m) => (
            <button key={m} type="button" role="radio" aria-checked={medium === m} className={medium === m ? 'seg active' : 'seg'} onClick={() => setMedium(m)}>
              {{ teams: 'Teams card', slack: 'Slack message', email: 'E-mail' }[m]}
            </button>
          ))}
        </div>
      </div>
      {list.error ? (
        <ErrorState error={list.error} retry={list.reload} />
      ) : !list.data ? (
        <Loading what="notifications" />
      ) : !list.data.available ? (
        <Empty>This view shows the built-in memory channel, which runs in `tenantwatch demo`. Real channels deliver to Teams, Slack, e-mail or webhooks.</Empty>
      ) : list.data.items.length === 0 ? (
        <Empty>No notifications yet. They appear here when an alert is routed to the memory channel.</Empty>
      ) : (
        <div data-testid="notifications">
          {list.data.items.map((n, i) => (
            <Card key={String(n.key ?? i)} title={<>{when(n.at)} · <T v={n.channel} max={40} /></>}>
              {medium === 'teams' ? <Teams card={n.teams} /> : medium === 'slack' ? <Slack message={n.slack} /> : <Email email={n.email} />}
            </Card>
          ))}
        </div>
      )}
    </>
  );
}
