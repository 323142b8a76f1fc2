import type { BrowserAudit, BrowserRun, BrowserScores, BrowserVitals } from '@crucible/contracts';

// Reading a Lighthouse result (LHR): pure functions, no browser. An LHR is Lighthouse's own JSON
// and read defensively — an audit that errored has no numericValue, a category not asked for is absent.

/** The part of an LHR these functions read. */
export interface Lhr {
  lighthouseVersion: string;
  finalDisplayedUrl?: string;
  userAgent?: string;
  environment?: { networkUserAgent?: string };
  runtimeError?: { code: string; message: string };
  audits: Record<string, LhrAudit>;
  categories: Record<string, { score: number | null; auditRefs: { id: string; weight: number }[] }>;
}

export interface LhrAudit {
  id: string;
  title: string;
  description: string;
  score: number | null;
  scoreDisplayMode: string;
  numericValue?: number;
  displayValue?: string;
  metricSavings?: Record<string, number | undefined>;
  details?: {
    type: string;
    items?: unknown[];
    data?: string;
    overallSavingsMs?: number;
  };
}

/** Below this, Lighthouse itself shows an audit as not passed (orange or red). */
const PASS_SCORE = 0.9;
/** Rows of an audit's table kept in the result. */
const TOP_ITEMS = 5;
const VITAL_AUDITS: Record<keyof BrowserVitals, string> = {
  lcp: 'largest-contentful-paint',
  fcp: 'first-contentful-paint',
  cls: 'cumulative-layout-shift',
  tbt: 'total-blocking-time',
  ttfb: 'server-response-time',
  speedIndex: 'speed-index',
};
const SCORE_CATEGORIES: Record<keyof BrowserScores, string> = {
  performance: 'performance',
  accessibility: 'accessibility',
  bestPractices: 'best-practices',
  seo: 'seo',
};

const finite = (n: unknown): number | null => (typeof n === 'number' && Number.isFinite(n) ? n : null);
const round = (n: number | null, digits: number): number | null =>
  n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits;

export function vitalsOf(lhr: Lhr): BrowserVitals {
  const value = (key: keyof BrowserVitals) => finite(lhr.audits[VITAL_AUDITS[key]]?.numericValue);
  return {
    lcp: round(value('lcp'), 1),
    fcp: round(value('fcp'), 1),
    cls: round(value('cls'), 4),
    tbt: round(value('tbt'), 1),
    ttfb: round(value('ttfb'), 1),
    speedIndex: round(value('speedIndex'), 1),
  };
}

export function scoresOf(lhr: Lhr): BrowserScores {
  const score = (key: keyof BrowserScores) => {
    const s = finite(lhr.categories[SCORE_CATEGORIES[key]]?.score);
    return s === null ? null : Math.round(s * 100);
  };
  return {
    performance: score('performance'),
    accessibility: score('accessibility'),
    bestPractices: score('bestPractices'),
    seo: score('seo'),
  };
}

export function runOf(run: number, lhr: Lhr): BrowserRun {
  return {
    run,
    vitals: vitalsOf(lhr),
    scores: scoresOf(lhr),
    error: lhr.runtimeError ? `${lhr.runtimeError.code}: ${lhr.runtimeError.message}` : null,
  };
}

/** What fixing an audit would save in load time (ms), as Lighthouse estimates it. */
function savingsOf(audit: LhrAudit): number | null {
  const fromDetails = finite(audit.details?.overallSavingsMs);
  if (fromDetails !== null) return fromDetails;
  const lcp = finite(audit.metricSavings?.LCP);
  const fcp = finite(audit.metricSavings?.FCP);
  return lcp === null && fcp === null ? null : Math.max(lcp ?? 0, fcp ?? 0);
}

/** Every item row shallow-copied, with nested objects (nodes, sub-items) kept as Lighthouse gave them. */
function topItems(audit: LhrAudit): Record<string, unknown>[] {
  const items = audit.details?.items;
  if (!Array.isArray(items) || audit.details?.type === 'filmstrip') return [];
  return items
    .slice(0, TOP_ITEMS)
    .filter((i): i is Record<string, unknown> => i !== null && typeof i === 'object' && !Array.isArray(i));
}

/**
 * Audits of the categories that ran which scored below 0.9, by impact: the lowest score first,
 * then the largest saving, then the heaviest weight in its category.
 */
export function failingAudits(lhr: Lhr): BrowserAudit[] {
  const weights = new Map<string, number>();
  for (const category of Object.values(lhr.categories)) {
    for (const ref of category.auditRefs) weights.set(ref.id, Math.max(weights.get(ref.id) ?? 0, ref.weight));
  }
  return [...weights.keys()]
    .map((id) => lhr.audits[id])
    .filter(
      (a): a is LhrAudit =>
        a !== undefined &&
        (a.scoreDisplayMode === 'binary' ||
          a.scoreDisplayMode === 'numeric' ||
          a.scoreDisplayMode === 'metricSavings') &&
        typeof a.score === 'number' &&
        a.score < PASS_SCORE,
    )
    .map((a) => ({
      id: a.id,
      title: a.title,
      description: a.description,
      score: a.score!,
      displayValue: a.displayValue ?? null,
      savingsMs: round(savingsOf(a), 0),
      items: topItems(a),
      weight: weights.get(a.id) ?? 0,
    }))
    .sort((a, b) => a.score - b.score || (b.savingsMs ?? 0) - (a.savingsMs ?? 0) || b.weight - a.weight)
    .map(({ weight: _weight, ...audit }) => audit);
}

/** A `data:` URL's bytes and content type (Lighthouse's screenshots are base64 JPEG). */
export function dataUrlBytes(dataUrl: unknown): { contentType: string; data: Buffer } | null {
  if (typeof dataUrl !== 'string') return null;
  const match = /^data:([a-z0-9.+/-]+);base64,(.*)$/i.exec(dataUrl);
  return match ? { contentType: match[1]!, data: Buffer.from(match[2]!, 'base64') } : null;
}

/** The final screenshot of a run, when Lighthouse took one. */
export function finalScreenshot(lhr: Lhr): { contentType: string; data: Buffer } | null {
  return dataUrlBytes(lhr.audits['final-screenshot']?.details?.data);
}

/** The filmstrip's frames, in time order, with their time since navigation started. */
export function filmstrip(lhr: Lhr): { timingMs: number; contentType: string; data: Buffer }[] {
  const items = lhr.audits['screenshot-thumbnails']?.details?.items ?? [];
  return items.flatMap((item) => {
    const frame = item as { timing?: unknown; data?: unknown };
    const image = dataUrlBytes(frame.data);
    const timing = finite(frame.timing);
    return image && timing !== null ? [{ timingMs: Math.round(timing), ...image }] : [];
  });
}
