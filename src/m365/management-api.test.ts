import { describe, expect, it } from 'vitest';
import { afMeaning, apiTime, isThrottle, isTrustedUri, parseApiError, windowProblem, withPublisher } from './management-api.ts';

const now = new Date('2026-03-10T12:00:00.000Z');
const h = 3600_000;

describe('management API windows', () => {
  it('formats times as YYYY-MM-DDTHH:MM:SS', () => {
    expect(apiTime(new Date('2026-03-04T10:15:00.123Z'))).toBe('2026-03-04T10:15:00');
  });

  it('accepts a window of exactly 24 hours that starts within 7 days', () => {
    expect(windowProblem(new Date(now.getTime() - 25 * h), new Date(now.getTime() - h), now)).toBeUndefined();
  });

  it('rejects windows longer than 24 hours, starting after their end, or older than 7 days', () => {
    expect(windowProblem(new Date(now.getTime() - 25 * h), now, now)).toMatch(/24 hours/);
    expect(windowProblem(now, now, now)).toMatch(/AF20055/);
    expect(windowProblem(new Date(now.getTime() - 7 * 24 * h - 1000), new Date(now.getTime() - 7 * 24 * h + h), now)).toMatch(/7 days/);
  });
});

describe('management API errors', () => {
  it('recognises AF429 as throttling whether it arrives as 403 or 429', () => {
    const body = JSON.stringify({ error: { code: 'AF429', message: 'Too many requests. Method=GetBlob, PublisherId=x' } });
    expect(isThrottle(403, body)).toBe(true);
    expect(isThrottle(429, '')).toBe(true);
    expect(isThrottle(403, JSON.stringify({ error: { code: 'AF10001', message: 'no permission' } }))).toBe(false);
  });

  it('reads the AF code and maps it to what the poller does', () => {
    expect(parseApiError('{"error":{"code":"AF20051","message":"expired"}}')).toEqual({ code: 'AF20051', message: 'expired' });
    expect(parseApiError('not json')).toEqual({});
    expect(afMeaning('AF20051')).toEqual({ retryable: false, kind: 'expired' });
    expect(afMeaning('AF50000').retryable).toBe(true);
    expect(afMeaning('AF20022').kind).toBe('subscription');
  });
});

describe('management API addresses', () => {
  const base = 'https://manage.office.com';
  const tenant = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';

  it('adds PublisherIdentifier to every address unless it is already there', () => {
    expect(withPublisher(`${base}/api/v1.0/${tenant}/activity/feed/audit/abc`, 'pub')).toBe(`${base}/api/v1.0/${tenant}/activity/feed/audit/abc?PublisherIdentifier=pub`);
    expect(withPublisher(`${base}/x?nextPage=2`, 'pub')).toBe(`${base}/x?nextPage=2&PublisherIdentifier=pub`);
    expect(withPublisher(`${base}/x?publisheridentifier=pub`, 'pub')).toBe(`${base}/x?publisheridentifier=pub`);
  });

  it('trusts only addresses on the management origin for the same tenant', () => {
    expect(isTrustedUri(`${base}/api/v1.0/${tenant}/activity/feed/audit/abc`, base, tenant)).toBe(true);
    expect(isTrustedUri(`https://evil.example/api/v1.0/${tenant}/activity/feed/audit/abc`, base, tenant)).toBe(false);
    expect(isTrustedUri(`${base}/api/v1.0/9a9a9a9a-0000-4000-8000-000000000001/activity/feed/audit/abc`, base, tenant)).toBe(false);
    expect(isTrustedUri('not a url', base, tenant)).toBe(false);
  });
});
